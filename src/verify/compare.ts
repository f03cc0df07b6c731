/**
 * Compiled model vs reference semantics at one position: decode every feature
 * block of the residual stream and the logits, and name the first feature
 * that differs. Features are write-once blocks, so the final residual holds
 * each layer's output unchanged; the disagreement reports the writing layer.
 */
import type { CompiledModel } from "../compiler/compile.ts";
import { type Decoded, decodedAgrees, decodeFeature, writtenFeatures } from "../compiler/decode.ts";
import type { SymbolicRun } from "../semantics/interpret.ts";
import { type Value, isDist } from "../semantics/values.ts";

export interface Disagreement {
  /** The input as vocabulary indices (BOS not included). */
  readonly tokens: readonly number[];
  /** 1-based input position (position 0 is BOS). */
  readonly position: number;
  readonly layer: number;
  /** A feature name, or "logits" for the unembedded prediction. */
  readonly feature: string;
  readonly symbolic: Value;
  readonly decoded: Decoded;
}

/** Compare one position; null when every feature and the logits agree. */
export function comparePosition(
  model: CompiledModel,
  sym: SymbolicRun,
  position: number,
  finalResid: ArrayLike<number>,
  logits: ArrayLike<number>,
): Omit<Disagreement, "tokens"> | null {
  const { program, layout, scales } = model;
  for (const f of writtenFeatures(program)) {
    const want = sym.value(f.name, position);
    const got = decodeFeature(layout, f, finalResid, scales.distTolerance);
    if (!decodedAgrees(want, got, scales.distTolerance)) {
      return { position, layer: f.layer, feature: f.name, symbolic: want, decoded: got };
    }
  }
  // Logits over real tokens (id v + 1): ⊥ must be flat, a token must win,
  // a distribution must show as κ·p (within the decoding tolerance).
  const V = program.vocab.length;
  const k = scales.logitScale;
  let arg = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let v = 0; v < V; v++) {
    const x = logits[v + 1]!;
    if (x > hi) [hi, arg] = [x, v];
    lo = Math.min(lo, x);
  }
  const flat = hi - lo < k / 2;
  const want = sym.prediction(position);
  let agrees: boolean;
  if (want === null) agrees = flat;
  else if (!isDist(want)) agrees = !flat && arg === want;
  else {
    agrees = true;
    for (let v = 0; v < V; v++) {
      if (Math.abs(logits[v + 1]! - k * (want.get(v)?.valueOf() ?? 0)) > k * scales.distTolerance) agrees = false;
    }
  }
  if (!agrees) {
    return { position, layer: program.layers.length + 1, feature: "logits", symbolic: want, decoded: flat ? null : arg };
  }
  return null;
}
