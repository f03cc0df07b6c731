/**
 * Exhaustive checks of Theorems 1–3 for I_k over every prompt up to a
 * length: a prefix-tree walk with the direct machine (one push per tree
 * node, generation undone by pops), collecting the statistics the proofs
 * report and every violated statement. Summaries of disjoint parts of the
 * tree merge, so the walk can be split across worker threads by prefix.
 */
import { analyse, IkMachine, ikViolations, walkPrompts } from "./ik.ts";

export interface ExhaustiveSummary {
  readonly V: number;
  readonly k: number;
  readonly maxLen: number;
  nodes: number;
  /** Generation steps taken in total (to the certified lock + extra). */
  steps: number;
  /** claim → number of prompts violating it. */
  violations: Record<string, number>;
  /** First violating prompt in tree order, per claim. */
  firstViolation: Record<string, { prompt: string; detail: string }>;
  /** Per prompt length: the largest lock time, and the lexicographically least prompt attaining it. */
  maxLockByLength: number[];
  witnessByLength: string[];
  maxFallback: number;
  /** Prompts with more than V^k fallback steps (the originally conjectured bound), and the first. */
  fallbackAboveVk: number;
  fallbackAboveVkExample: string | null;
  maxFirstGap: number;
  maxFinalGap: number;
  /** Largest minimal period observed, and the shortest (then least) prompt attaining it. */
  maxPeriod: number;
  maxPeriodWitness: string;
}

export const promptString = (p: readonly number[]): string => p.join(" ");

/** Witness order: shorter first, then lexicographically least (tokens are single digits here or compared numerically). */
export function earlierWitness(a: string, b: string): boolean {
  const pa = a === "" ? [] : a.split(" ").map(Number);
  const pb = b === "" ? [] : b.split(" ").map(Number);
  if (pa.length !== pb.length) return pa.length < pb.length;
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) return pa[i]! < pb[i]!;
  return false;
}

export function emptySummary(V: number, k: number, maxLen: number): ExhaustiveSummary {
  return {
    V,
    k,
    maxLen,
    nodes: 0,
    steps: 0,
    violations: {},
    firstViolation: {},
    maxLockByLength: new Array<number>(maxLen + 1).fill(-1),
    witnessByLength: new Array<string>(maxLen + 1).fill(""),
    maxFallback: 0,
    fallbackAboveVk: 0,
    fallbackAboveVkExample: null,
    maxFirstGap: 0,
    maxFinalGap: 0,
    maxPeriod: 0,
    maxPeriodWitness: "",
  };
}

export interface WalkOptions {
  /** Steps run past the certified lock to test the locking lemma (default V^k + k). */
  readonly extra?: number;
  /** Walk only the subtree of this prefix (its proper prefixes are not visited). */
  readonly prefix?: readonly number[];
  /** Visit only prompts of length ≥ minLen (used with maxLen to split by depth). */
  readonly minLen?: number;
  readonly onProgress?: (nodes: number) => void;
}

/** Walk all prompts of length ≤ maxLen (or one prefix's subtree) and summarise. */
export function exhaustiveIk(V: number, k: number, maxLen: number, opts: WalkOptions = {}): ExhaustiveSummary {
  const sum = emptySummary(V, k, maxLen);
  const extra = opts.extra ?? V ** k + k;
  const minLen = opts.minLen ?? 0;
  const m = new IkMachine(V, k, maxLen + 4 * (maxLen + k + 2) ** 2 + 2 * extra + 64);
  walkPrompts(
    m,
    maxLen,
    (mm, prompt) => {
      if (prompt.length < minLen) return;
      const a = analyse(mm, extra);
      sum.nodes++;
      if (opts.onProgress && (sum.nodes & 0xfffff) === 0) opts.onProgress(sum.nodes);
      sum.steps += a.emitted.length;
      for (const v of ikViolations(a, V, k)) {
        sum.violations[v.claim] = (sum.violations[v.claim] ?? 0) + 1;
        sum.firstViolation[v.claim] ??= { prompt: promptString(prompt), detail: v.detail };
      }
      const L = prompt.length;
      if (a.lockTime > sum.maxLockByLength[L]!) {
        sum.maxLockByLength[L] = a.lockTime;
        sum.witnessByLength[L] = promptString(prompt);
      }
      sum.maxFallback = Math.max(sum.maxFallback, a.fallbackSteps);
      if (a.fallbackSteps > V ** k) {
        sum.fallbackAboveVk++;
        sum.fallbackAboveVkExample ??= promptString(prompt);
      }
      sum.maxFirstGap = Math.max(sum.maxFirstGap, a.firstGap);
      sum.maxFinalGap = Math.max(sum.maxFinalGap, a.finalGap);
      if (a.cycle.period > sum.maxPeriod || (a.cycle.period === sum.maxPeriod && earlierWitness(promptString(prompt), sum.maxPeriodWitness))) {
        sum.maxPeriod = a.cycle.period;
        sum.maxPeriodWitness = promptString(prompt);
      }
    },
    opts.prefix ?? [],
  );
  return sum;
}

/** Merge b (a later part of the tree, in lexicographic order) into a. */
export function mergeSummaries(a: ExhaustiveSummary, b: ExhaustiveSummary): ExhaustiveSummary {
  a.nodes += b.nodes;
  a.steps += b.steps;
  for (const [c, n] of Object.entries(b.violations)) a.violations[c] = (a.violations[c] ?? 0) + n;
  for (const [c, f] of Object.entries(b.firstViolation)) a.firstViolation[c] ??= f;
  b.maxLockByLength.forEach((x, L) => {
    if (x > a.maxLockByLength[L]!) {
      a.maxLockByLength[L] = x;
      a.witnessByLength[L] = b.witnessByLength[L]!;
    }
  });
  a.maxFallback = Math.max(a.maxFallback, b.maxFallback);
  a.fallbackAboveVk += b.fallbackAboveVk;
  a.fallbackAboveVkExample ??= b.fallbackAboveVkExample;
  a.maxFirstGap = Math.max(a.maxFirstGap, b.maxFirstGap);
  a.maxFinalGap = Math.max(a.maxFinalGap, b.maxFinalGap);
  if (b.maxPeriod > a.maxPeriod || (b.maxPeriod === a.maxPeriod && earlierWitness(b.maxPeriodWitness, a.maxPeriodWitness))) {
    a.maxPeriod = b.maxPeriod;
    a.maxPeriodWitness = b.maxPeriodWitness;
  }
  return a;
}

/** Largest lock time over all lengths, with its shortest (then least) witness. */
export function overallMaxLock(s: ExhaustiveSummary): { lockTime: number; witness: string } {
  let best = { lockTime: -1, witness: "" };
  s.maxLockByLength.forEach((x, L) => {
    if (x > best.lockTime) best = { lockTime: x, witness: s.witnessByLength[L]! };
  });
  return best;
}

/**
 * Split the walk of all prompts of length ≤ maxLen into tasks: the prompts
 * shorter than `depth` (one task), then one task per prefix of length
 * `depth`, in lexicographic order — merging the results in this order keeps
 * the witnesses lexicographically least.
 */
export function splitTasks(V: number, maxLen: number, depth: number): { prefix: number[]; maxLen: number; minLen: number }[] {
  const d = Math.min(depth, maxLen);
  const tasks: { prefix: number[]; maxLen: number; minLen: number }[] = [];
  if (d > 0) tasks.push({ prefix: [], maxLen: d - 1, minLen: 0 });
  const rec = (p: number[]) => {
    if (p.length === d) {
      tasks.push({ prefix: [...p], maxLen, minLen: 0 });
      return;
    }
    for (let t = 0; t < V; t++) rec([...p, t]);
  };
  rec([]);
  return tasks;
}
