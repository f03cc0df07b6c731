/**
 * A fast, direct implementation of greedy I_k generation with gap tracking,
 * for the loop theorems (proofs/01–03). Independent of the interpreter; it is
 * cross-checked against the reference semantics (SymbolicRun on the I_k
 * program, see symbolic.ts here) and against compiled weights (compiled.ts).
 *
 * Conventions (proofs/README.md): positions are 1-based (0 is BOS). With n
 * tokens, the current last position is t = n; u_t is the k-gram s_{t−k+1..t}
 * (defined for t ≥ k); the match is the latest j < t with j ≥ k and u_j = u_t;
 * the emitted token is s_{j+1}, else the fallback token 0. Gap g = t − j.
 * This is inductionProgramText({k, rule: "latest"}) with `j <= i`: its key
 * position is j + 1 in this notation.
 */
import { type Cycle, minimalCycle } from "../../src/generate/cycles.ts";
import { FALLBACK_TOKEN } from "../../src/generate/symbolic.ts";

/** A sequence with a table "k-gram → latest end position before the current one"; push/pop in O(1). */
export class IkMachine {
  readonly size: number;
  private readonly seq: Int32Array;
  private readonly code: Int32Array;
  private readonly last: Int32Array;
  private readonly undo: Int32Array;
  n = 0;

  constructor(
    readonly V: number,
    readonly k: number,
    readonly capacity = 1 << 14,
  ) {
    if (!(V >= 1 && k >= 1)) throw new Error(`IkMachine: need V ≥ 1 and k ≥ 1, got V=${V}, k=${k}`);
    this.size = V ** k;
    if (this.size > 1 << 24) throw new Error(`IkMachine: V^k = ${this.size} is too large for a dense table`);
    this.seq = new Int32Array(capacity + 1);
    this.code = new Int32Array(capacity + 1).fill(-1);
    this.last = new Int32Array(this.size);
    this.undo = new Int32Array(capacity + 1);
  }

  /** Token at 1-based position m. */
  token(m: number): number {
    return this.seq[m]!;
  }

  /** Code of the k-gram ending at position m (−1 when m < k). */
  gram(m: number): number {
    return this.code[m]!;
  }

  push(tok: number): void {
    const n = this.n;
    if (n + 1 > this.capacity) throw new Error(`IkMachine: capacity ${this.capacity} exceeded`);
    const { k, V } = this;
    // The k-gram ending at n stops being "current" and becomes an earlier occurrence.
    if (n >= k) {
      const c = this.code[n]!;
      this.undo[n + 1] = this.last[c]!;
      this.last[c] = n;
    }
    const m = n + 1;
    this.seq[m] = tok;
    if (m > k) this.code[m] = (this.code[n]! % (this.size / V)) * V + tok;
    else if (m === k) {
      let c = 0;
      for (let d = 1; d <= k; d++) c = c * V + this.seq[d]!;
      this.code[m] = c;
    } else this.code[m] = -1;
    this.n = m;
  }

  pop(): void {
    const n = this.n;
    if (n === 0) throw new Error("IkMachine.pop: empty");
    if (n - 1 >= this.k) this.last[this.code[n - 1]!] = this.undo[n]!;
    this.n = n - 1;
  }

  /** The matched position j (≥ k) for the current position, or 0 when there is none. */
  match(): number {
    const c = this.code[this.n]!;
    return this.n < this.k || c < 0 ? 0 : this.last[c]!;
  }

  pushAll(tokens: readonly number[]): this {
    for (const t of tokens) this.push(t);
    return this;
  }
}

export interface IkTrace {
  /** Generated tokens; step s emits emitted[s]. */
  readonly emitted: number[];
  /** Gap at each step; 0 marks a fallback step (no match). */
  readonly gaps: number[];
  /** Code of the current k-gram at each step (−1 while fewer than k tokens). */
  readonly grams: number[];
}

/** Greedy I_k generation for a fixed number of steps; the machine is restored afterwards. */
export function traceSteps(m: IkMachine, steps: number): IkTrace {
  const emitted: number[] = [];
  const gaps: number[] = [];
  const grams: number[] = [];
  for (let s = 0; s < steps; s++) {
    const j = m.match();
    const tok = j === 0 ? FALLBACK_TOKEN : m.token(j + 1);
    grams.push(m.gram(m.n));
    gaps.push(j === 0 ? 0 : m.n - j);
    emitted.push(tok);
    m.push(tok);
  }
  for (let s = 0; s < steps; s++) m.pop();
  return { emitted, gaps, grams };
}

export interface IkAnalysis extends IkTrace {
  readonly promptLength: number;
  /** Number of steps that used the fallback (all before the first match, by Theorem 1). */
  readonly fallbackSteps: number;
  /** Step of the first match. */
  readonly firstMatch: number;
  readonly firstGap: number;
  /** First step from which the gap is constant (certified by the locking lemma). */
  readonly lockStep: number;
  readonly finalGap: number;
  /** lockStep − firstMatch. */
  readonly lockTime: number;
  /** Exact eventual cycle of the emitted stream. */
  readonly cycle: Cycle;
}

/**
 * Generate greedily from the machine's current sequence until the locking
 * lemma certifies the final gap (the gap g has held for g consecutive
 * steps), then `extra` more steps (to test the lemma), and read off the
 * exact cycle. The machine is restored afterwards.
 */
export function analyse(m: IkMachine, extra = 0, maxSteps = m.capacity - m.n - 1): IkAnalysis {
  const promptLength = m.n;
  const emitted: number[] = [];
  const gaps: number[] = [];
  const grams: number[] = [];
  let firstMatch = -1;
  let runGap = 0;
  let runStart = 0;
  let lockStep = -1;
  let s = 0;
  for (; ; s++) {
    if (s >= maxSteps) throw new Error(`analyse: no lock within ${maxSteps} steps (prompt length ${promptLength})`);
    const j = m.match();
    const g = j === 0 ? 0 : m.n - j;
    const tok = j === 0 ? FALLBACK_TOKEN : m.token(j + 1);
    grams.push(m.gram(m.n));
    gaps.push(g);
    emitted.push(tok);
    m.push(tok);
    if (g > 0 && firstMatch < 0) firstMatch = s;
    if (g !== runGap) {
      runGap = g;
      runStart = s;
    }
    if (lockStep < 0 && g > 0 && s - runStart + 1 === g) lockStep = runStart;
    if (lockStep >= 0 && s >= lockStep + runGap - 1 + extra) break;
  }
  for (let r = 0; r <= s; r++) m.pop();
  const finalGap = gaps[lockStep]!;
  const cycle = minimalCycle(emitted, Math.max(0, lockStep - finalGap), finalGap);
  let fallbackSteps = 0;
  for (const g of gaps) if (g === 0) fallbackSteps++;
  return {
    emitted,
    gaps,
    grams,
    promptLength,
    fallbackSteps,
    firstMatch,
    firstGap: gaps[firstMatch]!,
    lockStep,
    finalGap,
    lockTime: lockStep - firstMatch,
    cycle,
  };
}

/** A violated statement, with enough to reproduce it. */
export interface Violation {
  readonly claim: string;
  readonly detail: string;
}

/**
 * Check Theorems 1–3 (with the sharp fallback bound and the invariants of the
 * lock-time proof) on one analysis made with extra ≥ 0 steps past the
 * certified lock. Returns the violations.
 */
export function ikViolations(a: IkAnalysis, V: number, k: number): Violation[] {
  const out: Violation[] = [];
  const bad = (claim: string, detail: string) => out.push({ claim, detail });
  const { gaps } = a;
  // Fallback steps form a prefix; after the first match every step matches (Theorem 1).
  for (let s = 0; s < gaps.length; s++) {
    if ((s < a.firstMatch) !== (gaps[s] === 0)) bad("always matched after the first match", `step ${s}, gaps ${gaps.join(" ")}`);
  }
  for (let s = a.firstMatch + 1; s < gaps.length; s++) {
    if (gaps[s]! > gaps[s - 1]!) bad("monotone gap", `g[${s}] = ${gaps[s]} > g[${s - 1}] = ${gaps[s - 1]}`);
  }
  // The locking lemma: once g has held for g steps it holds for every later step run.
  for (let s = a.lockStep; s < gaps.length; s++) {
    if (gaps[s] !== a.finalGap) bad("locking lemma", `gap ${gaps[s]} at step ${s} after lock at ${a.lockStep} with gap ${a.finalGap}`);
  }
  // Non-final gap values hold for at most g − 1 steps (the weak lock-time bound's lemma).
  // This cannot fire: `analyse` puts the lock at the first run of length g, so every earlier
  // run is shorter by construction. It is a consistency check of `analyse`; the lemma itself
  // (Theorem 2(d)) is tested by the `extra` steps, through "locking lemma" above.
  for (let s = a.firstMatch; s < a.lockStep; ) {
    let e = s;
    while (gaps[e + 1] === gaps[s]) e++;
    if (e - s + 1 >= gaps[s]!) bad("non-final gap held < g steps", `gap ${gaps[s]} held ${e - s + 1} steps`);
    s = e + 1;
  }
  if (a.fallbackSteps > k + 1) bad("fallback steps ≤ k + 1", `${a.fallbackSteps} fallback steps`);
  if (a.finalGap > a.firstGap) bad("period ≤ first gap", `final ${a.finalGap} > first ${a.firstGap}`);
  if (a.finalGap > V ** k) bad("period ≤ V^k", `final gap ${a.finalGap} > ${V ** k}`);
  if (a.cycle.period !== a.finalGap) bad("minimal period = final gap", `period ${a.cycle.period}, final gap ${a.finalGap}`);
  const window = a.grams.slice(a.lockStep, a.lockStep + a.finalGap);
  if (new Set(window).size !== a.finalGap || window.includes(-1)) {
    bad("the period's k-grams are distinct", `grams ${window.join(" ")}`);
  }
  if (2 * a.lockTime >= a.firstGap * a.firstGap) bad("weak lock bound < g0²/2", `lock time ${a.lockTime}, g0 ${a.firstGap}`);
  // Theorem 3 (lock time) and the invariants of its proof.
  if (a.lockTime > V ** k - 1) bad("lock time ≤ V^k − 1", `lock time ${a.lockTime}`);
  if (a.lockTime > Math.max(0, a.firstGap - 2)) bad("lock time ≤ max(0, g0 − 2)", `lock time ${a.lockTime}, g0 ${a.firstGap}`);
  if (a.lockTime > Math.max(0, a.promptLength - k - 2)) bad("lock time ≤ max(0, n0 − k − 2)", `lock time ${a.lockTime}, prompt length ${a.promptLength}`);
  for (let s = a.firstMatch; s < a.lockStep; s++) {
    // Unlocked window = old part A (≥ 3 entries: a repeated k-gram twice, and the prompt's last k-gram) + B.
    if (gaps[s]! < s - a.firstMatch + 3) bad("unlocked window holds B and ≥ 3 old k-grams", `gap ${gaps[s]} at step ${s}`);
  }
  const born = a.grams.slice(a.firstMatch + 1, a.lockStep + 1);
  if (new Set(born).size !== born.length) bad("k-grams generated before the lock are distinct", `grams ${born.join(" ")}`);
  return out;
}

/**
 * Depth-first walk over every prompt of length 0..maxLen over V tokens,
 * calling visit at each node with the machine holding that prompt.
 * Prompts are visited in order of the tree (a prompt before its extensions;
 * siblings in token order). `prefix` fixes the first tokens (for splitting).
 */
export function walkPrompts(
  m: IkMachine,
  maxLen: number,
  visit: (m: IkMachine, prompt: readonly number[]) => void,
  prefix: readonly number[] = [],
): number {
  const prompt = [...prefix];
  m.pushAll(prefix);
  let nodes = 0;
  const go = () => {
    visit(m, prompt);
    nodes++;
    if (prompt.length >= maxLen) return;
    for (let t = 0; t < m.V; t++) {
      m.push(t);
      prompt.push(t);
      go();
      prompt.pop();
      m.pop();
    }
  };
  go();
  for (let r = 0; r < prefix.length; r++) m.pop();
  return nodes;
}

/**
 * The lexicographically least de Bruijn sequence B(V, k) (Fredricksen–Kessler–Maiorana:
 * concatenate, in lexicographic order, the Lyndon words over 0..V−1 whose length
 * divides k). Read cyclically, it holds each of the V^k k-grams exactly once, and
 * it starts with 0^k.
 */
export function deBruijn(V: number, k: number): number[] {
  if (!(V >= 1 && k >= 1)) throw new Error(`deBruijn: need V ≥ 1 and k ≥ 1, got V=${V}, k=${k}`);
  const out: number[] = [];
  const a = new Array<number>(k + 1).fill(0);
  // Ruskey's recursive FKM generation: a[1..t−1] is a prenecklace with longest Lyndon prefix
  // of length p; a Lyndon word of length p dividing k is emitted when t passes k.
  const gen = (t: number, p: number): void => {
    if (t > k) {
      if (k % p === 0) for (let i = 1; i <= p; i++) out.push(a[i]!);
      return;
    }
    a[t] = a[t - p]!;
    gen(t + 1, p);
    for (let c = a[t - p]! + 1; c < V; c++) {
      a[t] = c;
      gen(t + 1, t);
    }
  };
  gen(1, 1);
  return out;
}

/**
 * Theorem 3's tightness family (proofs/03-lock-time.md): with d = deBruijn(V, k),
 * N = V^k and h_i the cyclic k-gram d_i … d_{i+k−1} (h_0 = 0^k), the prompt whose
 * k-grams are h_1, …, h_{N−1}, h_0, h_0, h_1 in order, that is
 * d_1 … d_{N−1} d_0 … d_{k−1} 0 d_k (length N + k + 1). Its lock time is N − 1.
 */
export function deBruijnLockPrompt(V: number, k: number): number[] {
  if (V < 2) throw new Error(`deBruijnLockPrompt: needs V ≥ 2, got ${V}`);
  const d = deBruijn(V, k);
  const N = d.length;
  return [...d.slice(1), ...d.slice(0, k), 0, d[k % N]!];
}

/**
 * A simple cycle of length L through 0^k in the de Bruijn graph B(V, k), other than the
 * self-loop: k-grams h_0 = 0^k, h_1, …, h_{L−1}, pairwise distinct, each the shift of the one
 * before (h_{L−1} shifts back to h_0). Found by depth-first search, k-grams coded base V; null
 * when none exists. Such a cycle exists only for k + 1 ≤ L ≤ V^k (leaving 0^k needs a nonzero
 * token, and returning needs k zeros after it).
 */
export function deBruijnCycleThroughZero(V: number, k: number, L: number): number[][] | null {
  const N = V ** k;
  if (V < 2 || L < 2 || L > N) return null;
  const used = new Uint8Array(N);
  const path = [0];
  used[0] = 1;
  // Steps still needed from x back to 0: one per k-gram position up to and including its last nonzero token.
  const toZero = (x: number): number => {
    let z = 0;
    while (z < k && x % V ** (z + 1) === 0) z++;
    return k - z;
  };
  const go = (x: number): boolean => {
    const d = path.length;
    for (let a = V - 1; a >= 0; a--) {
      const y = (x * V + a) % N;
      if (y === 0) {
        if (d === L) return true;
        continue;
      }
      if (used[y] || d + toZero(y) > L) continue;
      used[y] = 1;
      path.push(y);
      if (go(y)) return true;
      path.pop();
      used[y] = 0;
    }
    return false;
  };
  if (!go(0)) return null;
  return path.map((x) => Array.from({ length: k }, (_, r) => Math.floor(x / V ** (k - 1 - r)) % V));
}

/**
 * Theorem 3's family at prompt length L + k + 1: for a cycle h_0 = 0^k, h_1, …, h_{L−1} through
 * 0^k, the prompt whose k-grams are h_1, …, h_{L−1}, h_0, h_0, h_1. Its lock time is L − 1; with
 * L = V^k (a de Bruijn cycle) this is `deBruijnLockPrompt`'s construction.
 */
export function cycleLockPrompt(cycle: readonly (readonly number[])[]): number[] {
  const L = cycle.length;
  const grams = [...cycle.slice(1), cycle[0]!, cycle[0]!, cycle[1 % L]!];
  return [...grams[0]!, ...grams.slice(1).map((g) => g[g.length - 1]!)];
}
