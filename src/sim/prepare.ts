/**
 * Turn a Weights object into the form the simulator runs: one precision,
 * heads stacked side by side, and a sparse form of every matrix that is mostly
 * zeros. Done once per (Weights, precision) and memoised, because the
 * enumerations in proofs/ run millions of short forwards on the same model.
 *
 * Memoisation is keyed by object identity: treat a Weights object as
 * immutable once it has been run (build a new one to change a value).
 */

import type { FloatArray, Tensor, Weights, ModelConfig } from "../model/weights.ts";
import { addBias, countNonzeros, matmulDense, matmulSparse, toCsr, transpose, type Csr } from "./kernels.ts";
import { matmulWasm, packPanels, wasmAvailable } from "./wasm.ts";

/** Storage precision of every array the simulator computes in. */
export type Precision = "float64" | "float32";

/** Which product path to use: by density ("auto"), or forced (for tests and benchmarks). */
export type SparseMode = "auto" | "always" | "never";

/**
 * Below this fraction of nonzeros a matrix takes the sparse path. Compiled
 * weights sit around 1–5%; loaded or random weights are ~100%. At 10% the
 * sparse inner loop (indexed scatter) is already cheaper than the dense one.
 */
export const SPARSE_DENSITY_THRESHOLD = 0.1;

/** A [K, N] matrix ready for x·W: dense storage, its density, and a lazily built sparse form. */
export interface Linear {
  readonly K: number;
  readonly N: number;
  readonly dense: FloatArray; // [K, N]
  readonly density: number;
  /** Transposed dense form [N, K] for the dense kernel, built on first use and kept. */
  denseT(): FloatArray;
  /** Compressed-row form, built on first use and kept. */
  csr(): Csr;
  /** Panel form for the WebAssembly kernel (see packPanels), built on first use and kept. */
  packed(): FloatArray;
}

/** One layer with heads stacked: x · Wq gives q for all heads at once as [T, H*E] = [T, H, E]. */
export interface PreparedLayer {
  readonly q: Linear; // [D, H*E]
  readonly k: Linear; // [D, H*E]
  readonly v: Linear; // [D, H*E]
  readonly o: Linear; // [H*E, D]  (W_O [H, E, D] is already this, row-major)
  readonly bq: FloatArray; // [H*E]
  readonly bk: FloatArray; // [H*E]
  readonly bv: FloatArray; // [H*E]
  readonly bo: FloatArray; // [D]
  /**
   * Per head, the value columns e that some W_V entry or b_V makes nonzero,
   * or null when that is every column (dense weights): the attention kernel
   * skips the rest, whose z is exactly 0 anyway.
   */
  readonly vCols: readonly (Int32Array | null)[];
}

/** A model in runnable form. */
export interface PreparedModel {
  readonly config: ModelConfig;
  readonly precision: Precision;
  readonly W_E: FloatArray; // [V, D]
  readonly W_pos: FloatArray; // [C, D]
  readonly layers: readonly PreparedLayer[];
  readonly unembed: Linear; // [D, Vo]
  readonly b_U: FloatArray; // [Vo]
  /** Allocate a zeroed array of this model's precision. */
  alloc(n: number): FloatArray;
}

const memo = new WeakMap<Weights, Map<Precision, PreparedModel>>();

/** The runnable form of `weights` in `precision`, computed once per Weights object. */
export function prepare(weights: Weights, precision: Precision = "float64"): PreparedModel {
  let byPrecision = memo.get(weights);
  if (!byPrecision) {
    byPrecision = new Map();
    memo.set(weights, byPrecision);
  }
  let model = byPrecision.get(precision);
  if (!model) {
    model = build(weights, precision);
    byPrecision.set(precision, model);
  }
  return model;
}

/**
 * Below this many multiply-adds per row (K·N) the JavaScript dense kernel
 * runs: the call and copy overhead of WebAssembly is not repaid. Both give
 * the same bits, so this is a speed choice only.
 */
export const WASM_MIN_MACS = 256;

/** Whether a dense product of `lin` goes to the WebAssembly SIMD kernel. */
export function useWasm(lin: Linear): boolean {
  const bytes = lin.K * lin.N * lin.dense.BYTES_PER_ELEMENT;
  return lin.K * lin.N >= WASM_MIN_MACS && bytes <= WASM_MAX_WEIGHT_BYTES && wasmAvailable();
}

/** Bigger weight matrices stay on the JavaScript kernel (they would crowd the module's memory). */
export const WASM_MAX_WEIGHT_BYTES = 128 * 2 ** 20;

/** Whether `lin` takes the sparse path under `mode`. */
export function usesSparse(lin: Linear, mode: SparseMode): boolean {
  return mode === "always" || (mode === "auto" && lin.density < SPARSE_DENSITY_THRESHOLD);
}

/** out[M, N] = x[M, K] · W + bias (out is overwritten). Bias is added after the product, as in TransformerLens. */
export function applyLinear(
  lin: Linear, x: FloatArray, xOff: number, M: number,
  out: FloatArray, outOff: number, bias: FloatArray | null, mode: SparseMode,
): void {
  if (usesSparse(lin, mode)) {
    out.fill(0, outOff, outOff + M * lin.N);
    matmulSparse(x, xOff, M, lin.K, lin.csr(), out, outOff);
  } else if (useWasm(lin)) {
    // The bias joins in the product's epilogue (out + bias, as addBias adds it): one pass less.
    matmulWasm(x, xOff, M, lin.K, lin.packed(), lin.N, out, outOff, true, bias);
    return;
  } else {
    out.fill(0, outOff, outOff + M * lin.N);
    matmulDense(x, xOff, M, lin.K, lin.denseT(), lin.N, out, outOff);
  }
  if (bias) addBias(out, outOff, M, lin.N, bias);
}

/**
 * One row: out[N] = x[K] · W + bias, given the positions of x's nonzeros in
 * ascending order (xIdx[0 .. nx)). The sparse path then touches only those
 * rows of W — the same additions in the same order as matmulSparse, which
 * skips the zeros itself — so several products of one row share one scan.
 */
export function applyLinearRow(
  lin: Linear, x: FloatArray, xOff: number, xIdx: Int32Array, nx: number,
  out: FloatArray, outOff: number, bias: FloatArray | null, mode: SparseMode,
): void {
  if (!usesSparse(lin, mode)) {
    applyLinear(lin, x, xOff, 1, out, outOff, bias, mode);
    return;
  }
  csrRow(lin.csr(), x, xOff, xIdx, nx, out, outOff, bias);
}

/** applyLinearRow's sparse product, with the matrix in compressed-row form (out is overwritten). */
export function csrRow(
  w: Csr, x: FloatArray, xOff: number, xIdx: Int32Array, nx: number,
  out: FloatArray, outOff: number, bias: FloatArray | null,
): void {
  const N = w.cols;
  const rowPtr = w.rowPtr, colIdx = w.colIdx, vals = w.vals;
  // Short rows: a loop (the builtin call costs more than the stores).
  if (N > 16) out.fill(0, outOff, outOff + N);
  else for (let j = 0; j < N; j++) out[outOff + j] = 0;
  for (let i = 0; i < nx; i++) {
    const kk = xIdx[i];
    const p1 = rowPtr[kk + 1];
    let p = rowPtr[kk];
    if (p === p1) continue;
    const a = x[xOff + kk];
    for (; p < p1; p++) out[outOff + colIdx[p]] += a * vals[p];
  }
  if (bias) for (let j = 0; j < N; j++) out[outOff + j] += bias[j];
}

/**
 * out[M, N] = x[M, K] · W + bias, one row at a time through applyLinearRow
 * when W takes the sparse path (one scan of each x row finds its nonzeros;
 * no pass over whole [M, N] arrays), else the blocked dense product.
 * Bit-identical to applyLinear either way.
 */
export function applyLinearRows(
  lin: Linear, x: FloatArray, xOff: number, M: number, xIdx: Int32Array,
  out: FloatArray, outOff: number, bias: FloatArray | null, mode: SparseMode,
): void {
  if (!usesSparse(lin, mode)) {
    applyLinear(lin, x, xOff, M, out, outOff, bias, mode);
    return;
  }
  const { K, N } = lin;
  const b = liveBias(bias);
  const w = lin.csr();
  for (let i = 0; i < M; i++) {
    const nx = gatherNonzeros(x, xOff + i * K, K, xIdx);
    csrRow(w, x, xOff + i * K, xIdx, nx, out, outOff + i * N, b);
  }
}

/**
 * acc[M, N] = acc + (x[M, K] · W + bias), through a one-row scratch (length
 * ≥ N): each row of the product is added while it is in cache instead of
 * materialising [M, N]. The same additions as applyLinearRows into a
 * temporary followed by acc[i] = acc[i] + tmp[i], so the same bits.
 */
export function applyLinearRowsAdd(
  lin: Linear, x: FloatArray, xOff: number, M: number, xIdx: Int32Array,
  acc: FloatArray, accOff: number, bias: FloatArray | null, mode: SparseMode, row: FloatArray,
): void {
  const { K, N } = lin;
  const sparse = usesSparse(lin, mode);
  const b = liveBias(bias);
  const w = sparse ? lin.csr() : null;
  for (let i = 0; i < M; i++) {
    if (w) csrRow(w, x, xOff + i * K, xIdx, gatherNonzeros(x, xOff + i * K, K, xIdx), row, 0, b);
    else applyLinear(lin, x, xOff + i * K, 1, row, 0, bias, mode);
    const a = accOff + i * N;
    for (let j = 0; j < N; j++) acc[a + j] = acc[a + j] + row[j];
  }
}

/**
 * The three input projections of a layer over M rows of x ([M, D]) into q, k
 * and v ([M, H*E]; q at outOff, k and v at kvOff): when all three take the
 * sparse path, each row of x is scanned for its nonzeros once and the three
 * products share the list.
 */
export function applyQkvRows(
  layer: PreparedLayer, x: FloatArray, xOff: number, M: number, xIdx: Int32Array,
  q: FloatArray, k: FloatArray, v: FloatArray, outOff: number, mode: SparseMode,
  kvOff = outOff,
): void {
  const { q: lq, k: lk, v: lv } = layer;
  if (!(usesSparse(lq, mode) && usesSparse(lk, mode) && usesSparse(lv, mode))) {
    applyLinearRows(lq, x, xOff, M, xIdx, q, outOff, layer.bq, mode);
    applyLinearRows(lk, x, xOff, M, xIdx, k, kvOff, layer.bk, mode);
    applyLinearRows(lv, x, xOff, M, xIdx, v, kvOff, layer.bv, mode);
    return;
  }
  const K = lq.K, N = lq.N;
  const bq = liveBias(layer.bq), bk = liveBias(layer.bk), bv = liveBias(layer.bv);
  const wq = lq.csr(), wk = lk.csr(), wv = lv.csr();
  for (let i = 0; i < M; i++) {
    const xi = xOff + i * K;
    const nx = gatherNonzeros(x, xi, K, xIdx);
    csrRow(wq, x, xi, xIdx, nx, q, outOff + i * N, bq);
    csrRow(wk, x, xi, xIdx, nx, k, kvOff + i * N, bk);
    csrRow(wv, x, xi, xIdx, nx, v, kvOff + i * N, bv);
  }
}

const zeroMemo = new WeakMap<FloatArray, boolean>();

/** The bias, or null when every entry is 0 (memoised per array: weights never change after prepare). */
export function liveBias(a: FloatArray | null): FloatArray | null {
  if (a === null) return null;
  let z = zeroMemo.get(a);
  if (z === undefined) {
    z = a.every((x) => x === 0);
    zeroMemo.set(a, z);
  }
  return z ? null : a;
}

/** Rows up to this long are scanned branch-free by gatherNonzeros. */
const GATHER_BRANCH_FREE_MAX = 64;

/** Positions of the nonzeros of x[off .. off+n) into idx (length ≥ n), ascending; returns their count. */
export function gatherNonzeros(x: FloatArray, off: number, n: number, idx: Int32Array): number {
  // Branch-free (every i is written, the count advances past nonzeros only):
  // the residual's few nonzeros would each cost a mispredicted branch.
  // Needs idx.length ≥ n.
  let c = 0;
  if (n > GATHER_BRANCH_FREE_MAX) {
    // Long rows of compiled weights are mostly zeros: the branch predicts well.
    for (let i = 0; i < n; i++) if (x[off + i] !== 0) idx[c++] = i;
    return c;
  }
  // Short rows: branch-free, every i is written and the count advances past
  // nonzeros only (a dense-ish row's scattered nonzeros would each cost a
  // mispredicted branch: ~3.5× slower at one third nonzeros). Needs
  // idx.length ≥ n. (`+bool`, not a ternary, which V8 compiles to a branch.)
  for (let i = 0; i < n; i++) {
    idx[c] = i;
    c += +(x[off + i] !== 0);
  }
  return c;
}

function build(w: Weights, precision: Precision): PreparedModel {
  const c = w.config;
  const { d_model: D, d_head: E, n_heads: H, n_layers: L, n_ctx: C, d_vocab: V, d_vocab_out: Vo } = c;
  const alloc = (n: number): FloatArray => (precision === "float32" ? new Float32Array(n) : new Float64Array(n));
  const conv = (t: Tensor, name: string, shape: readonly number[]): FloatArray => {
    checkShape(t, name, shape);
    const out = alloc(t.data.length);
    out.set(t.data);
    return out;
  };
  if (w.blocks.length !== L) {
    throw new Error(`prepare: config.n_layers is ${L} but weights have ${w.blocks.length} blocks`);
  }
  const layers = w.blocks.map((b, l): PreparedLayer => {
    const p = `blocks.${l}.attn.`;
    const v = linear(stackHeads(conv(b.W_V, p + "W_V", [H, D, E]), H, D, E, alloc), D, H * E);
    const bv = conv(b.b_V, p + "b_V", [H, E]);
    return {
      q: linear(stackHeads(conv(b.W_Q, p + "W_Q", [H, D, E]), H, D, E, alloc), D, H * E),
      k: linear(stackHeads(conv(b.W_K, p + "W_K", [H, D, E]), H, D, E, alloc), D, H * E),
      v,
      o: linear(conv(b.W_O, p + "W_O", [H, E, D]), H * E, D),
      bq: conv(b.b_Q, p + "b_Q", [H, E]),
      bk: conv(b.b_K, p + "b_K", [H, E]),
      bv,
      bo: conv(b.b_O, p + "b_O", [D]),
      vCols: activeColumns(v.dense, bv, D, H, E),
    };
  });
  return {
    config: c,
    precision,
    W_E: conv(w.W_E, "embed.W_E", [V, D]),
    W_pos: conv(w.W_pos, "pos_embed.W_pos", [C, D]),
    layers,
    unembed: linear(conv(w.W_U, "unembed.W_U", [D, Vo]), D, Vo),
    b_U: conv(w.b_U, "unembed.b_U", [Vo]),
    alloc,
  };
}

function linear(dense: FloatArray, K: number, N: number): Linear {
  let csr: Csr | undefined;
  let denseT: FloatArray | undefined;
  let packed: FloatArray | undefined;
  return {
    K,
    N,
    dense,
    density: dense.length === 0 ? 0 : countNonzeros(dense) / dense.length,
    denseT: () => (denseT ??= transpose(dense, K, N)),
    csr: () => (csr ??= toCsr(dense, K, N)),
    packed: () => (packed ??= packPanels(dense, K, N)),
  };
}

/** Per head, the columns of a stacked [D, H*E] matrix (plus bias [H, E]) that hold a nonzero; null when all do. */
function activeColumns(w: FloatArray, bias: FloatArray, D: number, H: number, E: number): (Int32Array | null)[] {
  const HE = H * E;
  return Array.from({ length: H }, (_, h) => {
    const cols: number[] = [];
    for (let e = 0; e < E; e++) {
      const c = h * E + e;
      let nz = bias[c] !== 0;
      for (let d = 0; d < D && !nz; d++) nz = w[d * HE + c] !== 0;
      if (nz) cols.push(e);
    }
    return cols.length === E ? null : Int32Array.from(cols);
  });
}

/** [H, D, E] → [D, H*E], so that row d of the result is (W[0][d], W[1][d], …). */
function stackHeads(w: FloatArray, H: number, D: number, E: number, alloc: (n: number) => FloatArray): FloatArray {
  const out = alloc(H * D * E); // [D, H, E]
  for (let h = 0; h < H; h++)
    for (let d = 0; d < D; d++)
      for (let e = 0; e < E; e++) out[(d * H + h) * E + e] = w[(h * D + d) * E + e];
  return out;
}

function checkShape(t: Tensor, name: string, shape: readonly number[]): void {
  const same = t.shape.length === shape.length && t.shape.every((s, i) => s === shape[i]);
  const size = shape.reduce((a, b) => a * b, 1);
  if (!same || t.data.length !== size) {
    throw new Error(
      `prepare: ${name} has shape [${t.shape.join(", ")}] (${t.data.length} values), config says [${shape.join(", ")}]`,
    );
  }
}
