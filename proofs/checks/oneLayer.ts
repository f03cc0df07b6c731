/**
 * The last-position induction problem for heads whose keys see only raw
 * (token, position) — proofs/09 (w = 1) and proofs/10 (values carry a window
 * of the w tokens ending at the key, the original statement's numbering). Encodes every length-n sequence over V tokens as an
 * input of a decision-list instance (./decisionList.ts), one instance per
 * query class, and turns greedy's results into heads and certificates.
 *
 * Conventions: a sequence is s_1 … s_n (index 0 … n−1 in arrays), position 0
 * is BOS. The *induction answer* at n is s_{j+1} for the latest j < n with
 * s_j = s_n. A sequence with no such j is, by `undefinedAs`:
 *   "dontcare" — unconstrained (the default; the original statement's claims hold for it);
 *   "bottom"   — the head must output a distinct symbol ⊥ (DESIGN's ⊥);
 *   "fallback" — the head must output token 0 (FALLBACK_TOKEN).
 *
 * Keys: BOS and every position p = 1 … n (the query's own, j ≤ i, included),
 * with key value (s_p, p); BOS is one key value present in every input. The
 * key id is 0 for BOS and 1 + (p−1)·V + s_p otherwise.
 *
 * What a head may read besides the ranking (`queryWindow`, only for w ≥ 2):
 *   "none"    — ranking by s_n; output f(s_n, key value, key's window): the
 *               default, and the class whose table matches the original statement's;
 *   "output"  — ranking by s_n; output f(s_n, key value, key's window, query's
 *               window) (the query's residual holds its own window too);
 *   "ranking" — ranking by (s_n, query's window) (Q-composition); output as "output".
 * The window of position p is (s_{p−w+1}, …, s_p), with ⊥ for positions ≤ 0
 * (BOS carries no values); s_p is already in the key value, so an observation
 * encodes the w − 1 earlier tokens. With w = 1 the three coincide: proofs/09's class.
 * Certificates (finding, minimising, checking them) are in ./certificates.ts.
 */
import { greedy, type Instance, type Rule } from "./decisionList.ts";

export type UndefinedAs = "dontcare" | "bottom" | "fallback";
export type QueryWindow = "output" | "none" | "ranking";

export interface ProblemSpec {
  readonly n: number;
  readonly V: number;
  /** Each value carries the w tokens ending at its position (1: the token alone, proofs/09). */
  readonly w?: number;
  readonly undefinedAs?: UndefinedAs;
  readonly queryWindow?: QueryWindow;
}

export const spec0 = (s: ProblemSpec) => ({ w: 1, undefinedAs: "dontcare" as UndefinedAs, queryWindow: "none" as QueryWindow, ...s });

/** The induction answer at the last position: a token, V for ⊥, or null for don't-care. */
export function inductionAnswer(s: ArrayLike<number>, V: number, undefinedAs: UndefinedAs = "dontcare"): number | null {
  const n = s.length;
  const q = s[n - 1]!;
  for (let j = n - 2; j >= 0; j--) if (s[j] === q) return s[j + 1]!;
  return undefinedAs === "dontcare" ? null : undefinedAs === "bottom" ? V : 0;
}

/** Digits of sequence number `code` (s_1 most significant). */
export function decodeSequence(code: number, n: number, V: number, out = new Int32Array(n)): Int32Array {
  for (let i = n - 1; i >= 0; i--) {
    out[i] = code % V;
    code = Math.floor(code / V);
  }
  return out;
}

export const keyId = (V: number, p: number, token: number) => (p === 0 ? 0 : 1 + (p - 1) * V + token);
export const keyCount = (n: number, V: number) => 1 + n * V;

/** Code of the w − 1 tokens before position p (positions ≤ 0 read as ⊥ = V), base V+1. */
export function windowCode(s: ArrayLike<number>, p: number, w: number, V: number): number {
  let c = 0;
  for (let d = w - 1; d >= 1; d--) {
    const r = p - d;
    c = c * (V + 1) + (r >= 1 ? s[r - 1]! : V);
  }
  return c;
}

/** The query class (what the ranking may depend on) of a sequence. */
export function classOf(s: ArrayLike<number>, spec: ProblemSpec): number {
  const { n, V, w, queryWindow } = spec0(spec);
  const q = s[n - 1]!;
  return queryWindow === "ranking" ? q + V * windowCode(s, n, w, V) : q;
}

/** Raw observation (before per-class renumbering) at position p. */
export function rawObs(s: ArrayLike<number>, p: number, spec: ProblemSpec): number {
  const { n, V, w, queryWindow } = spec0(spec);
  const kw = windowCode(s, p, w, V);
  return queryWindow === "output" ? kw * (V + 1) ** (w - 1) + windowCode(s, n, w, V) : kw;
}

/** One query class: its instance, the sequences behind its inputs, and how raw observations were renumbered. */
export interface ClassInstance {
  readonly cls: number;
  readonly inst: Instance;
  /** Sequence number of each input. */
  readonly codes: Int32Array;
  readonly obsIds: ReadonlyMap<number, number>;
}

/** Every query class of the problem that has at least one constrained sequence. */
export function buildInstances(spec: ProblemSpec): ClassInstance[] {
  const sp = spec0(spec);
  const { n, V, undefinedAs } = sp;
  if (!(n >= 1 && V >= 1 && sp.w >= 1)) throw new Error(`buildInstances: bad spec ${JSON.stringify(spec)}`);
  const total = V ** n;
  if (total > 1 << 25) throw new Error(`buildInstances: V^n = ${total} sequences is too many`);
  const s = new Int32Array(n);
  const byClass = new Map<number, { codes: number[]; answers: number[] }>();
  for (let code = 0; code < total; code++) {
    decodeSequence(code, n, V, s);
    const a = inductionAnswer(s, V, undefinedAs);
    if (a === null) continue;
    const c = classOf(s, sp);
    let e = byClass.get(c);
    if (!e) byClass.set(c, (e = { codes: [], answers: [] }));
    e.codes.push(code);
    e.answers.push(a);
  }
  const K = keyCount(n, V);
  const out: ClassInstance[] = [];
  for (const [cls, { codes, answers }] of [...byClass].sort((x, y) => x[0] - y[0])) {
    const m = codes.length;
    // Each input has exactly n + 1 present keys (BOS and positions 1 … n).
    const keyOfIn = new Int32Array(m * (n + 1));
    const obsOfIn = new Int32Array(m * (n + 1));
    const obsIds = new Map<number, number>();
    const count = new Int32Array(K + 1);
    for (let x = 0; x < m; x++) {
      decodeSequence(codes[x]!, n, V, s);
      for (let p = 0; p <= n; p++) {
        const k = keyId(V, p, p === 0 ? 0 : s[p - 1]!);
        const raw = rawObs(s, p, sp);
        let o = obsIds.get(raw);
        if (o === undefined) obsIds.set(raw, (o = obsIds.size));
        keyOfIn[x * (n + 1) + p] = k;
        obsOfIn[x * (n + 1) + p] = o;
        count[k + 1]!++;
      }
    }
    for (let k = 0; k < K; k++) count[k + 1]! += count[k]!;
    const keyStart = Int32Array.from(count);
    const fill = Int32Array.from(count);
    const keyItem = new Int32Array(m * (n + 1));
    const keyObs = new Int32Array(m * (n + 1));
    for (let x = 0; x < m; x++) {
      for (let p = 0; p <= n; p++) {
        const at = fill[keyOfIn[x * (n + 1) + p]!]!++;
        keyItem[at] = x;
        keyObs[at] = obsOfIn[x * (n + 1) + p]!;
      }
    }
    const inst: Instance = { items: m, keys: K, answers: Int32Array.from(answers), keyStart, keyItem, keyObs, obsRange: Math.max(1, obsIds.size) };
    out.push({ cls, inst, codes: Int32Array.from(codes), obsIds });
  }
  return out;
}

/** An output table: raw observation → answer (a Map, or a rule computed on demand). */
export interface OutputTable {
  get(obs: number): number | undefined;
}

/** A head: per query class, a ranking of key ids and an output table per ranked key. */
export interface Head {
  readonly spec: ProblemSpec;
  readonly classes: ReadonlyMap<number, { readonly ranking: readonly number[]; readonly tables: ReadonlyMap<number, OutputTable> }>;
}

export interface SolveResult {
  readonly spec: ProblemSpec;
  readonly solvable: boolean;
  /** Constrained sequences in all. */
  readonly sequences: number;
  readonly head: Head | null;
  /** Unsolvable: the first stuck class and greedy's stuck set there (sequence numbers). */
  readonly stuckClass: number | null;
  readonly stuck: readonly number[] | null;
  readonly stuckInstance: ClassInstance | null;
  readonly seconds: number;
}

/** Run greedy on every query class; build the head, or report where it got stuck. */
export function solve(spec: ProblemSpec): SolveResult {
  const t0 = performance.now();
  const classes = buildInstances(spec);
  const heads = new Map<number, { ranking: number[]; tables: Map<number, Map<number, number>> }>();
  let sequences = 0;
  for (const ci of classes) {
    sequences += ci.inst.items;
    const g = greedy(ci.inst);
    if (!g.solved) {
      return {
        spec, solvable: false, sequences, head: null, stuckClass: ci.cls, stuck: g.stuck.map((x) => ci.codes[x]!),
        stuckInstance: ci, seconds: (performance.now() - t0) / 1000,
      };
    }
    heads.set(ci.cls, headOfRules(ci, g.rules));
  }
  return {
    spec, solvable: true, sequences, head: { spec, classes: heads }, stuckClass: null, stuck: null, stuckInstance: null,
    seconds: (performance.now() - t0) / 1000,
  };
}

function headOfRules(ci: ClassInstance, rules: readonly Rule[]) {
  const rawOf = new Map<number, number>();
  for (const [raw, id] of ci.obsIds) rawOf.set(id, raw);
  const ranking = rules.map((r) => r.key);
  const tables = new Map<number, Map<number, number>>();
  for (const r of rules) tables.set(r.key, new Map([...r.table].map(([o, a]) => [rawOf.get(o)!, a])));
  return { ranking, tables };
}

export interface HeadCheck {
  readonly sequences: number;
  readonly checked: number;
  readonly errors: number;
  readonly firstError: string | null;
}

/**
 * Run a head on every length-n sequence from scratch (not through the
 * instances): attend to the present key of best rank, read its output table,
 * compare with the induction answer (recomputed here by lastIndexOf).
 */
export function verifyHead(head: Head): HeadCheck {
  const sp = spec0(head.spec);
  const { n, V, undefinedAs } = sp;
  const s = new Int32Array(n);
  let checked = 0;
  let errors = 0;
  let firstError: string | null = null;
  const total = V ** n;
  for (let code = 0; code < total; code++) {
    decodeSequence(code, n, V, s);
    const arr = Array.from(s);
    const q = arr[n - 1]!;
    const j = arr.slice(0, n - 1).lastIndexOf(q);
    const want = j >= 0 ? arr[j + 1]! : undefinedAs === "bottom" ? V : undefinedAs === "fallback" ? 0 : null;
    if (want === null) continue;
    checked++;
    const h = head.classes.get(classOf(s, sp));
    let got: number | undefined;
    if (h) {
      let best = Infinity;
      let bestP = -1;
      for (let p = 0; p <= n; p++) {
        const r = h.ranking.indexOf(keyId(V, p, p === 0 ? 0 : arr[p - 1]!));
        if (r >= 0 && r < best) [best, bestP] = [r, p];
      }
      if (bestP >= 0) got = h.tables.get(h.ranking[best]!)!.get(rawObs(s, bestP, sp));
    }
    if (got !== want) {
      errors++;
      firstError ??= `${sequenceText(arr)}: head gives ${got === undefined ? "nothing" : tokenName(got, V)}, answer ${tokenName(want, V)}`;
    }
  }
  return { sequences: total, checked, errors, firstError };
}

export const tokenName = (t: number, V: number) => (t === V ? "⊥" : t < 26 ? String.fromCharCode(97 + t) : `t${t}`);
export const sequenceText = (s: ArrayLike<number>) => Array.from(s, (t) => tokenName(t, Infinity)).join(" ");
export const keyText = (k: number, V: number, n: number) => {
  if (k === 0) return "BOS";
  const p = Math.floor((k - 1) / V) + 1;
  return `(${tokenName((k - 1) % V, V)}, ${p})${p === n ? " [self]" : ""}`;
};
