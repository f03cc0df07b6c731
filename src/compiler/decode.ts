/**
 * Residual stream → symbolic values: the inverse of the layout. A
 * categorical block decodes to the value whose direction holds more than
 * half of a unit (⊥ when none does — leakage is bounded by the scales far
 * below ½); a distribution block decodes to its coordinates.
 */
import type { Feature, Program } from "../lang/program.ts";
import type { Dist, Value } from "../semantics/values.ts";
import { blockOf, type Layout } from "./layout.ts";

/** A decoded feature: ⊥, a domain index, or approximate probabilities. */
export type Decoded = null | number | ReadonlyMap<number, number>;

/** Decode one feature's block from a residual vector of length d_model. */
export function decodeFeature(layout: Layout, feature: Feature, resid: ArrayLike<number>, tolerance: number): Decoded {
  const b = blockOf(layout, feature.name);
  if (feature.distribution) {
    const m = new Map<number, number>();
    for (let v = 0; v < b.size; v++) {
      const x = resid[b.offset + v]!;
      if (x > tolerance) m.set(v, x);
    }
    return m.size ? m : null;
  }
  let best = -1;
  let bestX = 0.5;
  for (let v = 0; v < b.size; v++) {
    const x = resid[b.offset + v]!;
    if (x > bestX) {
      best = v;
      bestX = x;
    }
  }
  return best < 0 ? null : best;
}

/** Whether a decoded value stands for the symbolic one (distributions within `tolerance`). */
export function decodedAgrees(symbolic: Value, decoded: Decoded, tolerance: number): boolean {
  if (symbolic === null || typeof symbolic === "number") {
    if (decoded !== null && typeof decoded === "object") return false;
    return symbolic === decoded;
  }
  const dist = symbolic as Dist;
  const got = decoded === null ? new Map<number, number>() : decoded;
  if (typeof got === "number") return false;
  for (const [k, p] of dist) if (Math.abs((got.get(k) ?? 0) - p.valueOf()) > tolerance) return false;
  for (const [k, x] of got) if (!dist.has(k) && x > tolerance) return false;
  return true;
}

/** The block (0-based `blocks.N`) after which a feature is in the residual stream; -1 for embeddings. */
export function writtenAfterBlock(feature: Feature): number {
  return feature.layer - 1;
}

/** Features a program writes, layer by layer (built-ins excluded). */
export function writtenFeatures(program: Program): Feature[] {
  return [...program.features.values()].filter((f) => f.layer > 0);
}
