/**
 * The props CircuitsVis's attention components take (`attention_patterns`,
 * `attention_heads`): tokens and attention [heads, destination, source], here
 * every head of every layer in layer order, named "L0H1 name" in
 * `attentionHeadNames`. In Python:
 *   cv.attention.attention_patterns(tokens=p["tokens"], attention=np.array(p["attention"]),
 *                                   attention_head_names=p["attentionHeadNames"])
 */
import { headId } from "../analysis/named.ts";
import type { ActivationCache } from "../sim/forward.ts";

/** The props object. */
export interface CircuitsVisProps {
  readonly tokens: readonly string[];
  /** [heads, dest, src], each row a probability distribution over sources ≤ dest. */
  readonly attention: readonly (readonly (readonly number[])[])[];
  readonly attentionHeadNames: readonly string[];
}

/** Props from a forward pass's cache; weights rounded to 6 decimals (the JSON would otherwise carry 17 digits each). */
export function circuitsVisProps(tokens: readonly string[], cache: ActivationCache, layers: number, heads: number, names: ReadonlyMap<string, string>): CircuitsVisProps {
  const T = tokens.length;
  const attention: number[][][] = [];
  const headNames: string[] = [];
  for (let l = 0; l < layers; l++) {
    const p = cache.get(`blocks.${l}.attn.hook_pattern`)!.data;
    for (let h = 0; h < heads; h++) {
      const id = headId({ block: l, head: h });
      const name = names.get(id);
      headNames.push(name && name !== id ? `${id} ${name}` : id);
      attention.push(Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => Math.round(p[(h * T + i) * T + j]! * 1e6) / 1e6)));
    }
  }
  return { tokens, attention, attentionHeadNames: headNames };
}
