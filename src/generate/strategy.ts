/**
 * How the next token is chosen from a score vector: greedy (argmax, ties to
 * the lowest index within a tolerance, so flat logits pick the first token
 * deterministically), softmax sampling with temperature and top-k, or
 * "power" sampling ∝ p^γ from probabilities (the urn model of loop
 * self-reinforcement). Sampling is seeded: same seed, same tokens.
 */
import { mulberry32 } from "../sim/random.ts";

export type Strategy =
  | { readonly kind: "greedy"; readonly tieTolerance?: number }
  | { readonly kind: "sample"; readonly temperature: number; readonly topK?: number; readonly seed: number }
  | { readonly kind: "power"; readonly gamma: number; readonly seed: number };

/** A stateful chooser: call it once per step with that step's scores. */
export type Chooser = (scores: ArrayLike<number>, from: number, to: number) => number;

/** Lowest index in [from, to) whose score is within `tol` of the maximum. */
export function argmaxLowest(scores: ArrayLike<number>, from: number, to: number, tol = 0): number {
  let max = -Infinity;
  for (let k = from; k < to; k++) max = Math.max(max, scores[k]!);
  for (let k = from; k < to; k++) if (scores[k]! >= max - tol) return k;
  return from;
}

/** Draw index k in [from, to) with probability ∝ weights[k]; -1 when all are 0. */
export function drawWeighted(weights: ArrayLike<number>, from: number, to: number, u: number): number {
  let total = 0;
  for (let k = from; k < to; k++) total += weights[k]!;
  if (!(total > 0)) return -1;
  let acc = 0;
  const target = u * total;
  let last = -1;
  for (let k = from; k < to; k++) {
    if (weights[k]! <= 0) continue;
    acc += weights[k]!;
    last = k;
    if (target < acc) return k;
  }
  return last;
}

/** Make a chooser for a strategy (its random stream starts at the seed). */
export function chooser(strategy: Strategy): Chooser {
  switch (strategy.kind) {
    case "greedy": {
      const tol = strategy.tieTolerance ?? 0;
      return (s, from, to) => argmaxLowest(s, from, to, tol);
    }
    case "sample": {
      if (!(strategy.temperature > 0)) throw new Error(`sample: temperature must be > 0, got ${strategy.temperature}`);
      const rand = mulberry32(strategy.seed);
      return (s, from, to) => {
        const n = to - from;
        let keep = Array.from({ length: n }, (_, k) => from + k);
        if (strategy.topK !== undefined && strategy.topK < n) {
          keep = keep.sort((a, b) => s[b]! - s[a]! || a - b).slice(0, Math.max(1, strategy.topK));
        }
        let max = -Infinity;
        for (const k of keep) max = Math.max(max, s[k]!);
        const w = new Float64Array(to);
        for (const k of keep) w[k] = Math.exp((s[k]! - max) / strategy.temperature);
        return drawWeighted(w, from, to, rand());
      };
    }
    case "power": {
      const rand = mulberry32(strategy.seed);
      return (p, from, to) => {
        const w = new Float64Array(to);
        for (let k = from; k < to; k++) w[k] = p[k]! > 0 ? p[k]! ** strategy.gamma : 0;
        return drawWeighted(w, from, to, rand());
      };
    }
    default: {
      const never: never = strategy;
      throw new Error(`unknown strategy ${JSON.stringify(never)}`);
    }
  }
}
