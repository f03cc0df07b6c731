/**
 * Autoregressive generation from weights (compiled or loaded). With the KV
 * cache each step is one incremental position (work ∝ context); without it
 * each step reruns the whole prefix (work ∝ context²) — kept as the baseline
 * the cache is measured against, and as a cross-check of the cache.
 */
import type { Weights } from "../model/weights.ts";
import { forward } from "../sim/forward.ts";
import { IncrementalRun } from "../sim/kvcache.ts";
import type { Precision } from "../sim/prepare.ts";
import { chooser, type Strategy } from "./strategy.ts";

export interface GenerateOptions {
  readonly steps: number;
  readonly strategy?: Strategy;
  /** Default true. */
  readonly kvCache?: boolean;
  readonly precision?: Precision;
  /** Token ids the sampler may choose, [from, to); default every id of d_vocab_out. */
  readonly range?: readonly [number, number];
  /**
   * When every logit in `range` is below this level the model says ⊥ (a
   * compiled model's output block is then zero, so no token gets the positive
   * logit a value or distribution gives): stop, or emit the first id of
   * `range` without consulting the strategy (no random draw is used up), as
   * `onNone` says. Unset: the strategy sees every step's logits.
   */
  readonly noneBelow?: number;
  readonly onNone?: "fallback" | "stop";
}

export interface Generation {
  /** The whole sequence of ids: prompt (BOS first) then generated ids. */
  readonly tokens: number[];
  /** Just the generated ids. */
  readonly generated: number[];
  /** Whether generation stopped early on ⊥ (see noneBelow). */
  readonly stopped: boolean;
  readonly seconds: number;
}

/** Generate `steps` tokens after `promptIds` (token ids, BOS first). Stops at n_ctx. */
export function generate(weights: Weights, promptIds: readonly number[], opts: GenerateOptions): Generation {
  const t0 = performance.now();
  const { n_ctx, d_vocab_out } = weights.config;
  const [from, to] = opts.range ?? [0, d_vocab_out];
  const choose = chooser(opts.strategy ?? { kind: "greedy" });
  const steps = Math.max(0, Math.min(opts.steps, n_ctx - promptIds.length));
  const tokens = [...promptIds];
  const generated: number[] = [];
  let stopped = false;
  const none = (logits: ArrayLike<number>) => {
    if (opts.noneBelow === undefined) return false;
    for (let k = from; k < to; k++) if (logits[k]! >= opts.noneBelow) return false;
    return true;
  };
  const emit = (logits: ArrayLike<number>): boolean => {
    const isNone = none(logits);
    if (isNone && opts.onNone === "stop") {
      stopped = true;
      return false;
    }
    const next = isNone ? from : choose(logits, from, to);
    tokens.push(next);
    generated.push(next);
    return true;
  };

  if (opts.kvCache ?? true) {
    const run = new IncrementalRun(weights, { precision: opts.precision ?? "float64" });
    let logits: Float64Array = new Float64Array(0);
    for (const t of promptIds) logits = run.push(t);
    for (let s = 0; s < steps; s++) {
      if (!emit(logits)) break;
      if (s + 1 < steps) logits = run.push(tokens[tokens.length - 1]!);
    }
  } else {
    const Vo = d_vocab_out;
    for (let s = 0; s < steps; s++) {
      const { logits } = forward(weights, tokens, { precision: opts.precision ?? "float64" });
      if (!emit(logits.subarray((tokens.length - 1) * Vo, tokens.length * Vo))) break;
    }
  }
  return { tokens, generated, stopped, seconds: (performance.now() - t0) / 1000 };
}
