/**
 * Compiled model vs reference semantics at one position: decode every feature
 * block of the residual stream and the logits, and name the first feature
 * that differs. Features are write-once blocks, so the final residual holds
 * each layer's output unchanged; the disagreement reports the writing layer.
 */
import type { CompiledModel } from "../compiler/compile.ts";
import { type Decoded, decodedAgrees, decodeFeature, writtenFeatures } from "../compiler/decode.ts";
import { blockOf } from "../compiler/layout.ts";
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
  // a distribution must show as κ·p (within the decoding tolerance). "Flat"
  // is absolute — no real token reaches κ/2 — not a spread between tokens,
  // which is always 0 with a one-token vocabulary.
  const V = program.vocab.length;
  const k = scales.logitScale;
  let arg = 0;
  let hi = -Infinity;
  for (let v = 0; v < V; v++) {
    const x = logits[v + 1]!;
    if (x > hi) [hi, arg] = [x, v];
  }
  const flat = hi < k / 2;
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

/** A precompiled comparePosition: same verdicts, no allocation unless it finds a disagreement. */
export type PositionComparer = (
  sym: SymbolicRun,
  position: number,
  finalResid: ArrayLike<number>,
  logits: ArrayLike<number>,
) => Omit<Disagreement, "tokens"> | null;

/**
 * comparePosition with everything that depends only on the model looked up
 * once (features, their blocks, tolerances) and the decoding done in place:
 * it answers "agrees" without building a Decoded value, and only when
 * something disagrees does it call comparePosition to build the report — so
 * its results are comparePosition's, bit for bit.
 */
export function makeComparer(model: CompiledModel): PositionComparer {
  const { program, layout, scales } = model;
  const feats = writtenFeatures(program).map((f) => {
    const b = blockOf(layout, f.name);
    return { name: f.name, distribution: f.distribution, offset: b.offset, size: b.size };
  });
  const tol = scales.distTolerance;
  const V = program.vocab.length;
  const k = scales.logitScale;

  // True only when comparePosition would find this feature in agreement; on
  // false the caller asks comparePosition itself, so false may be cautious.
  const featureAgrees = (want: Value, resid: ArrayLike<number>, offset: number, size: number, distribution: boolean): boolean => {
    if (!distribution) {
      // decodeFeature: the first direction above ½ holding the maximum, else ⊥.
      let best = -1;
      let bestX = 0.5;
      for (let v = 0; v < size; v++) {
        const x = resid[offset + v]!;
        if (x > bestX) {
          best = v;
          bestX = x;
        }
      }
      if (want === null) return best < 0;
      // A distribution in a categorical block: let comparePosition decide.
      return typeof want === "number" && best === want;
    }
    // decodeFeature keeps the coordinates above the tolerance.
    if (want === null) {
      for (let v = 0; v < size; v++) if (resid[offset + v]! > tol) return false;
      return true;
    }
    // A number in a distribution block: let comparePosition decide.
    if (typeof want === "number") return false;
    for (let v = 0; v < size; v++) {
      const x = resid[offset + v]!;
      const p = want.get(v);
      if (p === undefined) {
        if (x > tol) return false;
      } else if (Math.abs((x > tol ? x : 0) - p.valueOf()) > tol) return false;
    }
    // Keys of the symbolic value outside the block decode as 0.
    for (const [key, p] of want) if ((key < 0 || key >= size) && Math.abs(p.valueOf()) > tol) return false;
    return true;
  };

  return (sym, position, finalResid, logits) => {
    for (let i = 0; i < feats.length; i++) {
      const f = feats[i]!;
      if (!featureAgrees(sym.value(f.name, position), finalResid, f.offset, f.size, f.distribution)) {
        return comparePosition(model, sym, position, finalResid, logits);
      }
    }
    let arg = 0;
    let hi = -Infinity;
    for (let v = 0; v < V; v++) {
      const x = logits[v + 1]!;
      if (x > hi) {
        hi = x;
        arg = v;
      }
    }
    const flat = hi < k / 2;
    const want = sym.prediction(position);
    let agrees = true;
    if (want === null) agrees = flat;
    else if (typeof want === "number") agrees = !flat && arg === want;
    else {
      for (let v = 0; v < V; v++) {
        if (Math.abs(logits[v + 1]! - k * (want.get(v)?.valueOf() ?? 0)) > k * tol) agrees = false;
      }
    }
    return agrees ? null : comparePosition(model, sym, position, finalResid, logits);
  };
}
