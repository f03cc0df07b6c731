/**
 * What a model does on the probes, computed once: its greedy next-token
 * prediction at every position and every head's attention pattern (the
 * TransformerLens hook `blocks.L.attn.hook_pattern`). Every later step of the
 * search and of `check --weights` reads only these records.
 */
import { BOS_ID } from "../compiler/assemble.ts";
import type { Weights } from "../model/weights.ts";
import { forward } from "../sim/forward.ts";
import type { Probe } from "./probes.ts";

/** A prediction that is BOS or an id outside the vocabulary: equal to no program value. */
export const NOT_A_TOKEN = -2;

/** The model on one probe. */
export interface Observation {
  /** Positions, BOS included (tokens + 1). */
  readonly T: number;
  /** predictions[p]: the vocabulary index of the argmax logit at p, or NOT_A_TOKEN. */
  readonly predictions: Int32Array;
  /** patterns[layer]: [H, T, T] attention probabilities. */
  readonly patterns: readonly Float64Array[];
}

/** Run the model on every probe (BOS = id 0, vocabulary index v = id v + 1). */
export function observe(weights: Weights, probes: readonly Probe[]): Observation[] {
  const { d_vocab_out: Vo, n_layers: L, d_vocab: Vin } = weights.config;
  return probes.map((probe) => {
    const ids = [BOS_ID, ...probe.tokens.map((t) => t + 1)];
    if (ids.some((id) => id >= Vin)) throw new Error(`observe: a probe token is outside the model's ${Vin} token ids`);
    const T = ids.length;
    const { logits, cache } = forward(weights, ids, { cache: true });
    const predictions = new Int32Array(T);
    for (let p = 0; p < T; p++) {
      let best = 0;
      for (let v = 1; v < Vo; v++) if (logits[p * Vo + v]! > logits[p * Vo + best]!) best = v;
      predictions[p] = best === BOS_ID || best - 1 >= Vin - 1 ? NOT_A_TOKEN : best - 1;
    }
    const patterns = Array.from({ length: L }, (_, l) => {
      const t = cache!.get(`blocks.${l}.attn.hook_pattern`);
      if (!t) throw new Error(`observe: the forward pass recorded no pattern for blocks.${l}`);
      return t.data instanceof Float64Array ? t.data : Float64Array.from(t.data);
    });
    return { T, predictions, patterns };
  });
}
