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

/** Whether `lin` takes the sparse path under `mode`. */
export function usesSparse(lin: Linear, mode: SparseMode): boolean {
  return mode === "always" || (mode === "auto" && lin.density < SPARSE_DENSITY_THRESHOLD);
}

/** out[M, N] = x[M, K] · W + bias (out is overwritten). Bias is added after the product, as in TransformerLens. */
export function applyLinear(
  lin: Linear, x: FloatArray, xOff: number, M: number,
  out: FloatArray, outOff: number, bias: FloatArray | null, mode: SparseMode,
): void {
  out.fill(0, outOff, outOff + M * lin.N);
  if (usesSparse(lin, mode)) matmulSparse(x, xOff, M, lin.K, lin.csr(), out, outOff);
  else matmulDense(x, xOff, M, lin.K, lin.denseT(), lin.N, out, outOff);
  if (bias) addBias(out, outOff, M, lin.N, bias);
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
    return {
      q: linear(stackHeads(conv(b.W_Q, p + "W_Q", [H, D, E]), H, D, E, alloc), D, H * E),
      k: linear(stackHeads(conv(b.W_K, p + "W_K", [H, D, E]), H, D, E, alloc), D, H * E),
      v: linear(stackHeads(conv(b.W_V, p + "W_V", [H, D, E]), H, D, E, alloc), D, H * E),
      o: linear(conv(b.W_O, p + "W_O", [H, E, D]), H * E, D),
      bq: conv(b.b_Q, p + "b_Q", [H, E]),
      bk: conv(b.b_K, p + "b_K", [H, E]),
      bv: conv(b.b_V, p + "b_V", [H, E]),
      bo: conv(b.b_O, p + "b_O", [D]),
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
  return {
    K,
    N,
    dense,
    density: dense.length === 0 ? 0 : countNonzeros(dense) / dense.length,
    denseT: () => (denseT ??= transpose(dense, K, N)),
    csr: () => (csr ??= toCsr(dense, K, N)),
  };
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
