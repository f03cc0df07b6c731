/**
 * Explicit heads and certificates for proofs/09 and proofs/10, written down
 * by hand (not produced by the solver) so that the solver's verdicts can be
 * checked against them:
 *
 * - `previousTokenCopyHead`: for V ≤ 2 the answer is s_{n−1}; attend to
 *   position n − 1 and copy its token.
 * - `threeRuleHead`: for every V, every w ≥ 1 and 2 ≤ n ≤ w + 3, the decision
 *   list (q, n−1) → q; (t, n−2) → [read the window], t ≠ q; (t, n−1) → t, t ≠ q.
 * - `certificateFor(w)`: a certificate at n = w + 4, V = 3 (the original statement's
 *   numbering: values carry the w tokens ending at the key). w = 1 … 4 are
 *   irreducible certificates found by `certificateOf`; for w > 4 the w = 4 one
 *   is stretched by w − 4 extra c's after position 4. Each is checked by
 *   `checkCertificateDirect`, which needs nothing but the sequences.
 */
import { parseSequence } from "./certificates.ts";
import { type Head, keyId, type OutputTable, type ProblemSpec } from "./oneLayer.ts";

/** Ranking (t, n−1) for every t, output t: right whenever the answer is s_{n−1} (always for V ≤ 2). */
export function previousTokenCopyHead(n: number, V: number, w = 1): Head {
  const classes = new Map<number, { ranking: number[]; tables: Map<number, OutputTable> }>();
  for (let q = 0; q < V; q++) {
    const ranking: number[] = [];
    const tables = new Map<number, OutputTable>();
    for (let t = 0; t < V; t++) {
      const k = keyId(V, n - 1, t);
      ranking.push(k);
      tables.set(k, { get: () => t });
    }
    classes.set(q, { ranking, tables });
  }
  return { spec: { n, V, w, queryWindow: "none" }, classes };
}

/**
 * The three-rule head, for 2 ≤ n ≤ w + 3 and queryWindow "none" (so it is a
 * head of every richer class too). Why it is right (proofs/10): after rule 1,
 * s_{n−1} ≠ q. Rule 2 covers s_{n−2} ≠ q; the latest q is then at some
 * j ≤ n − 3 and the answer s_{j+1} lies in positions 2 … n − 2, all inside
 * the window of n − 2 (it starts at n − w − 1 ≤ 2), except that a q at
 * position 1 may be out of sight: then, if no q is seen, the answer is
 * s_2 (or the sequence is don't-care). Rule 3 covers the rest: s_{n−2} = q,
 * so the answer is s_{n−1} = t.
 */
export function threeRuleHead(n: number, V: number, w: number): Head {
  if (!(n >= 2 && n <= w + 3)) throw new Error(`threeRuleHead: needs 2 ≤ n ≤ w + 3, got n=${n}, w=${w}`);
  const classes = new Map<number, { ranking: number[]; tables: Map<number, OutputTable> }>();
  for (let q = 0; q < V; q++) {
    const ranking: number[] = [];
    const tables = new Map<number, OutputTable>();
    const add = (k: number, t: OutputTable) => {
      ranking.push(k);
      tables.set(k, t);
    };
    add(keyId(V, n - 1, q), { get: () => q });
    if (n >= 3) {
      const p = n - 2;
      for (let t = 0; t < V; t++) {
        if (t === q) continue;
        add(keyId(V, p, t), {
          get: (obs) => {
            // obs = the w − 1 tokens before p (base V+1, ⊥ = V), most significant first.
            const win = new Map<number, number>([[p, t]]);
            for (let d = 1; d <= w - 1; d++) {
              const v = obs % (V + 1);
              obs = Math.floor(obs / (V + 1));
              if (v !== V) win.set(p - d, v);
            }
            for (let j = p - 1; j >= 1; j--) if (win.get(j) === q && win.has(j + 1)) return win.get(j + 1)!;
            return win.get(2) ?? t;
          },
        });
      }
    }
    for (let t = 0; t < V; t++) if (t !== q) add(keyId(V, n - 1, t), { get: () => t });
    classes.set(q, { ranking, tables });
  }
  return { spec: { n, V, w, queryWindow: "none" }, classes };
}

/** Irreducible certificates at n = w + 4, V = 3, queryWindow "none", don't-care (found by certificateOf, seeded restarts). */
export const BASE_CERTIFICATES: Readonly<Record<number, readonly string[]>> = {
  1: ["a c a b a", "a c b b a", "c a a c a", "c a b c a"],
  2: ["a b c a c a", "a b c b c a", "a c c b c a", "b a c a b a", "b a c b b a", "b c a a c a", "b c a b b a"],
  3: [
    "a a b b b c a", "a a b c a c a", "a c b b b c a", "a c c b a b a", "b c c b a c a",
    "b c c c a b a", "c a b b b b a", "c a b c b b a", "c a c b b b a",
  ],
  4: [
    "a c b c c c c a", "a c c c c a b a", "c a b c c c c a", "c a c b c c b a", "c c a b c c b a",
    "c c a c c c c a", "c c b c c a b a", "c c b c c a c a", "c c c b c a b a", "c c c b c a c a",
  ],
};

/** The certificate used for window w (n = w + 4, V = 3): a base one, or the w = 4 one with w − 4 c's inserted after position 4. */
export function certificateFor(w: number): { spec: ProblemSpec; seqs: number[][] } {
  const spec: ProblemSpec = { n: w + 4, V: 3, w, queryWindow: "none", undefinedAs: "dontcare" };
  const base = BASE_CERTIFICATES[Math.min(w, 4)]!.map(parseSequence);
  const seqs = w <= 4 ? base : base.map((s) => [...s.slice(0, 4), ...Array<number>(w - 4).fill(2), ...s.slice(4)]);
  return { spec, seqs };
}
