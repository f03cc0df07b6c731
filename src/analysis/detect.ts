/**
 * Head detection from activations, the way TransformerLens's
 * `detect_head` and Olsson et al. (2022) do it: run the model on repeated
 * random sequences  [BOS] r r  (r random, its tokens distinct) and measure
 * where each head's attention goes.
 *
 *   previous   mass on j = i − 1
 *   duplicate  mass on earlier copies of the current token: {j < i : t_j = t_i}
 *   induction  mass on the token after an earlier copy:    {j < i : t_{j−1} = t_i}
 *
 * A head's score is the mean, over query positions whose target set is
 * non-empty, of the attention mass on that set — 1 for a perfect detector
 * of the pattern. (On  r r  with distinct tokens the duplicate and induction
 * sets are exactly TransformerLens's offsets i − n and i − n + 1.) Tokens
 * within r are distinct so that "the earlier copy" is unique and a correct
 * induction head is also a correct predictor, which the ICL score needs.
 *
 * In-context learning score (Olsson et al.): loss at a late token minus loss
 * at an early one. They use tokens 500 and 50 of natural text; here the
 * early token is (about) the middle of the first copy of r and the late token the
 * same token in the second copy, so a model that learns in context from the
 * first copy scores well below 0 (an induction model: −log(V − 1)).
 */
import { BOS_ID } from "../model/tokenIds.ts";
import type { Weights } from "../model/weights.ts";
import { forward } from "../sim/forward.ts";
import { mulberry32 } from "../sim/random.ts";
import { activeHeads } from "./circuits.ts";
import { headId, headNames, type NamedLayout } from "./named.ts";
import { CircuitsError } from "../errors.ts";

/** Options of {@link detectHeads}. */
export interface DetectOptions {
  /** How many repeated sequences (default 16). */
  readonly sequences?: number;
  /** Length n of the repeated part r (default: as long as the context and vocabulary allow, at most 50). */
  readonly length?: number;
  /** PRNG seed (default 0). */
  readonly seed?: number;
  /** Token id put at position 0 and never sampled (default BOS_ID, as compiled models use); null for none. */
  readonly bos?: number | null;
  /** Names the heads. */
  readonly layout?: NamedLayout;
}

/** Detection scores of one head, each in [0, 1]. */
export interface HeadDetection {
  readonly id: string;
  readonly name: string;
  readonly block: number;
  readonly head: number;
  readonly previous: number;
  readonly duplicate: number;
  readonly induction: number;
}

/** What {@link detectHeads} measured. */
export interface DetectionReport {
  readonly heads: readonly HeadDetection[];
  /** null when r has fewer than 2 tokens (no token follows the late one). */
  readonly icl: { readonly early: number; readonly late: number; readonly lossEarly: number; readonly lossLate: number; readonly score: number } | null;
  readonly sequences: number;
  readonly length: number;
  readonly seed: number;
  readonly bos: number | null;
}

/** Seeded repeated random sequences [bos] r r, with the tokens of r distinct and never `bos`. */
export function repeatedSequences(d_vocab: number, count: number, length: number, seed: number, bos: number | null): number[][] {
  const pool = Array.from({ length: d_vocab }, (_, t) => t).filter((t) => t !== bos);
  if (length < 1 || length > pool.length) throw new Error(`repeatedSequences: length ${length} must be in 1…${pool.length} (distinct tokens)`);
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const p = [...pool];
    for (let k = 0; k < length; k++) {
      const m = k + Math.floor(rand() * (p.length - k)); // partial Fisher–Yates
      [p[k], p[m]] = [p[m]!, p[k]!];
    }
    const r = p.slice(0, length);
    return [...(bos === null ? [] : [bos]), ...r, ...r];
  });
}

/** The default repeated length for a model: fits twice in the context, distinct tokens, ≤ 50. */
export function defaultRepeatLength(weights: Weights, bos: number | null): number {
  const { n_ctx: C, d_vocab: V } = weights.config;
  const room = Math.floor((C - (bos === null ? 0 : 1)) / 2);
  return Math.max(1, Math.min(room, V - (bos === null ? 0 : 1), 50));
}

/** Raised when a forward pass on finite weights yields non-finite attention or logits. */
export class ForwardOverflow extends CircuitsError {
  override name = "ForwardOverflow";
  readonly kind = "weights";
}

/** Previous-token, duplicate-token and induction scores of every head, and the ICL score; throws ForwardOverflow. */
export function detectHeads(weights: Weights, opts: DetectOptions = {}): DetectionReport {
  const bos = opts.bos === undefined ? BOS_ID : opts.bos;
  const length = opts.length ?? defaultRepeatLength(weights, bos);
  const count = opts.sequences ?? 16;
  const seed = opts.seed ?? 0;
  const seqs = repeatedSequences(weights.config.d_vocab, count, length, seed, bos);
  const heads = activeHeads(weights);
  const names = headNames(heads, opts.layout);
  const first = bos === null ? 0 : 1; // position of r's first token
  const early = first + Math.floor((length - 1) / 2); // late + 1 = early + n + 1 stays inside [bos] r r when n ≥ 2
  const late = early + length;
  const Vo = weights.config.d_vocab_out;

  // sums[h] = [previous, duplicate, induction] mass and counts.
  const sums = heads.map(() => ({ mass: [0, 0, 0], n: [0, 0, 0] }));
  let lossEarly = 0;
  let lossLate = 0;
  for (const seq of seqs) {
    const T = seq.length;
    const { logits, cache } = forward(weights, seq, { cache: true });
    const targets = (i: number): number[][] => {
      const prev = i >= 1 ? [i - 1] : [];
      const dup: number[] = [];
      const ind: number[] = [];
      for (let j = first; j < i; j++) {
        if (seq[j] === seq[i]) dup.push(j);
        if (j - 1 >= first && seq[j - 1] === seq[i]) ind.push(j);
      }
      return [prev, dup, ind];
    };
    const perQuery = Array.from({ length: T }, (_, i) => (i >= first ? targets(i) : [[], [], []]));
    heads.forEach((h, k) => {
      const pattern = cache!.get(`blocks.${h.block}.attn.hook_pattern`)!.data; // [H, T, T]
      for (let i = 0; i < T; i++) {
        perQuery[i]!.forEach((set, kind) => {
          if (!set.length) return;
          let m = 0;
          for (const j of set) m += pattern[(h.head * T + i) * T + j]!;
          sums[k]!.mass[kind]! += m;
          sums[k]!.n[kind]! += 1;
        });
      }
    });
    if (length >= 2) {
      lossEarly += tokenLoss(logits, Vo, early, seq[early + 1]!);
      lossLate += tokenLoss(logits, Vo, late, seq[late + 1]!);
    }
  }
  const mean = (s: { mass: number[]; n: number[] }, k: number) => (s.n[k]! ? s.mass[k]! / s.n[k]! : 0);
  // Finite weights can still overflow in the forward pass (entries near 1e308):
  // attention mass and losses then come out NaN, which must not pass for scores.
  const finite = (x: number) => Number.isFinite(x);
  if (!sums.every((s) => s.mass.every(finite)) || !finite(lossEarly) || !finite(lossLate)) {
    throw new ForwardOverflow("the forward pass overflows on these weights (attention, logits or losses are not finite)");
  }
  return {
    heads: heads.map((h, k) => ({
      id: headId(h),
      name: names.get(headId(h))!,
      block: h.block,
      head: h.head,
      previous: mean(sums[k]!, 0),
      duplicate: mean(sums[k]!, 1),
      induction: mean(sums[k]!, 2),
    })),
    icl: length >= 2 ? { early, late, lossEarly: lossEarly / count, lossLate: lossLate / count, score: (lossLate - lossEarly) / count } : null,
    sequences: count,
    length,
    seed,
    bos,
  };
}

/** Cross-entropy −log softmax(logits[p])[target], computed stably. */
function tokenLoss(logits: Float64Array, Vo: number, p: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < Vo; v++) max = Math.max(max, logits[p * Vo + v]!);
  let z = 0;
  for (let v = 0; v < Vo; v++) z += Math.exp(logits[p * Vo + v]! - max);
  return Math.log(z) + max - logits[p * Vo + target]!;
}

/** The pattern a head's scores point to, when one clearly dominates (≥ 0.5); else null. */
export function headKind(d: HeadDetection, at = 0.5): "previous" | "duplicate" | "induction" | null {
  const best = (["previous", "duplicate", "induction"] as const).reduce((a, b) => (d[b] > d[a] ? b : a));
  return d[best] >= at ? best : null;
}
