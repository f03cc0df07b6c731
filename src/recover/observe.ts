/**
 * What a model does on the probes, computed once: its greedy next-token
 * prediction at every position and every head's attention pattern (the
 * TransformerLens hook `blocks.L.attn.hook_pattern`). Every later step of the
 * search and of `check --weights` reads only these records.
 */
import { BOS_ID, modelInput, vocabIndex, vocabSizeOf } from "../model/tokenIds.ts";
import type { Weights } from "../model/weights.ts";
import { forward, forwardBatch } from "../sim/forward.ts";
import type { Probe } from "./probes.ts";

/** A prediction that is BOS or an id outside the vocabulary: equal to no program value. */
export const NOT_A_TOKEN = -2;

/** The model on one probe. */
export interface Observation {
  /** Positions, BOS included (tokens + 1). */
  readonly T: number;
  /** predictions[p]: the vocabulary index of the argmax logit at p, or NOT_A_TOKEN. */
  readonly predictions: Int32Array;
  /** patterns[layer]: [H, T, T] attention probabilities; null for probes past `withPatterns`. */
  readonly patterns: readonly Float64Array[] | null;
}

/** Options of {@link observe}. */
export interface ObserveOptions {
  /** Record attention only for the first this many probes (default all): activations cost a forward pass each. */
  readonly withPatterns?: number;
  /** Called with (probes done, probes) as they run. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Run the model on every probe (BOS = id 0, vocabulary index v = id v + 1). */
export function observe(weights: Weights, probes: readonly Probe[], opts: ObserveOptions = {}): Observation[] {
  const { d_vocab_out: Vo, n_layers: L, d_vocab: Vin } = weights.config;
  const withPatterns = opts.withPatterns ?? probes.length;
  // Probes without patterns run batched and without activations, in chunks that keep memory flat.
  const plain = new Map<number, Float64Array>();
  const CHUNK = 256;
  for (let s = withPatterns; s < probes.length; s += CHUNK) {
    const idx = Array.from({ length: Math.min(CHUNK, probes.length - s) }, (_, k) => s + k);
    const runs = forwardBatch(weights, idx.map((k) => idsOf(probes[k]!, Vin)));
    idx.forEach((k, n) => plain.set(k, runs[n]!.logits));
    opts.onProgress?.(s + idx.length - withPatterns, probes.length);
  }
  return probes.map((probe, s) => {
    const ids = idsOf(probe, Vin);
    const T = ids.length;
    if (s < withPatterns) opts.onProgress?.(probes.length - withPatterns + s + 1, probes.length);
    const { logits, cache } = s < withPatterns ? forward(weights, ids, { cache: true }) : { logits: plain.get(s)!, cache: undefined };
    const predictions = new Int32Array(T);
    for (let p = 0; p < T; p++) {
      let best = 0;
      for (let v = 1; v < Vo; v++) if (logits[p * Vo + v]! > logits[p * Vo + best]!) best = v;
      predictions[p] = best === BOS_ID || vocabIndex(best) >= vocabSizeOf(Vin) ? NOT_A_TOKEN : vocabIndex(best);
    }
    if (!cache) return { T, predictions, patterns: null };
    const patterns = Array.from({ length: L }, (_, l) => {
      const t = cache!.get(`blocks.${l}.attn.hook_pattern`);
      if (!t) throw new Error(`observe: the forward pass recorded no pattern for blocks.${l}`);
      return t.data instanceof Float64Array ? t.data : Float64Array.from(t.data);
    });
    return { T, predictions, patterns };
  });
}

/** Model token ids of a probe (tokenIds.ts's rule). */
function idsOf(probe: Probe, Vin: number): number[] {
  const ids = modelInput(probe.tokens);
  if (ids.some((id) => id >= Vin)) throw new Error(`observe: a probe token is outside the model's ${Vin} token ids`);
  return ids;
}
