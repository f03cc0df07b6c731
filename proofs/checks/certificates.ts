/**
 * Certificates of unsolvability for proofs/09 and proofs/10: sets of
 * sequences of one query class on which every key value present is split
 * (two sequences with equal observations, different answers), so that the
 * first-ranked present key of any head errs. `certificateOf` extracts one from
 * greedy's stuck set and shrinks it; `checkCertificateDirect` checks one from
 * its sequences alone; `instanceOfSequences` feeds one to `bruteForce`.
 */
import { type Instance, makeInstance, minimiseCertificate } from "./decisionList.ts";
import {
  classOf, decodeSequence, inductionAnswer, keyCount, keyId, keyText, type ProblemSpec, rawObs, sequenceText, type SolveResult,
  spec0, tokenName, type UndefinedAs,
} from "./oneLayer.ts";

export interface Certificate {
  readonly spec: ProblemSpec;
  readonly cls: number;
  /** Sequence numbers and text "s_1 … s_n → answer". */
  readonly codes: readonly number[];
  readonly lines: readonly string[];
  /** Size of greedy's stuck set before minimising. */
  readonly stuckSize: number;
}

/**
 * An irreducible certificate for an unsolvable problem: greedy's stuck set,
 * shrunk by `minimiseCertificate` with inputs tried in order of `rank`
 * (default: lexicographic sequence order; pass a seeded shuffle for restarts).
 */
export function certificateOf(r: SolveResult, rank?: (code: number) => number): Certificate {
  if (r.solvable || !r.stuckInstance || !r.stuck) throw new Error("certificateOf: the problem is solvable");
  const ci = r.stuckInstance;
  const index = new Map<number, number>();
  ci.codes.forEach((c, x) => index.set(c, x));
  const stuck = r.stuck.map((c) => index.get(c)!);
  const min = minimiseCertificate(ci.inst, stuck, rank ? (x) => rank(ci.codes[x]!) : undefined);
  const codes = min.map((x) => ci.codes[x]!).sort((a, b) => a - b);
  const { n, V } = r.spec;
  return { spec: r.spec, cls: ci.cls, codes, lines: codes.map((c) => certificateLine(c, n, V, r.spec.undefinedAs)), stuckSize: stuck.length };
}

export function certificateLine(code: number, n: number, V: number, undefinedAs: UndefinedAs = "dontcare"): string {
  const s = decodeSequence(code, n, V);
  return `${sequenceText(s)} → ${tokenName(inductionAnswer(s, V, undefinedAs)!, V)}`;
}

export interface CertificateVerdict {
  readonly valid: boolean;
  /** Why not, or null. */
  readonly reason: string | null;
}

/**
 * Check a certificate from its sequences alone, without the solver or the
 * instance builder: the sequences are distinct, constrained, of one query
 * class, and every key value present in one of them is present in two with
 * equal observations and different answers. Then no head is right on all of
 * them (proofs/09, "certificates").
 */
export function checkCertificateDirect(spec: ProblemSpec, seqs: readonly (readonly number[])[]): CertificateVerdict {
  const sp = spec0(spec);
  const { n, V, undefinedAs } = sp;
  if (seqs.length === 0) return { valid: false, reason: "empty" };
  const seen = new Set<string>();
  const byKey = new Map<number, { obs: number; ans: number; seq: string }[]>();
  let cls: number | null = null;
  for (const s of seqs) {
    const text = sequenceText(s);
    if (s.length !== n || s.some((t) => !(Number.isInteger(t) && t >= 0 && t < V))) return { valid: false, reason: `${text}: not a length-${n} sequence over ${V} tokens` };
    if (seen.has(text)) return { valid: false, reason: `${text}: repeated` };
    seen.add(text);
    const q = s[n - 1]!;
    let ans: number | null = null;
    for (let j = n - 2; j >= 0 && ans === null; j--) if (s[j] === q) ans = s[j + 1]!;
    if (ans === null) {
      if (undefinedAs === "dontcare") return { valid: false, reason: `${text}: no earlier occurrence (don't-care)` };
      ans = undefinedAs === "bottom" ? V : 0;
    }
    const c = classOf(s, sp);
    if (cls !== null && c !== cls) return { valid: false, reason: `${text}: another query class` };
    cls = c;
    for (let p = 0; p <= n; p++) {
      const k = keyId(V, p, p === 0 ? 0 : s[p - 1]!);
      let list = byKey.get(k);
      if (!list) byKey.set(k, (list = []));
      list.push({ obs: rawObs(s, p, sp), ans, seq: text });
    }
  }
  for (const [k, list] of byKey) {
    const split = list.some((x) => list.some((y) => x.obs === y.obs && x.ans !== y.ans));
    if (!split) return { valid: false, reason: `key ${keyText(k, V, n)} is consistent on its ${list.length} sequence(s): a head may rank it first` };
  }
  return { valid: true, reason: null };
}

/** The decision-list instance of a few sequences of one class (for bruteForce on a certificate). */
export function instanceOfSequences(spec: ProblemSpec, seqs: readonly (readonly number[])[]): Instance {
  const sp = spec0(spec);
  const { n, V, undefinedAs } = sp;
  const ids = new Map<number, number>();
  const present = seqs.map((s) =>
    Array.from({ length: n + 1 }, (_, p): [number, number] => {
      const raw = rawObs(s, p, sp);
      let o = ids.get(raw);
      if (o === undefined) ids.set(raw, (o = ids.size));
      return [keyId(V, p, p === 0 ? 0 : s[p - 1]!), o];
    }),
  );
  const answers = seqs.map((s) => {
    const a = inductionAnswer(s, V, undefinedAs);
    if (a === null) throw new Error(`instanceOfSequences: ${sequenceText(s)} is don't-care`);
    return a;
  });
  return makeInstance(keyCount(n, V), answers, present, Math.max(1, ids.size));
}

/** Parse "a c a b a" (letters a … z) to token indices. */
export const parseSequence = (text: string): number[] => text.trim().split(/\s+/).map((c) => c.charCodeAt(0) - 97);

/** A seeded permutation rank for certificate restarts. */
export function shuffledRank(seed: number, size: number): (code: number) => number {
  let a = seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const perm = Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return (code) => perm[code]!;
}
