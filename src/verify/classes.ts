/**
 * Exhaustive checks by renaming symmetry: one sequence per class of
 * sequences equal up to a renaming of the alphabet. The representative is
 * the restricted-growth string — alphabet[0] first, each new token the next
 * unused one — which is the class's first member in depth-first order, and
 * the representatives form a prefix-closed tree, walked exactly like the
 * full prefix tree (one KV-cached step per node, undone by pop). A node with
 * k distinct tokens stands for a·(a−1)·…·(a−k+1) sequences, all with its
 * verdict (proofs/12-renaming-symmetry.md; src/verify/symmetry.ts decides
 * when that holds).
 *
 * Sharding cuts the representatives at a split depth d into units, as
 * TreeSplit does for the full tree; but units' subtrees differ in size (a
 * unit with more distinct tokens has more children), so ranges are cut by
 * the number of tree nodes they hold, not by unit count.
 */
import type { CompiledModel } from "../compiler/compile.ts";
import { BOS_ID, tokenId } from "../model/tokenIds.ts";
import { SymbolicRun } from "../semantics/interpret.ts";
import { IncrementalRun } from "../sim/kvcache.ts";
import { type CheckResult, checkExhaustive, countSequences, type ExhaustiveOptions, exhaustiveSetup, MIN_UNITS, type ShardSpec } from "./check.ts";
import { type Disagreement, makeComparer } from "./compare.ts";
import { writtenFeatures } from "../compiler/decode.ts";
import { blockOf } from "../compiler/layout.ts";
import type { FloatArray } from "../model/weights.ts";
import { symmetryObstacle } from "./symmetry.ts";

/** The representatives' tree cut at depth `depth` into `units`, with each unit's weight (its subtree's node count). */
export interface ClassSplit {
  readonly alphabetSize: number;
  readonly maxLength: number;
  readonly depth: number;
  readonly units: number;
  /** prefix[u]: tree nodes owned by units 0 … u−1 (length units + 1). */
  readonly prefix: Float64Array;
  /** g[k][r]: extensions of exact length r of a representative with k distinct tokens. */
  readonly growth: readonly Float64Array[];
}

/** g[k][r] for k = 0 … a and r = 0 … R: representatives of length r extending one with k distinct tokens. */
export function growthTable(a: number, R: number): Float64Array[] {
  const g = Array.from({ length: a + 2 }, () => new Float64Array(R + 1));
  for (let k = 0; k <= a; k++) g[k]![0] = 1;
  for (let r = 1; r <= R; r++) {
    for (let k = 0; k <= a; k++) g[k]![r] = k * g[k]![r - 1]! + (k < a ? g[k + 1]![r - 1]! : 0);
  }
  return g;
}

/** Number of renaming classes of sequences of length 1 … L over a tokens (Σ_n Σ_{k≤a} S(n, k)). */
export function countClasses(a: number, L: number): number {
  if (a === 0) return 0;
  const g = growthTable(a, L);
  let n = 0;
  for (let r = 1; r <= L; r++) n += g[0]![r]!;
  return n;
}

/** a·(a−1)·…·(a−k+1): the sequences a representative with k distinct tokens stands for. */
export function classSize(a: number, k: number): number {
  let s = 1;
  for (let x = 0; x < k; x++) s *= a - x;
  return s;
}

/** Cut the representatives of length ≤ maxLength over `alphabetSize` tokens into units (see ClassSplit). */
export function classSplit(alphabetSize: number, maxLength: number): ClassSplit {
  const a = alphabetSize;
  const g = growthTable(a, maxLength);
  let depth = Math.min(1, maxLength);
  while (depth < maxLength && g[0]![depth]! < MIN_UNITS) depth++;
  const units = depth === 0 || a === 0 ? 0 : g[0]![depth]!;
  // Subtree size of a unit with k distinct tokens: itself and its extensions up to maxLength.
  const weight = Array.from({ length: a + 1 }, (_, k) => {
    let w = 0;
    for (let r = 0; r <= maxLength - depth; r++) w += g[k]![r]!;
    return w;
  });
  const prefix = new Float64Array(units + 1);
  let u = 0;
  // Units in depth-first order; a shallower node (depth 1 … d−1) is owned by
  // its first descendant unit, the next one the walk reaches.
  let pending = 0;
  const walk = (level: number, k: number) => {
    if (level === depth) {
      prefix[u + 1] = prefix[u]! + weight[k]! + pending;
      pending = 0;
      u++;
      return;
    }
    if (level >= 1) pending++;
    const kids = k < a ? k + 1 : k;
    for (let c = 0; c < kids; c++) walk(level + 1, c === k ? k + 1 : k);
  };
  if (units > 0) walk(0, 0);
  return { alphabetSize: a, maxLength, depth, units, prefix, growth: g };
}

/** First index u with prefix[u] ≥ w. */
function lowerBound(prefix: Float64Array, w: number): number {
  let lo = 0;
  let hi = prefix.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (prefix[mid]! >= w) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The unit range [lo, hi) of shard `index` of `count`: contiguous, balanced by tree nodes. */
export function classShardRange(split: ClassSplit, shard: ShardSpec): [number, number] {
  const { index, count } = shard;
  if (!(Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 0 && index < count)) {
    throw new RangeError(`shard ${index}/${count}: need 0 ≤ index < count`);
  }
  return [cut(split, index, count), cut(split, index + 1, count)];
}

/** Boundary i of `count` balanced pieces of the units [lo, hi). */
export function cut(split: ClassSplit, i: number, count: number, lo = 0, hi = split.units): number {
  if (i <= 0) return lo;
  if (i >= count) return hi;
  const p = split.prefix;
  const w = p[lo]! + ((p[hi]! - p[lo]!) * i) / count;
  return Math.min(hi, Math.max(lo, lowerBound(p, w)));
}

/** Tree nodes (classes) owned by units [lo, hi). */
export function classesInRange(split: ClassSplit, lo: number, hi: number): number {
  return hi > lo ? split.prefix[hi]! - split.prefix[lo]! : 0;
}

/** What walking the representatives of one unit range found. */
export interface ClassRangeResult {
  /** Representatives checked. */
  readonly classes: number;
  /** Sequences they stand for (the sum of their class sizes). */
  readonly sequences: number;
  /** Sequences of the classes whose representative disagreed. */
  readonly disagreements: number;
  readonly disagreeingClasses: number;
  /** The first disagreement in depth-first order: a representative. */
  readonly first: Disagreement | null;
  /**
   * A representative whose decoding had a tie that picks by index (see
   * decodingTie): its class members' verdicts may differ, so the walk stopped
   * there and the counts are void. null when none.
   */
  readonly tie: readonly number[] | null;
}

/**
 * The decisions of the comparer that depend on index order: a categorical
 * block decodes to the *first* coordinate holding its maximum above ½, and a
 * predicted token is the *first* maximal logit. With two coordinates equal at
 * such a maximum, renaming can change the verdict; everything else the
 * comparer does is coordinate by coordinate. Returns a checker that says
 * whether a position's final residual and logits hold such a tie.
 */
export function decodingTie(model: CompiledModel): (resid: ArrayLike<number>, logits: ArrayLike<number>, predicted: boolean) => boolean {
  const blocks = writtenFeatures(model.program).filter((f) => !f.distribution).map((f) => blockOf(model.layout, f.name));
  const V = model.program.vocab.length;
  const half = model.scales.logitScale / 2;
  return (resid, logits, predicted) => {
    // Categorical blocks: conservatively, whatever the symbolic value.
    for (const b of blocks) {
      let hi = 0.5;
      let n = 0;
      for (let v = b.offset; v < b.offset + b.size; v++) {
        const x = resid[v]!;
        if (x > hi) [hi, n] = [x, 1];
        else if (x === hi && n > 0) n++;
      }
      if (n > 1) return true;
    }
    // Logits: the argmax decides only when the semantics predicts a token
    // (⊥ asks for flat logits, a distribution is compared coordinate by coordinate).
    if (!predicted) return false;
    let hi = -Infinity;
    let n = 0;
    for (let v = 1; v <= V; v++) {
      const x = logits[v]!;
      if (x > hi) [hi, n] = [x, 1];
      else if (x === hi) n++;
    }
    // Flat logits (below κ/2) decide "⊥" whatever their order.
    return n > 1 && hi >= half;
  };
}

/**
 * Walk the representatives owned by units [lo, hi): each is one KV-cached
 * simulator step and one symbolic step, undone on the way up. The caller
 * must have established that the model qualifies (symmetryObstacle).
 */
export function checkClassRange(
  model: CompiledModel, opts: ExhaustiveOptions & { readonly alphabet: readonly number[] },
  split: ClassSplit, lo: number, hi: number,
): ClassRangeResult {
  const { program } = model;
  const alphabet = opts.alphabet;
  const a = alphabet.length;
  const { depth: d, maxLength, growth: g } = split;
  const total = classesInRange(split, lo, hi);
  const sim = new IncrementalRun(model.weights, { precision: opts.precision ?? "float64" });
  const sym = new SymbolicRun(program);
  const compare = makeComparer(model);
  const tied = decodingTie(model);
  const L = program.layers.length;
  const ids = Int32Array.from(alphabet, tokenId);
  const size = Array.from({ length: a + 1 }, (_, k) => classSize(a, k));
  sim.step(BOS_ID);
  const path: number[] = [];
  let done = 0;
  let covered = 0;
  let bad = 0;
  let badClasses = 0;
  let first: Disagreement | null = null;
  let tie: number[] | null = null;
  const progress = opts.onProgress;

  const check = (depth: number, k: number) => {
    done++;
    covered += size[k]!;
    const resid: FloatArray = sim.residualView(L);
    const logits: FloatArray = sim.logitsView();
    if (tied(resid, logits, typeof sym.prediction(depth) === "number")) tie ??= [...path];
    const r = compare(sym, depth, resid, logits);
    if (r) {
      bad += size[k]!;
      badClasses++;
      first ??= { tokens: [...path], ...r };
    }
    if (progress && (done & 0x3fff) === 0) progress(done, total);
  };
  const enter = (c: number) => {
    const t = alphabet[c]!;
    sim.step(ids[c]!);
    sym.push(t);
    path.push(t);
  };
  const leave = () => {
    path.pop();
    sym.pop();
    sim.pop();
  };
  // Below the split depth: every representative of the subtree.
  const full = (depth: number, k: number) => {
    const kids = k < a ? k + 1 : k;
    for (let c = 0; c < kids && tie === null; c++) {
      const k2 = c === k ? k + 1 : k;
      enter(c);
      check(depth, k2);
      if (depth < maxLength) full(depth + 1, k2);
      leave();
    }
  };
  // Above it: only children whose units meet [lo, hi); a node is checked by the range holding its first unit.
  const partial = (depth: number, k: number, start: number) => {
    const kids = k < a ? k + 1 : k;
    let s = start;
    for (let c = 0; c < kids && tie === null; c++) {
      const k2 = c === k ? k + 1 : k;
      const span = g[k2]![d - depth]!;
      if (!(s + span <= lo || s >= hi)) {
        enter(c);
        if (s >= lo) check(depth, k2);
        if (depth < maxLength) {
          if (depth < d) partial(depth + 1, k2, s);
          else full(depth + 1, k2);
        }
        leave();
      }
      s += span;
    }
  };
  if (d >= 1 && hi > lo) partial(1, 0, 0);
  progress?.(done, total);
  return { classes: done, sequences: covered, disagreements: bad, disagreeingClasses: badClasses, first, tie };
}

/** Raised when a model does not qualify for the class walk. */
export class SymmetryError extends Error {
  override name = "SymmetryError";
}

/** checkExhaustive by renaming classes, in this thread; throws SymmetryError when the model does not qualify. */
export function checkClasses(model: CompiledModel, opts: ExhaustiveOptions): ClassRangeResult & { readonly seconds: number } {
  const t0 = performance.now();
  const why = symmetryObstacle(model);
  if (why) throw new SymmetryError(why);
  const { alphabet, maxLength } = exhaustiveSetup(model, opts);
  const split = classSplit(alphabet.length, maxLength);
  const [lo, hi] = classShardRange(split, opts.shard ?? { index: 0, count: 1 });
  const r = checkClassRange(model, { ...opts, alphabet, maxLength }, split, lo, hi);
  if (r.tie) throw new SymmetryError(tieReason(r.tie));
  if (!opts.shard || opts.shard.count === 1) assertCoverage(r.sequences, alphabet.length, maxLength);
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

/** What decided the walk of an exhaustive check: classes, or every sequence and why. */
export interface SymmetryUse {
  readonly used: boolean;
  readonly reason?: string;
}

/**
 * An exhaustive check in this thread by renaming classes when the model
 * qualifies and no decoding tie voids it, else (saying why) by every sequence.
 */
export function checkExhaustiveBySymmetry(
  model: CompiledModel, opts: ExhaustiveOptions & { readonly noSymmetry?: boolean },
): CheckResult & { readonly symmetry: SymmetryUse } {
  const why = opts.noSymmetry ? "--no-symmetry" : symmetryObstacle(model);
  if (why === null) {
    try {
      return { ...checkClasses(model, opts), symmetry: { used: true } };
    } catch (e) {
      if (!(e instanceof SymmetryError)) throw e;
      return { ...checkExhaustive(model, opts), symmetry: { used: false, reason: e.message } };
    }
  }
  return { ...checkExhaustive(model, opts), symmetry: { used: false, reason: why } };
}

/** Why a tie voids the class walk. */
export function tieReason(tokens: readonly number[]): string {
  return `a decoding tie at the representative [${tokens.join(", ")}] picks by index, so its class members may differ`;
}

/** The classes of a whole check must stand for exactly Σ_{n=1..L} a^n sequences. */
export function assertCoverage(sequences: number, a: number, L: number): void {
  const want = countSequences(a, L);
  if (sequences !== want) throw new Error(`renaming classes cover ${sequences} sequences, not the ${want} of length 1 … ${L} over ${a} tokens`);
}
