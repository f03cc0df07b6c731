/**
 * Differential checks of a compiled model against the reference semantics:
 * on seeded random sequences, or on every sequence up to a length. The
 * exhaustive check walks the prefix tree depth-first: each tree node is one
 * KV-cached step of the simulator and one incremental step of the symbolic
 * run (both undone by pop), so it costs one position-step per sequence.
 */
import type { CompiledModel } from "../compiler/compile.ts";
import { BOS_ID } from "../compiler/assemble.ts";
import { SymbolicRun } from "../semantics/interpret.ts";
import { IncrementalRun } from "../sim/kvcache.ts";
import { mulberry32 } from "../sim/random.ts";
import type { Precision } from "../sim/prepare.ts";
import { comparePosition, type Disagreement } from "./compare.ts";

export interface CheckResult {
  readonly sequences: number;
  /** Sequences whose check found a disagreement (exhaustive: at their last position). */
  readonly disagreements: number;
  readonly first: Disagreement | null;
  readonly seconds: number;
}

export interface ExhaustiveOptions {
  readonly maxLength: number;
  /** Vocabulary indices to draw from; default the whole vocabulary. */
  readonly alphabet?: readonly number[];
  readonly precision?: Precision;
  /** Called now and then with (sequences done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Number of sequences of length 1 … L over an alphabet of size a. */
export function countSequences(a: number, L: number): number {
  let total = 0;
  let level = 1;
  for (let k = 1; k <= L; k++) total += level *= a;
  return total;
}

/** Compare compiled and symbolic runs on every sequence of length 1 … maxLength. */
export function checkExhaustive(model: CompiledModel, opts: ExhaustiveOptions): CheckResult {
  const t0 = performance.now();
  const { program } = model;
  const alphabet = opts.alphabet ?? program.vocab.map((_, k) => k);
  const maxLength = Math.min(opts.maxLength, program.context - 1);
  const total = countSequences(alphabet.length, maxLength);
  const sim = new IncrementalRun(model.weights, { precision: opts.precision ?? "float64" });
  const sym = new SymbolicRun(program);
  sim.push(BOS_ID);
  const path: number[] = [];
  let done = 0;
  let bad = 0;
  let first: Disagreement | null = null;
  const L = program.layers.length;

  const visit = (depth: number) => {
    for (const t of alphabet) {
      sim.push(t + 1);
      sym.push(t);
      path.push(t);
      done++;
      const d = comparePosition(model, sym, depth, sim.residual(L), sim.logits());
      if (d) {
        bad++;
        first ??= { tokens: [...path], ...d };
      }
      if (opts.onProgress && (done & 0x3fff) === 0) opts.onProgress(done, total);
      if (depth < maxLength) visit(depth + 1);
      path.pop();
      sym.pop();
      sim.pop();
    }
  };
  if (maxLength >= 1) visit(1);
  opts.onProgress?.(done, total);
  return { sequences: done, disagreements: bad, first, seconds: (performance.now() - t0) / 1000 };
}

export interface RandomOptions {
  readonly samples: number;
  readonly seed: number;
  /** Longest sequence drawn (default: the context). Lengths are uniform in 1 … maxLength. */
  readonly maxLength?: number;
  readonly alphabet?: readonly number[];
  readonly precision?: Precision;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Draw a seeded random input: vocabulary indices. */
export function randomInput(rand: () => number, alphabet: readonly number[], maxLength: number): number[] {
  const n = 1 + Math.floor(rand() * maxLength);
  return Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]!);
}

/** Compare compiled and symbolic runs on seeded random sequences. */
export function checkRandom(model: CompiledModel, opts: RandomOptions): CheckResult {
  const t0 = performance.now();
  const { program } = model;
  const alphabet = opts.alphabet ?? program.vocab.map((_, k) => k);
  const maxLength = Math.min(opts.maxLength ?? program.context - 1, program.context - 1);
  const rand = mulberry32(opts.seed);
  const sim = new IncrementalRun(model.weights, { precision: opts.precision ?? "float64" });
  const L = program.layers.length;
  let bad = 0;
  let first: Disagreement | null = null;
  for (let s = 0; s < opts.samples; s++) {
    const input = randomInput(rand, alphabet, maxLength);
    const d = compareSequence(model, input, sim, L);
    if (d) {
      bad++;
      first ??= d;
    }
    if (opts.onProgress && (s & 0xff) === 0) opts.onProgress(s, opts.samples);
  }
  opts.onProgress?.(opts.samples, opts.samples);
  return { sequences: opts.samples, disagreements: bad, first, seconds: (performance.now() - t0) / 1000 };
}

/** First disagreement of one input, or null. */
export function compareSequence(
  model: CompiledModel,
  input: readonly number[],
  sim = new IncrementalRun(model.weights),
  L = model.program.layers.length,
): Disagreement | null {
  const sym = new SymbolicRun(model.program);
  sim.clear();
  sim.push(BOS_ID);
  for (let p = 1; p <= input.length; p++) {
    sim.push(input[p - 1]! + 1);
    sym.push(input[p - 1]!);
    const d = comparePosition(model, sym, p, sim.residual(L), sim.logits());
    if (d) return { tokens: [...input], ...d };
  }
  return null;
}
