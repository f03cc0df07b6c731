/**
 * Count-based (`every`) induction heads under greedy decoding (proofs/04).
 *
 * The program is inductionProgramText({k: 1, rule: "every"}): at i it
 * averages over every key j ≤ i (or j < i, strict) whose previous token
 * equals token[i], copying token[j] — the empirical successor distribution
 * of the current token. Greedy decoding emits its mode (ties to the lowest
 * index); ⊥ (no earlier occurrence with a successor) emits the fallback
 * token 0.
 *
 * Two implementations: the reference semantics (SymbolicRun, exact
 * fractions) and a direct successor-count matrix (for larger bounds), the
 * latter cross-checked against the former.
 */
import { findCycle, minimalCycle, type Cycle } from "../../src/generate/cycles.ts";
import { inductionProgramText } from "../../src/generate/ik.ts";
import { FALLBACK_TOKEN } from "../../src/generate/symbolic.ts";
import { load } from "../../src/lang/check.ts";
import type { Program } from "../../src/lang/program.ts";
import { SymbolicRun } from "../../src/semantics/interpret.ts";
import { mode } from "../../src/semantics/values.ts";
import { earlierWitness } from "./exhaustive.ts";
import { vocabNames } from "./reference.ts";

export function everyProgram(V: number, context: number, strict = false): Program {
  return load({ path: `every${strict ? "<" : "<="}`, text: inductionProgramText({ k: 1, vocab: vocabNames(V), context, rule: "every", strict }) });
}

/** Successor counts with push/pop: counts[x·V + y] = #transitions x → y so far. */
export class CountMachine {
  private readonly seq: Int32Array;
  private readonly counts: Int32Array;
  n = 0;
  constructor(
    readonly V: number,
    readonly strict: boolean,
    capacity = 4096,
  ) {
    this.seq = new Int32Array(capacity + 1);
    this.counts = new Int32Array(V * V);
  }
  push(tok: number): void {
    if (this.n >= 1) this.counts[this.seq[this.n]! * this.V + tok]!++;
    this.seq[++this.n] = tok;
  }
  pop(): void {
    const n = this.n--;
    if (n >= 2) this.counts[this.seq[n - 1]! * this.V + this.seq[n]!]!--;
  }
  pushAll(tokens: readonly number[]): this {
    for (const t of tokens) this.push(t);
    return this;
  }
  /** Current token (−1 at BOS). */
  current(): number {
    return this.n === 0 ? -1 : this.seq[this.n]!;
  }
  /** Greedy next token: mode of the successor counts of the current token (strict: without the last transition), else fallback. */
  next(): number {
    const { n, V } = this;
    if (n === 0) return FALLBACK_TOKEN;
    const x = this.seq[n]!;
    // A strict head (j < i) cannot see the transition s_{n−1} → s_n.
    const skip = this.strict && n >= 2 && this.seq[n - 1] === x ? this.seq[n]! : -1;
    let best = -1;
    let bestC = 0;
    for (let y = 0; y < V; y++) {
      const c = this.counts[x * V + y]! - (y === skip ? 1 : 0);
      if (c > bestC) {
        best = y;
        bestC = c;
      }
    }
    return best < 0 ? FALLBACK_TOKEN : best;
  }
}

export interface EveryRun {
  /** c_s: the current (last) token at step s (−1 for BOS). */
  readonly current: number[];
  readonly emitted: number[];
}

/** Greedy generation from a CountMachine for `steps` steps (restored afterwards). */
export function countTrace(m: CountMachine, steps: number): EveryRun {
  const current: number[] = [];
  const emitted: number[] = [];
  for (let s = 0; s < steps; s++) {
    current.push(m.current());
    const t = m.next();
    emitted.push(t);
    m.push(t);
  }
  for (let s = 0; s < steps; s++) m.pop();
  return { current, emitted };
}

/** Greedy generation under the reference semantics, continuing `run` (restored afterwards). */
export function symbolicEveryTrace(run: SymbolicRun, steps: number): EveryRun {
  const current: number[] = [];
  const emitted: number[] = [];
  let pushed = 0;
  for (let s = 0; s < steps; s++) {
    const t = run.length - 1;
    current.push(t === 0 ? -1 : run.token(t)!);
    const next = mode(run.prediction(t)) ?? FALLBACK_TOKEN;
    emitted.push(next);
    if (run.length >= run.program.context) break;
    run.push(next);
    pushed++;
  }
  for (let r = 0; r < pushed; r++) run.pop();
  return { current, emitted };
}

export interface EveryAnalysis {
  /** Steps s < s' with c_s = c_{s'} but different emissions (the frozen lemma says none). */
  readonly unfrozen: number;
  /** The exact cycle of the emitted stream, from the first repeat of the current token. */
  readonly cycle: Cycle | null;
}

/**
 * Check the frozen lemma on a run, and (given it) read off the exact cycle:
 * if c_a = c_b (a < b, the first repeat) then c is periodic from a with
 * period b − a, so the emitted stream e_s = c_{s+1} is periodic from
 * max(0, a − 1). Needs a run of ≥ V + 2 steps to contain the repeat.
 */
export function analyseEvery(r: EveryRun): EveryAnalysis {
  const firstEmit = new Map<number, number>();
  let unfrozen = 0;
  let a = -1;
  let b = -1;
  r.current.forEach((c, s) => {
    const e = firstEmit.get(c);
    if (e === undefined) firstEmit.set(c, r.emitted[s]!);
    else {
      if (e !== r.emitted[s]) unfrozen++;
      if (a < 0) {
        a = r.current.indexOf(c);
        b = s;
      }
    }
  });
  if (a < 0) return { unfrozen, cycle: null };
  const start = Math.max(0, a - 1);
  if (r.emitted.length < start + (b - a)) return { unfrozen, cycle: null };
  return { unfrozen, cycle: minimalCycle(r.emitted, start, b - a) };
}

export interface EverySummary {
  readonly V: number;
  readonly strict: boolean;
  readonly maxLen: number;
  nodes: number;
  /** Prompts whose run breaks the frozen lemma. */
  unfrozen: number;
  /**
   * Prompts whose *observed* cycle has pre-period + period > V. It is read by `findCycle` from a
   * run of 3V + 3 steps, not from the first repeat of the current token (where pigeonhole alone
   * would force μ + p ≤ V), so it fires whenever the generated stream really loops too late.
   */
  aboveV: number;
  /** Prompts where no cycle was certified, or the certified cycle is not the one the 3V + 3 steps show. */
  cycleMismatch: number;
  maxSum: number;
  /** Shortest, then lexicographically least, prompt attaining maxSum. */
  maxSumWitness: string;
  /** Largest pre-period and period separately. */
  maxPrePeriod: number;
  maxPeriod: number;
  /** Prompts where the direct machine and the reference semantics disagree (only when cross-checking). */
  disagreements: number;
}

/**
 * All prompts of length ≤ maxLen: greedy every-head generation for 3V + 3
 * steps, the frozen lemma, and pre-period + period ≤ V. With `reference`,
 * each run is also generated under the reference semantics (SymbolicRun
 * push/pop along the same prefix walk) and compared token for token.
 */
export function exhaustiveEvery(V: number, maxLen: number, strict: boolean, reference = false): EverySummary {
  // Long enough that a cycle with μ + p ≤ V shows at least two periods, with room beyond V.
  const steps = 3 * V + 3;
  const sum: EverySummary = {
    V, strict, maxLen, nodes: 0, unfrozen: 0, aboveV: 0, cycleMismatch: 0, maxSum: 0, maxSumWitness: "",
    maxPrePeriod: 0, maxPeriod: 0, disagreements: 0,
  };
  const m = new CountMachine(V, strict, maxLen + steps + 2);
  const run = reference ? new SymbolicRun(everyProgram(V, maxLen + steps + 2, strict)) : null;
  const prompt: number[] = [];
  const visit = () => {
    sum.nodes++;
    const r = countTrace(m, steps);
    if (run) {
      const s = symbolicEveryTrace(run, steps);
      if (s.emitted.join() !== r.emitted.join()) sum.disagreements++;
    }
    const a = analyseEvery(r);
    if (a.unfrozen) sum.unfrozen++;
    const seen = findCycle(r.emitted);
    if (!seen || seen.prePeriod + seen.period > V) sum.aboveV++;
    if (!a.cycle || !seen || a.cycle.prePeriod !== seen.prePeriod || a.cycle.period !== seen.period) {
      sum.cycleMismatch++;
      return;
    }
    const total = a.cycle.prePeriod + a.cycle.period;
    if (total > sum.maxSum || (total === sum.maxSum && earlierWitness(prompt.join(" "), sum.maxSumWitness))) {
      sum.maxSum = total;
      sum.maxSumWitness = prompt.join(" ");
    }
    sum.maxPrePeriod = Math.max(sum.maxPrePeriod, a.cycle.prePeriod);
    sum.maxPeriod = Math.max(sum.maxPeriod, a.cycle.period);
  };
  const go = () => {
    visit();
    if (prompt.length >= maxLen) return;
    for (let t = 0; t < V; t++) {
      m.push(t);
      run?.push(t);
      prompt.push(t);
      go();
      prompt.pop();
      run?.pop();
      m.pop();
    }
  };
  go();
  return sum;
}

/** A prompt attaining pre-period V − 2: 0 1 … (V−2) (V−2) (V−1), which emits 0 1 … (V−2) (V−2) (V−2) …. */
export const everyLongPrePeriodPrompt = (V: number): number[] => [...Array.from({ length: V - 1 }, (_, v) => v), V - 2, V - 1];

/** A prompt attaining pre-period + period = V: 0 1 … V−1 0 (the cycle 1 2 … V−1 0). */
export const everyTightPrompt = (V: number): number[] => [...Array.from({ length: V }, (_, v) => v), 0];
