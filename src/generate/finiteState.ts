/**
 * Exact loops of finite-state programs (Theorem 6 in proofs/). When every head
 * is positional or a `latest`/`earliest` match over finite domains, greedy
 * generation is a deterministic walk over finitely many states
 * (`stateKey`), so it is eventually periodic, and the first repeated state
 * *proves* the cycle: no "two periods observed" heuristic is needed. This is
 * the general form of the I_k successor-table prediction in predict.ts.
 */
import type { Program } from "../lang/program.ts";
import { finiteStateObstacle, SymbolicRun } from "../semantics/interpret.ts";
import { mode, type Value } from "../semantics/values.ts";
import { type Cycle, minimalCycle } from "./cycles.ts";
import { FALLBACK_TOKEN, type NoneRule } from "./symbolic.ts";

export interface FiniteStateLoop {
  /** Proved cycle of the emitted tokens, or null when generation stops on ⊥ first. */
  readonly cycle: Cycle | null;
  readonly emitted: readonly number[];
  /** Distinct states visited before the repeat (a bound on μ + p). */
  readonly states: number;
  readonly stopsAt: number | null;
}

/** Longest `j = i - k` offset in a program: how many positions the state keeps. */
export function stateWindow(program: Program): number {
  return Math.max(1, ...program.layers.flat().map((h) => (h.select.kind === "offset" ? h.select.k : 0)));
}

/**
 * Generate greedily until a state repeats; the cycle is then exact. Runs past
 * the context length (the semantics needs no positional bound for this class);
 * throws if the program is not finite-state or no state repeats within maxSteps.
 */
export function finiteStateLoop(program: Program, prompt: readonly number[], onNone: NoneRule = "fallback", maxSteps = 100_000): FiniteStateLoop {
  const obstacle = finiteStateObstacle(program);
  if (obstacle) throw new Error(`not a finite-state program: ${obstacle}`);
  // The reference run is bounded by `context`; a copy with a larger one lets the walk go on until
  // the state repeats. Most walks close within a few hundred steps, so the budget starts small
  // and doubles (re-walking from the start) rather than allocating maxSteps positions up front.
  for (let budget = Math.min(256, maxSteps); ; budget = Math.min(2 * budget, maxSteps)) {
    const result = walk(program, prompt, onNone, budget);
    if (result) return result;
    if (budget >= maxSteps) throw new Error(`finiteStateLoop: no state repeated within ${maxSteps} steps`);
  }
}

function walk(program: Program, prompt: readonly number[], onNone: NoneRule, steps: number): FiniteStateLoop | null {
  const run = new SymbolicRun({ ...program, context: prompt.length + steps + 2 });
  for (const t of prompt) run.push(t);
  const w = stateWindow(program);
  const seen = new Map<string, number>();
  const emitted: number[] = [];
  for (let step = 0; step <= steps; step++) {
    const key = run.stateKey(w);
    const first = seen.get(key);
    const v: Value = run.prediction(run.length - 1);
    const next = v === null ? (onNone === "stop" ? null : FALLBACK_TOKEN) : mode(v);
    if (next === null) return { cycle: null, emitted, states: seen.size, stopsAt: step };
    emitted.push(next);
    if (first !== undefined) return { cycle: minimalCycle(emitted, first, step - first), emitted, states: seen.size, stopsAt: null };
    seen.set(key, step);
    if (step < steps) run.push(next);
  }
  return null;
}
