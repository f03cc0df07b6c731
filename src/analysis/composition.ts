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
 * The edge rule, relative to the random baseline. TransformerLens's score
 * cannot decide edges by itself: compiled edges may score below what
 * independent random heads score (induction's K edge: 0.082 against
 * 1/√d_model = 0.104), because ‖R^B‖ is dominated by directions no head
 * writes (BOS, position, self penalty) and because a Frobenius ratio of two
 * rank-n relabellings is only 1/√n. Edges are therefore decided on the
 * *written score*
 *
 *   written(A → B) = ‖W_OV^A · R^B‖_F / (‖W_OV^A‖_F · ‖P · R^B‖₂)
 *
 * with P the projection onto the row space of every W_O in layers before B
 * (what heads can have written; A's output lies in it, so the numerator is
 * unchanged) and ‖·‖₂ the spectral norm: it is 1 when B reads everything A
 * writes with B's largest gain on head-written directions, and at most 1
 * (‖M R‖_F ≤ ‖M‖_F ‖R‖₂). An edge exists when
 *
 *   written > mean + k·sd   (k = DEFAULT_SIGMAS = 6)
 *
 * of the written scores of seeded random models with the same d_model,
 * d_head, n_heads and n_layers (randomWeights: uniform entries; at least
 * MIN_BASELINE_SAMPLES scores per reading layer, Q/K/V pooled). Measured:
 * random models of four shapes over 40 seeds scored at most 4.9 sd above
 * their baseline; compiled edges of programs/ and of 80 random programs at
 * least 8.4 sd (their written score is 1 for a single conjunct or copy).
 * Shapes so small that mean + k·sd ≥ 1 admit no edge: there chance
 * alignment is as strong as any composition. With a layout, feature-level
 * scores use the head-level baseline of the same reading layer; without
 * one, a head writing several features is scored whole, which dilutes each
 * of its edges (they may be missed, never invented). `--threshold` replaces
 * the rule by a fixed threshold on the written score.
 */
import type { CompositionKind } from "../lang/program.ts";
import type { Weights } from "../model/weights.ts";
import { randomWeights } from "../sim/random.ts";
import { activeHeads, type HeadWeights } from "./circuits.ts";
import { gram, keepColumns, type Mat, matmul, normalizePow2, transpose, traceOfProduct, zerosMat } from "./linalg.ts";
import { headId, headNames, type NamedLayout, writtenBlocks } from "./named.ts";
import { eigenvalues, SpectrumTooLarge } from "./spectrum.ts";

/** k in the edge rule written > mean + k·sd of the random baseline (see the module comment). */
export const DEFAULT_SIGMAS = 6;
/** Seeded random models drawn for the baseline. */
export const DEFAULT_BASELINE_DRAWS = 4;
/** Fewest random scores per reading layer the baseline's mean and sd are estimated from. */
const MIN_BASELINE_SAMPLES = 24;
/** Seeds of the baseline's random models start here (any fixed value: the baseline is deterministic). */
const BASELINE_SEED_BASE = 0x5eed;

/** One score: head `from` (earlier) into head `to` (later), through `feature` when known. */
export interface CompositionScore {
  readonly from: string;
  readonly to: string;
  readonly kind: CompositionKind;
  /** The block of `from`'s output the score is restricted to; null for the whole head. */
  readonly feature: string | null;
  /** TransformerLens's score ‖W_OV^A·R^B‖/(‖W_OV^A‖·‖R^B‖). */
  readonly score: number;
  /** The same with ‖R^B‖ restricted to what earlier heads write: ‖W_OV^A·R^B‖/(‖W_OV^A‖·‖P·R^B‖); decides edges. */
  readonly written: number;
}

/** Every score, the baseline and the graph above the threshold. */
export interface CompositionAnalysis {
  /** Active heads in layer order: id "L0H1", name (from the layout, else the id). */
  readonly heads: readonly { readonly id: string; readonly name: string; readonly block: number; readonly head: number }[];
  /** Head-level scores for every earlier/later pair and kind (TransformerLens convention). */
  readonly scores: readonly CompositionScore[];
  /** Feature-level scores (one per block the earlier head writes); empty without a layout. */
  readonly featureScores: readonly CompositionScore[];
  /** 1/√d_model: about what independent random heads score (TransformerLens's score). */
  readonly baseline: number;
  /** The written score of random models of these shapes, per reading layer, with its threshold (empty with a fixed threshold). */
  readonly randomBaseline: readonly BaselineCell[];
  readonly sigmas: number;
  /** A fixed threshold on the written score that replaced the baseline rule; null when the rule was used. */
  readonly threshold: number | null;
  /** Edges whose written score exceeds the threshold: feature-level with a layout, head-level without. */
  readonly detected: readonly CompositionScore[];
}

/** Options of {@link analyzeComposition}. */
export interface CompositionOptions {
  /** Names the heads and enables feature-level edges. */
  readonly layout?: NamedLayout;
  /** A fixed threshold on the written score instead of the random-baseline rule. */
  readonly threshold?: number;
  /** k in "mean + k·sd of the random baseline" (default DEFAULT_SIGMAS). */
  readonly sigmas?: number;
  /** Random models drawn for the baseline (default DEFAULT_BASELINE_DRAWS). */
  readonly baselineDraws?: number;
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

/**
 * An orthonormal basis (as rows, [r, D]) of the span of the rows of `mats`,
 * by modified Gram–Schmidt applied twice; rows left with under 1e-9 of the
 * largest row norm count as dependent. Each matrix is scaled by a power of
 * two first, so the tolerance is relative per head.
 */
export function rowSpaceBasis(mats: readonly Mat[], D: number): Mat {
  const basis: Float64Array[] = [];
  for (const raw of mats) {
    const m = normalizePow2(raw).mat;
    let largest = 0;
    for (let i = 0; i < m.rows; i++) {
      let n = 0;
      for (let d = 0; d < D; d++) n += m.data[i * D + d]! ** 2;
      largest = Math.max(largest, Math.sqrt(n));
    }
    for (let i = 0; i < m.rows && basis.length < D; i++) {
      const v = Float64Array.from(m.data.subarray(i * D, (i + 1) * D));
      for (let pass = 0; pass < 2; pass++) {
        for (const u of basis) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += u[d]! * v[d]!;
          for (let d = 0; d < D; d++) v[d]! -= dot * u[d]!;
        }
      }
      let n = 0;
      for (let d = 0; d < D; d++) n += v[d]! ** 2;
      n = Math.sqrt(n);
      if (n > 1e-9 * largest && n > 0) basis.push(v.map((x) => x / n));
    }
  }
  const out = zerosMat(basis.length, D);
  basis.forEach((u, r) => out.data.set(u, r * D));
  return out;
}

/**
 * ‖P·R^B‖₂, the largest gain of B's reading restricted to the written
 * subspace: with P·R = (U X) Yᵀ, its square is the largest eigenvalue of
 * (U X)ᵀ(U X)·YᵀY, a product of two positive semi-definite [E, E] matrices
 * (real, non-negative spectrum).
 */
function readingGain(UX: Mat, gY: Mat, dense: boolean): number {
  const m = matmul(gram(UX), gY);
  // Random dense matrices (the baseline) have a spectral gap: power iteration is
  // several times cheaper than QR there. Model weights get the exact QR path,
  // which is also fast on compiled (block-sparse) circuits.
  if (dense) {
    const r = powerIteration(m, 1000);
    if (r.converged) return Math.sqrt(r.lambda);
  }
  let top = 0;
  try {
    for (const z of eigenvalues(m)) top = Math.max(top, z.re);
  } catch (e) {
    if (!(e instanceof SpectrumTooLarge)) throw e;
    top = powerIteration(m, 5000).lambda;
  }
  return Math.sqrt(top);
}

/** Largest eigenvalue of a matrix with a real non-negative spectrum, by power iteration of at most `maxIt` steps. */
function powerIteration(m: Mat, maxIt: number): { lambda: number; converged: boolean } {
  const n = m.rows;
  let v = Float64Array.from({ length: n }, (_, i) => 1 + ((i * 7919) % 13) / 13);
  let lambda = 0;
  for (let it = 0; it < maxIt; it++) {
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) w[i]! += m.data[i * n + j]! * v[j]!;
    const norm = Math.sqrt(w.reduce((s, x) => s + x * x, 0));
    const vnorm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    if (norm === 0) return { lambda: 0, converged: true };
    const next = norm / vnorm;
    v = w.map((x) => x / norm);
    if (Math.abs(next - lambda) <= 1e-12 * next) return { lambda: next, converged: true };
    lambda = next;
  }
  return { lambda, converged: false };
}

/** The composition score of head A into head B (TransformerLens convention). */
export function compositionScore(a: HeadWeights, b: HeadWeights, kind: CompositionKind): number {
  const fa = factor(a);
  const { X, gX, gY } = rightFactors(factor(b), kind);
  const rNorm = Math.sqrt(Math.max(0, traceOfProduct(gX, gY)));
  return ratio(productNorm(fa, fa.w.W_O, X, gY), ovNorm(fa, fa.w.W_O) * rNorm);
}

const KINDS: readonly CompositionKind[] = ["Q", "K", "V"];

/** Every pair's scores, before any threshold: TransformerLens's and the written-subspace one. */
interface PairScores {
  readonly heads: readonly Factored[];
  readonly scores: CompositionScore[];
  readonly featureScores: CompositionScore[];
}

/**
 * Score every earlier head into every later head, per kind (and per written
 * feature with a layout). `written` divides by ‖P R^B‖ instead of ‖R^B‖, P
 * the projection onto the span of the earlier layers' W_O rows (see the
 * module comment).
 */
function pairScores(weights: Weights, layout: NamedLayout | undefined, dense = false): PairScores {
  const heads = activeHeads(weights).map(factor);
  const names = headNames(heads.map((h) => h.w), layout);
  const name = (h: Factored) => names.get(headId(h.w))!;
  const D = weights.config.d_model;
  // Written subspace seen by each layer: the row space of every W_O before it.
  const bases = new Map<number, Mat>();
  const basisFor = (layer: number): Mat => {
    let u = bases.get(layer);
    if (!u) {
      u = rowSpaceBasis(heads.filter((h) => h.w.block < layer).map((h) => h.w.W_O), D);
      bases.set(layer, u);
    }
    return u;
  };
  // What B reads, per kind: computed once per reading head, not once per pair.
  const reading = new Map<Factored, { kind: CompositionKind; X: Mat; gY: Mat; rNorm: number; gain: number }[]>();
  for (const b of heads) {
    if (b.w.block === 0) continue;
    const U = basisFor(b.w.block);
    reading.set(b, KINDS.map((kind) => {
      const { X, gX, gY } = rightFactors(b, kind);
      return { kind, X, gY, rNorm: Math.sqrt(Math.max(0, traceOfProduct(gX, gY))), gain: readingGain(matmul(U, X), gY, dense) };
    }));
  }
  const scores: CompositionScore[] = [];
  const featureScores: CompositionScore[] = [];
  for (const a of heads) {
    const blocks = writtenBlocks(a.w, layout).map((blk) => ({ blk, O: keepColumns(a.w.W_O, blk.offset, blk.size) }));
    const aNorm = ovNorm(a, a.w.W_O);
    const blockNorms = blocks.map(({ O }) => ovNorm(a, O));
    for (const b of heads) {
      if (b.w.block <= a.w.block) continue;
      for (const { kind, X, gY, rNorm, gain } of reading.get(b)!) {
        const base = { from: name(a), to: name(b), kind };
        const num = productNorm(a, a.w.W_O, X, gY);
        scores.push({ ...base, feature: null, score: ratio(num, aNorm * rNorm), written: Math.min(1, ratio(num, aNorm * gain)) });
        blocks.forEach(({ blk, O }, k) => {
          const n = productNorm(a, O, X, gY);
          featureScores.push({ ...base, feature: blk.name, score: ratio(n, blockNorms[k]! * rNorm), written: Math.min(1, ratio(n, blockNorms[k]! * gain)) });
        });
      }
    }
  }
  return { heads, scores, featureScores };
}

/** Mean and standard deviation of the written score of random heads, per kind and reading block. */
export interface BaselineCell {
  /** Block (0-based `blocks.N`) of the reading head B (Q, K and V scores pooled: they share a distribution). */
  readonly block: number;
  readonly mean: number;
  readonly sd: number;
  /** Scores pooled (pairs × draws). */
  readonly samples: number;
  /** mean + sigmas·sd: written scores above it are edges. */
  readonly threshold: number;
}

/**
 * The random baseline of a model's shapes: `draws` seeded models from
 * randomWeights (entries uniform in [−1, 1]; every score is scale-free) with
 * the same d_model, d_head, n_heads and n_layers, scored like the model.
 */
export function randomBaseline(config: Weights["config"], opts: { draws?: number; seed?: number; sigmas?: number } = {}): BaselineCell[] {
  const { d_model: D, d_head: E, n_heads: H, n_layers: L } = config;
  // Enough draws for ≥ MIN_BASELINE_SAMPLES scores per reading layer (small models are cheap).
  const perDraw = 3 * H * H;
  const draws = opts.draws ?? Math.min(64, Math.max(DEFAULT_BASELINE_DRAWS, Math.ceil(MIN_BASELINE_SAMPLES / perDraw)));
  const seed = opts.seed ?? 0;
  const sigmas = opts.sigmas ?? DEFAULT_SIGMAS;
  const key = `${D}/${E}/${H}/${L}/${draws}/${seed}/${sigmas}`;
  const memo = baselineMemo.get(key);
  if (memo) return memo;
  const cells = drawBaseline({ D, E, H, L }, draws, seed, sigmas);
  if (baselineMemo.size >= 64) baselineMemo.delete(baselineMemo.keys().next().value!);
  baselineMemo.set(key, cells);
  return cells;
}

/** Baselines already drawn, by shape and options (they are deterministic). */
const baselineMemo = new Map<string, BaselineCell[]>();

function drawBaseline(dims: { D: number; E: number; H: number; L: number }, draws: number, seed: number, sigmas: number): BaselineCell[] {
  const config = { d_model: dims.D, d_head: dims.E, n_heads: dims.H, n_layers: dims.L };
  const shape = { d_model: config.d_model, d_head: config.d_head, n_heads: config.n_heads, n_layers: config.n_layers, n_ctx: 1, d_vocab: 1 };
  const pooled = new Map<string, number[]>();
  for (let i = 0; i < draws; i++) {
    const w = randomWeights(shape, BASELINE_SEED_BASE + seed * 1009 + i);
    const { scores } = pairScores(w, undefined, true);
    const layerOf = (id: string) => Number(/^L(\d+)H/.exec(id)![1]);
    for (const s of scores) {
      const key = `${layerOf(s.to)}`;
      const list = pooled.get(key) ?? [];
      list.push(s.written);
      pooled.set(key, list);
    }
  }
  return [...pooled].map(([layer, xs]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
    return { block: Number(layer), mean, sd, samples: xs.length, threshold: mean + sigmas * sd };
  });
}

/** Score every pair, and call an edge every written score above the random baseline's threshold (or a fixed one). */
export function analyzeComposition(weights: Weights, opts: CompositionOptions = {}): CompositionAnalysis {
  const { heads, scores, featureScores } = pairScores(weights, opts.layout);
  const sigmas = opts.sigmas ?? DEFAULT_SIGMAS;
  // A fixed threshold needs no baseline (drawing one costs several analyses of the model's size).
  const cells = heads.length > 1 && opts.threshold === undefined ? randomBaseline(weights.config, { sigmas, draws: opts.baselineDraws }) : [];
  const layerOf = new Map<string, number>();
  const names = headNames(heads.map((h) => h.w), opts.layout);
  for (const h of heads) layerOf.set(names.get(headId(h.w))!, h.w.block);
  const thresholdOf = (s: CompositionScore): number => {
    if (opts.threshold !== undefined) return opts.threshold;
    const cell = cells.find((c) => c.block === layerOf.get(s.to));
    return cell ? cell.threshold : Infinity;
  };
  const source = opts.layout ? featureScores : scores;
  return {
    heads: heads.map((h) => ({ id: headId(h.w), name: names.get(headId(h.w))!, block: h.w.block, head: h.w.head })),
    scores,
    featureScores,
    baseline: 1 / Math.sqrt(weights.config.d_model),
    randomBaseline: cells,
    sigmas,
    threshold: opts.threshold ?? null,
    detected: source.filter((s) => s.written > thresholdOf(s)),
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
