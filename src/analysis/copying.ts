/**
 * Copying scores (Elhage et al. 2021, §"Copying / Primarily Positive
 * Eigenvalues"): a head copies when attending to token t raises the logit of
 * t itself. Its full OV circuit M = W_E W_OV W_U [V, V] then has mostly
 * positive real eigenvalues, and the score
 *
 *   Re Σλ / Σ|λ|      over the eigenvalues λ of M
 *
 * is 1 for a pure copier (M = c·I, c > 0), −1 for an anti-copier, and about 0
 * for a head that maps tokens to *other* tokens (a permutation's eigenvalues
 * are roots of unity summing to 0 when it has no fixed points).
 *
 * Large vocabularies. M = A·B with A = W_E W_V [V, E] and B = W_O W_U
 * [E, V], and A·B and B·A have the same nonzero eigenvalues (with
 * multiplicity) — the rest are zeros, which add nothing to either sum. So
 * when d_head < d_vocab we take the spectrum of the [E, E] matrix
 * W_O W_U W_E W_V instead: exact, and a 50 000-token model with 64-dim heads
 * costs a 64×64 eigenproblem. Only when both sizes exceed what the dense
 * solver handles (and the matrix does not split into small blocks) is the
 * score left out, with the reason.
 */
import type { Weights } from "../model/weights.ts";
import { activeHeads, type HeadWeights } from "./circuits.ts";
import { frobenius, type Mat, matmul, normalizePow2, tensorToMat } from "./linalg.ts";
import { headId, headNames, type NamedLayout } from "./named.ts";
import { type Complex, eigenvalues, SpectrumTooLarge } from "./spectrum.ts";

/** Heads scoring above this put most of their eigenvalue mass on positive reals: "copiers". */
export const COPIER_SCORE = 0.5;

/** The copying score of a square matrix, with the eigenvalues it came from. */
export interface MatrixCopying {
  /** Re Σλ / Σ|λ|; 0 when every eigenvalue is (numerically) 0. */
  readonly score: number;
  /** Σ|λ|: 0 means the circuit has no eigenvalue mass (nothing is copied, or it is nilpotent). */
  readonly magnitude: number;
  readonly eigenvalues: readonly Complex[];
}

/** Copying score Re Σλ / Σ|λ| of a square matrix. */
export function copyingScoreOf(m: Mat): MatrixCopying {
  if (!m.data.every(Number.isFinite)) throw new Error("copyingScoreOf: the matrix has non-finite entries");
  const ev = eigenvalues(m);
  let re = 0;
  let abs = 0;
  for (const z of ev) {
    re += z.re;
    abs += Math.hypot(z.re, z.im);
  }
  // Eigenvalues of a nilpotent matrix come out of QR as rounding noise; call them 0.
  const negligible = abs <= 1e-9 * (frobenius(m) + Number.MIN_VALUE);
  return { score: negligible ? 0 : re / abs, magnitude: negligible ? 0 : abs, eigenvalues: ev };
}

/** One head's copying score. */
export interface HeadCopying {
  readonly id: string;
  readonly name: string;
  readonly block: number;
  readonly head: number;
  /** null when it could not be computed (see `note`). */
  readonly score: number | null;
  readonly magnitude: number | null;
  /** Which equivalent matrix was decomposed: the [V, V] full circuit or the [E, E] one. */
  readonly method: "W_E W_OV W_U" | "W_O W_U W_E W_V" | null;
  readonly note?: string;
}

/** Copying score of one head from its full OV circuit (see the module comment for the method). */
export function headCopying(weights: Weights, h: HeadWeights, name = headId(h)): HeadCopying {
  const base = { id: headId(h), name, block: h.block, head: h.head };
  const { d_vocab: V, d_vocab_out: Vo, d_head: E } = weights.config;
  if (V !== Vo) {
    return { ...base, score: null, magnitude: null, method: null, note: `d_vocab ${V} ≠ d_vocab_out ${Vo}: the full OV circuit is not square` };
  }
  // The score is a ratio of eigenvalue sums, invariant to scaling any factor:
  // power-of-two scaling keeps products of huge finite weights finite.
  let exponent = 0;
  const n = (m: Mat) => {
    const s = normalizePow2(m);
    exponent += s.exponent;
    return s.mat;
  };
  const A = matmul(n(tensorToMat(weights.W_E)), n(h.W_V)); // [V, E]
  const B = matmul(n(h.W_O), n(tensorToMat(weights.W_U))); // [E, V]
  const small = E < V;
  try {
    const r = copyingScoreOf(small ? matmul(B, A) : matmul(A, B));
    const method = small ? "W_O W_U W_E W_V" : "W_E W_OV W_U";
    const magnitude = r.magnitude * 2 ** Math.trunc(exponent / 2) * 2 ** (exponent - Math.trunc(exponent / 2));
    if (!Number.isFinite(magnitude) || (magnitude === 0 && r.magnitude !== 0)) {
      return { ...base, score: r.score, magnitude: null, method, note: `Σ|λ| is outside the float64 range (2^${Math.round(Math.log2(r.magnitude) + exponent)})` };
    }
    return { ...base, score: r.score, magnitude, method };
  } catch (e) {
    if (!(e instanceof SpectrumTooLarge)) throw e;
    return { ...base, score: null, magnitude: null, method: null, note: e.message };
  }
}

/** Copying scores of every active head, named from the layout when given. */
export function copyingScores(weights: Weights, layout?: NamedLayout): HeadCopying[] {
  const heads = activeHeads(weights);
  const names = headNames(heads, layout);
  return heads.map((h) => headCopying(weights, h, names.get(headId(h))));
}
