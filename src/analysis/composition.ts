/**
 * Q-, K- and V-composition scores between heads, and the composition graph
 * they reveal (Elhage et al. 2021; TransformerLens `all_composition_scores`):
 *
 *   score(A → B) = ‖W_OV^A · R^B‖_F / (‖W_OV^A‖_F · ‖R^B‖_F)
 *   R^B = W_Q W_Kᵀ (Q),  W_K W_Qᵀ (K),  W_V W_O (V)
 *
 * Why this orientation, in the row-vector convention (x·W): head A adds
 * y = x W_OV^A to the residual stream, for x the row it reads at the position
 * it attends to. Head B's score at query i, key j is x_i W_Q W_Kᵀ x_jᵀ.
 *   Q: y sits at the query:  (x W_OV^A) W_Q W_Kᵀ x_jᵀ — the map x ↦ … is W_OV^A W_Q W_Kᵀ.
 *   K: y sits at the key:    x_i W_Q W_Kᵀ (x W_OV^A)ᵀ = (x W_OV^A) W_K W_Qᵀ x_iᵀ — so W_OV^A W_K W_Qᵀ.
 *   V: B moves y on:         (x W_OV^A) W_V W_O — so W_OV^A W_V W_O.
 * In each case A's OV stands on the left and B's matrix is applied to A's
 * *output* (W_OV^A's columns), as TransformerLens's `left @ right` does.
 * For independent random heads the score is about 1/√d_model (measured in
 * test/analysis/composition.test.ts).
 *
 * Every product is evaluated factored, never as a [D, D] matrix: with
 * R = X Yᵀ (X, Y [D, E]) and N = W_O^A X [E, E],
 *   ‖W_V^A N Yᵀ‖² = tr(Nᵀ (W_V^Aᵀ W_V^A) N (YᵀY)),
 * which costs O(D·E²) per pair instead of O(D³).
 *
 * Feature-level scores. A compiled head's W_OV writes only the feature
 * blocks it copies into (never `one`, `bos`, `token`, `pos.lin` …), so B's
 * reading of the shared embedding directions cannot create an edge from A.
 * A head may write several features; with a layout we score A's OV
 * restricted to each written block f (W_OV^A P_f, P_f the projection onto f)
 * as its own "sub-head", which names the feature of each edge exactly as the
 * checker's `program.composition` does. Without a layout only head-level
 * edges can be recovered: the weights do not say where one feature's
 * directions end and another's begin.
 *
 * The threshold. On compiled weights every block is disjoint, so a pair that
 * shares no block scores exactly 0 (each product term has a zero factor). A
 * true edge has a floor (scales.ts gives γ < β/2 and P < 1.5β): W_OV^A P_f is
 * a one-to-one relabelling, so the product keeps ≥ n_f − |s| of B's β
 * entries, while ‖R^B‖² ≤ β²(m·n + m² + 2.25·C) counts B's m conjuncts of
 * ≤ n values, its BOS and tie terms and its C − 1 self penalties. Hence
 *   Q/K:  score ≥ √((n_f − |s|)/n_f) / √(m·n + m² + 2.25·C)
 *   V:    score ≥ 1/√(Σ sizes of the blocks B copies)
 * — above 0.004 for any program with ≤ 2 conjuncts and ≤ 2 copies a head at
 * the checker's limits (n, C ≤ 8192); measured ≥ 0.08 on programs/ and
 * ≥ 0.12 on random programs (the tests check every edge against the floor).
 * The default threshold 1e-3 sits between 0 and the floor, with room for
 * float32 storage. It is far *below* the random baseline, and compiled edges
 * may score below the baseline too (induction's K edge: 0.082 vs 0.104),
 * because the self penalty dominates ‖R^B‖; so on dense trained weights,
 * where every pair scores about the baseline, read the scores against the
 * baseline instead of the detected graph (the CLI prints both).
 */
import type { CompositionKind } from "../lang/program.ts";
import type { Weights } from "../model/weights.ts";
import { activeHeads, type HeadWeights } from "./circuits.ts";
import { gram, keepColumns, type Mat, matmul, normalizePow2, transpose, traceOfProduct } from "./linalg.ts";
import { headId, headNames, type NamedLayout, writtenBlocks } from "./named.ts";

/** Scores at or below this are "no composition" (see the module comment). */
export const DEFAULT_COMPOSITION_THRESHOLD = 1e-3;

/** One score: head `from` (earlier) into head `to` (later), through `feature` when known. */
export interface CompositionScore {
  readonly from: string;
  readonly to: string;
  readonly kind: CompositionKind;
  /** The block of `from`'s output the score is restricted to; null for the whole head. */
  readonly feature: string | null;
  readonly score: number;
}

/** Every score, the baseline and the graph above the threshold. */
export interface CompositionAnalysis {
  /** Active heads in layer order: id "L0H1", name (from the layout, else the id). */
  readonly heads: readonly { readonly id: string; readonly name: string; readonly layer: number; readonly head: number }[];
  /** Head-level scores for every earlier/later pair and kind (TransformerLens convention). */
  readonly scores: readonly CompositionScore[];
  /** Feature-level scores (one per block the earlier head writes); empty without a layout. */
  readonly featureScores: readonly CompositionScore[];
  /** 1/√d_model: what independent random heads score. */
  readonly baseline: number;
  readonly threshold: number;
  /** Edges scoring above the threshold: feature-level with a layout, head-level without. */
  readonly detected: readonly CompositionScore[];
}

/** Options of {@link analyzeComposition}. */
export interface CompositionOptions {
  /** Names the heads and enables feature-level edges. */
  readonly layout?: NamedLayout;
  readonly threshold?: number;
}

/** A head's factors and Gram matrices, computed once and reused for every pair. */
interface Factored {
  readonly w: HeadWeights;
  readonly gV: Mat; // W_Vᵀ W_V [E, E]
  readonly gQ: Mat; // W_Qᵀ W_Q
  readonly gK: Mat; // W_Kᵀ W_K
  readonly gO: Mat; // W_O W_Oᵀ
  readonly OT: Mat; // W_Oᵀ [D, E]: R = W_V W_O = X Yᵀ with X = W_V, Y = W_Oᵀ
}

/**
 * Every score is invariant to scaling any one of W_Q, W_K, W_V, W_O, so each
 * is first scaled by a power of two to |entries| < 1: huge finite weights
 * (1e308) give the same scores as moderate ones instead of overflowing.
 */
function factor(raw: HeadWeights): Factored {
  const n = (m: Mat) => normalizePow2(m).mat;
  const w: HeadWeights = { ...raw, W_Q: n(raw.W_Q), W_K: n(raw.W_K), W_V: n(raw.W_V), W_O: n(raw.W_O) };
  const OT = transpose(w.W_O);
  return { w, gV: gram(w.W_V), gQ: gram(w.W_Q), gK: gram(w.W_K), gO: gram(OT), OT };
}

/** R^B = X Yᵀ for each kind, with the Gram matrices of X and Y. */
function rightFactors(b: Factored, kind: CompositionKind): { X: Mat; gX: Mat; gY: Mat } {
  switch (kind) {
    case "Q":
      return { X: b.w.W_Q, gX: b.gQ, gY: b.gK };
    case "K":
      return { X: b.w.W_K, gX: b.gK, gY: b.gQ };
    case "V":
      return { X: b.w.W_V, gX: b.gV, gY: b.gO };
    default: {
      const never: never = kind;
      throw new Error(`unknown composition kind ${String(never)}`);
    }
  }
}

/** ‖W_V^A O X Yᵀ‖_F for an output map O of A (all of W_O^A, or one block of it). */
function productNorm(a: Factored, O: Mat, X: Mat, gY: Mat): number {
  const N = matmul(O, X); // [E_A, E_B]
  const s = traceOfProduct(matmul(transpose(N), matmul(a.gV, N)), gY);
  return Math.sqrt(Math.max(0, s));
}

/** ‖W_V^A O‖_F. */
function ovNorm(a: Factored, O: Mat): number {
  return Math.sqrt(Math.max(0, traceOfProduct(a.gV, matmul(O, transpose(O)))));
}

const ratio = (num: number, den: number) => (den > 0 ? num / den : 0);

/** The composition score of head A into head B (TransformerLens convention). */
export function compositionScore(a: HeadWeights, b: HeadWeights, kind: CompositionKind): number {
  const fa = factor(a);
  const { X, gX, gY } = rightFactors(factor(b), kind);
  const rNorm = Math.sqrt(Math.max(0, traceOfProduct(gX, gY)));
  return ratio(productNorm(fa, fa.w.W_O, X, gY), ovNorm(fa, fa.w.W_O) * rNorm);
}

const KINDS: readonly CompositionKind[] = ["Q", "K", "V"];

/** Score every earlier head into every later head, per kind (and per written feature with a layout). */
export function analyzeComposition(weights: Weights, opts: CompositionOptions = {}): CompositionAnalysis {
  const threshold = opts.threshold ?? DEFAULT_COMPOSITION_THRESHOLD;
  const heads = activeHeads(weights).map(factor);
  const names = headNames(heads.map((h) => h.w), opts.layout);
  const name = (h: Factored) => names.get(headId(h.w))!;
  const scores: CompositionScore[] = [];
  const featureScores: CompositionScore[] = [];
  for (const a of heads) {
    const blocks = writtenBlocks(a.w, opts.layout).map((blk) => ({ blk, O: keepColumns(a.w.W_O, blk.offset, blk.size) }));
    const aNorm = ovNorm(a, a.w.W_O);
    const blockNorms = blocks.map(({ O }) => ovNorm(a, O));
    for (const b of heads) {
      if (b.w.layer <= a.w.layer) continue;
      for (const kind of KINDS) {
        const { X, gX, gY } = rightFactors(b, kind);
        const rNorm = Math.sqrt(Math.max(0, traceOfProduct(gX, gY)));
        const base = { from: name(a), to: name(b), kind };
        scores.push({ ...base, feature: null, score: ratio(productNorm(a, a.w.W_O, X, gY), aNorm * rNorm) });
        blocks.forEach(({ blk, O }, k) => {
          featureScores.push({ ...base, feature: blk.name, score: ratio(productNorm(a, O, X, gY), blockNorms[k]! * rNorm) });
        });
      }
    }
  }
  const source = opts.layout ? featureScores : scores;
  return {
    heads: heads.map((h) => ({ id: headId(h.w), name: name(h), layer: h.w.layer, head: h.w.head })),
    scores,
    featureScores,
    baseline: 1 / Math.sqrt(weights.config.d_model),
    threshold,
    detected: source.filter((s) => s.score > threshold),
  };
}

/** An edge of a composition graph; feature null for head-level edges. */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: CompositionKind;
  readonly feature: string | null;
}

const edgeKey = (e: GraphEdge) => `${e.from} → ${e.to} ${e.kind}${e.feature === null ? "" : ` (${e.feature})`}`;

/** A graph with features dropped and duplicate edges merged (what weights alone determine). */
export function headLevel(edges: readonly GraphEdge[]): GraphEdge[] {
  const seen = new Map<string, GraphEdge>();
  for (const e of edges) {
    const h = { from: e.from, to: e.to, kind: e.kind, feature: null };
    seen.set(edgeKey(h), h);
  }
  return [...seen.values()];
}

/** Compare a detected graph with the true one: edges missed, edges extra, and whether they are equal. */
export function compareGraphs(
  detected: readonly GraphEdge[],
  truth: readonly GraphEdge[],
): { readonly equal: boolean; readonly missing: string[]; readonly extra: string[] } {
  const d = new Set(detected.map(edgeKey));
  const t = new Set(truth.map(edgeKey));
  const missing = [...t].filter((k) => !d.has(k)).sort();
  const extra = [...d].filter((k) => !t.has(k)).sort();
  return { equal: missing.length === 0 && extra.length === 0, missing, extra };
}

/** Human form of an edge: "previous → induction K (prev)". */
export const formatEdge = edgeKey;
