/**
 * Generation under the reference semantics: append the predicted token and
 * repeat. The rule for ⊥ (no prediction) is a choice the user states:
 * "fallback" emits the first vocabulary token — exactly what greedy argmax
 * picks from the flat logits a compiled model produces for ⊥ — and "stop"
 * ends generation there. Distributions emit their mode (ties to the lowest
 * index), or a draw ∝ p^γ with the power strategy.
 */
import type { Program } from "../lang/program.ts";
import { SymbolicRun } from "./../semantics/interpret.ts";
import { isDist, mode, type Value } from "../semantics/values.ts";
import { mulberry32 } from "../sim/random.ts";
import { drawWeighted } from "./strategy.ts";

export type NoneRule = "fallback" | "stop";

export interface SymbolicGenerateOptions {
  readonly steps: number;
  readonly onNone?: NoneRule;
  /** Sample ∝ p^gamma from distributions instead of taking the mode. */
  readonly power?: { readonly gamma: number; readonly seed: number };
}

export interface SymbolicGeneration {
  /** Prompt then generated tokens, as vocabulary indices. */
  readonly tokens: number[];
  readonly generated: number[];
  readonly stopped: boolean;
  /** The run, extended to the last generated token. */
  readonly run: SymbolicRun;
}

/** The fallback token emitted for ⊥ under the "fallback" rule. */
export const FALLBACK_TOKEN = 0;

/** Generate under the reference semantics (prompt: vocabulary indices). */
export function generateSymbolic(program: Program, prompt: readonly number[], opts: SymbolicGenerateOptions): SymbolicGeneration {
  const run = new SymbolicRun(program);
  for (const t of prompt) run.push(t);
  const rand = opts.power ? mulberry32(opts.power.seed) : null;
  const next = (v: Value): number | null => {
    if (v === null || (isDist(v) && mode(v) === null)) return opts.onNone === "stop" ? null : FALLBACK_TOKEN;
    if (!isDist(v) || !rand || !opts.power) return mode(v);
    const w = new Float64Array(program.vocab.length);
    for (const [k, p] of v) w[k] = p.valueOf() ** opts.power.gamma;
    return drawWeighted(w, 0, w.length, rand());
  };
  const generated: number[] = [];
  let stopped = false;
  const steps = Math.max(0, Math.min(opts.steps, program.context - 1 - prompt.length));
  for (let s = 0; s < steps; s++) {
    const t = next(run.prediction(run.length - 1));
    if (t === null) {
      stopped = true;
      break;
    }
    generated.push(t);
    // The last emitted token needs no position of its own unless generation continues.
    if (s + 1 < steps) run.push(t);
  }
  return { tokens: [...prompt, ...generated], generated, stopped, run };
}
