/**
 * Differential checks of a compiled model against the reference semantics:
 * on seeded random sequences, or on every sequence up to a length. The
 * exhaustive check walks the prefix tree depth-first: each tree node is one
 * KV-cached step of the simulator and one incremental step of the symbolic
 * run (both undone by pop), so it costs one position-step per sequence.
 */
import type { CompiledModel } from "../compiler/compile.ts";
import { BOS_ID, tokenId } from "../model/tokenIds.ts";
import { SymbolicRun } from "../semantics/interpret.ts";
import { IncrementalRun } from "../sim/kvcache.ts";
import { mulberry32 } from "../sim/random.ts";
import type { Precision } from "../sim/prepare.ts";
import { comparePosition, type Disagreement, makeComparer } from "./compare.ts";

export interface CheckResult {
  readonly sequences: number;
  /** Sequences whose check found a disagreement (exhaustive: at their last position). */
  readonly disagreements: number;
  /** The first disagreement in depth-first order (alphabet order at each position). */
  readonly first: Disagreement | null;
  readonly seconds: number;
  /** Renaming classes walked, when the check went by symmetry (src/verify/classes.ts); sequences then counts what they stand for. */
  readonly classes?: number;
}

/** One part of N of an exhaustive check (0-based index). */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

export interface ExhaustiveOptions {
  readonly maxLength: number;
  /** Vocabulary indices to draw from; default the whole vocabulary. */
  readonly alphabet?: readonly number[];
  readonly precision?: Precision;
  /** Called now and then with (sequences done, total) — totals of this shard. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Check only this shard of the prefix tree (default: all of it, as shard 0 of 1). */
  readonly shard?: ShardSpec;
  /**
   * Walk one representative per renaming class (src/verify/classes.ts); the
   * caller must have found no symmetryObstacle. Progress then counts classes.
   */
  readonly symmetric?: boolean;
}

/** Number of sequences of length 1 … L over an alphabet of size a. */
export function countSequences(a: number, L: number): number {
  let total = 0;
  let level = 1;
  for (let k = 1; k <= L; k++) total += level *= a;
  return total;
}

/**
 * How an exhaustive check is cut into pieces. The sequences of length d (the
 * split depth) are the *units*, numbered 0 … U-1 in depth-first order; a unit
 * stands for itself and every sequence that extends it, and a shorter
 * sequence belongs to the unit of its first extension (its prefix-tree node
 * is owned by whoever owns its leftmost descendant at depth d). Any split of
 * 0 … U-1 into contiguous ranges is then a partition of all sequences, and
 * the ranges in ascending order visit the sequences in depth-first order —
 * so merging pieces means adding counts and taking the first piece's first
 * disagreement. d is the least depth with ≥ 4096 units (at most maxLength):
 * pieces down to a few units stay balanced, because every unit's subtree has
 * the same size.
 */
export interface TreeSplit {
  readonly alphabetSize: number;
  readonly maxLength: number;
  readonly depth: number;
  readonly units: number;
}

export const MIN_UNITS = 4096;

export function treeSplit(alphabetSize: number, maxLength: number): TreeSplit {
  let depth = Math.min(1, maxLength);
  let units = depth === 0 ? 1 : alphabetSize;
  while (depth < maxLength && units < MIN_UNITS) {
    depth++;
    units *= alphabetSize;
  }
  return { alphabetSize, maxLength, depth, units };
}

/** The contiguous unit range [lo, hi) of shard `index` of `count`. */
export function shardRange(split: TreeSplit, shard: ShardSpec): [number, number] {
  const { index, count } = shard;
  if (!(Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 0 && index < count)) {
    throw new RangeError(`shard ${index}/${count}: need 0 ≤ index < count`);
  }
  const U = split.units;
  return [Math.floor((index * U) / count), Math.floor(((index + 1) * U) / count)];
}

/** Number of sequences a unit range [lo, hi) owns. */
export function countInRange(split: TreeSplit, lo: number, hi: number): number {
  const { alphabetSize: a, maxLength: L, depth: d } = split;
  if (hi <= lo || d === 0) return 0;
  let n = (hi - lo) * (1 + countSequences(a, L - d));
  // Shallow nodes at depth k < d: node m's first unit is m·a^(d-k).
  let span = 1;
  for (let k = d - 1; k >= 1; k--) {
    span *= a;
    n += Math.ceil(hi / span) - Math.ceil(lo / span);
  }
  return n;
}

/** What walking one unit range found (the first disagreement as its input only). */
export interface RangeResult {
  readonly sequences: number;
  readonly disagreements: number;
  readonly first: Disagreement | null;
}

/** Compare compiled and symbolic runs on every sequence of length 1 … maxLength (or one shard of them). */
export function checkExhaustive(model: CompiledModel, opts: ExhaustiveOptions): CheckResult {
  const t0 = performance.now();
  const { alphabet, maxLength } = exhaustiveSetup(model, opts);
  const split = treeSplit(alphabet.length, maxLength);
  const [lo, hi] = shardRange(split, opts.shard ?? { index: 0, count: 1 });
  const r = checkUnitRange(model, { ...opts, alphabet, maxLength }, split, lo, hi);
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

/** The alphabet and the effective maximum length of an exhaustive check. */
export function exhaustiveSetup(model: CompiledModel, opts: ExhaustiveOptions): { alphabet: readonly number[]; maxLength: number } {
  const { program } = model;
  return {
    alphabet: opts.alphabet ?? program.vocab.map((_, k) => k),
    maxLength: Math.max(0, Math.min(opts.maxLength, program.context - 1)),
  };
}

/**
 * Walk the part of the prefix tree owned by units [lo, hi) of `split`:
 * each node is one KV-cached step of the simulator and one incremental step
 * of the symbolic run, both undone on the way back up.
 */
export function checkUnitRange(
  model: CompiledModel, opts: ExhaustiveOptions & { readonly alphabet: readonly number[] },
  split: TreeSplit, lo: number, hi: number,
): RangeResult {
  const { program } = model;
  const alphabet = opts.alphabet;
  const a = alphabet.length;
  const { depth: d, maxLength } = split;
  const total = countInRange(split, lo, hi);
  const sim = new IncrementalRun(model.weights, { precision: opts.precision ?? "float64" });
  const sym = new SymbolicRun(program);
  const compare = makeComparer(model);
  const L = program.layers.length;
  const ids = Int32Array.from(alphabet, tokenId);
  const pow = [1];
  for (let k = 1; k <= d; k++) pow.push(pow[k - 1]! * a);
  sim.step(BOS_ID);
  const path: number[] = [];
  let done = 0;
  let bad = 0;
  let first: Disagreement | null = null;
  const progress = opts.onProgress;

  const check = (depth: number) => {
    done++;
    const r = compare(sym, depth, sim.residualView(L), sim.logitsView());
    if (r) {
      bad++;
      first ??= { tokens: [...path], ...r };
    }
    if (progress && (done & 0x3fff) === 0) progress(done, total);
  };
  // Below the split depth: every node of the subtree, no range tests.
  const full = (depth: number) => {
    for (let c = 0; c < a; c++) {
      const t = alphabet[c]!;
      sim.step(ids[c]!);
      sym.push(t);
      path.push(t);
      check(depth);
      if (depth < maxLength) full(depth + 1);
      path.pop();
      sym.pop();
      sim.pop();
    }
  };
  // Above it: only children whose units meet [lo, hi); a node is checked by
  // the range holding its first unit.
  const partial = (depth: number, start: number) => {
    const span = pow[d - depth]!;
    for (let c = 0; c < a; c++) {
      const s = start + c * span;
      if (s + span <= lo || s >= hi) continue;
      const t = alphabet[c]!;
      sim.step(ids[c]!);
      sym.push(t);
      path.push(t);
      if (s >= lo) check(depth);
      if (depth < maxLength) {
        if (depth < d) partial(depth + 1, s);
        else full(depth + 1);
      }
      path.pop();
      sym.pop();
      sim.pop();
    }
  };
  if (d >= 1 && hi > lo) partial(1, 0);
  progress?.(done, total);
  return { sequences: done, disagreements: bad, first };
}

/** Merge results of consecutive unit ranges (in ascending order): counts add, the first first wins. */
export function mergeResults(parts: readonly RangeResult[]): RangeResult {
  let sequences = 0;
  let disagreements = 0;
  let first: Disagreement | null = null;
  for (const p of parts) {
    sequences += p.sequences;
    disagreements += p.disagreements;
    first ??= p.first;
  }
  return { sequences, disagreements, first };
}

/**
 * The full disagreement at the end of `input`, recomputed (exhaustive checks
 * compare each sequence at its last position; the computation depends on the
 * prefix only, so this gives the walk's own numbers).
 */
export function disagreementAt(model: CompiledModel, input: readonly number[], precision: Precision = "float64"): Disagreement | null {
  const sim = new IncrementalRun(model.weights, { precision });
  const sym = new SymbolicRun(model.program);
  sim.step(BOS_ID);
  for (const t of input) {
    sim.step(t + 1);
    sym.push(t);
  }
  const L = model.program.layers.length;
  const d = comparePosition(model, sym, input.length, sim.residualView(L), sim.logitsView());
  return d ? { tokens: [...input], ...d } : null;
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
  sim.step(BOS_ID);
  for (let p = 1; p <= input.length; p++) {
    sim.step(input[p - 1]! + 1);
    sym.push(input[p - 1]!);
    const d = comparePosition(model, sym, p, sim.residualView(L), sim.logitsView());
    if (d) return { tokens: [...input], ...d };
  }
  return null;
}
