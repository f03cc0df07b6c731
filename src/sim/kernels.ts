/**
 * Matrix-product kernels of the simulator (dense, float32, CSR sparse, bias),
 * on flat row-major typed arrays; attention lives in attention.ts.
 *
 * Every kernel takes explicit element offsets instead of subarray views so the
 * hot loops allocate nothing, and every kernel adds in one fixed order (k
 * ascending for products, j ascending for attention) so that the dense path,
 * the sparse path, the batched forward and the one-row-at-a-time KV-cached
 * forward produce bit-identical numbers. (In float32 the batched and KV-cached
 * forwards still agree exactly; dense and sparse may differ in the last bit,
 * because the dense kernel rounds each product to float32 before adding it,
 * as float32 SIMD does, and the sparse one adds the exact product.) The
 * dense product also has a WebAssembly SIMD form (src/sim/wasm.ts) with the
 * same arithmetic, so either may serve any call. Shape letters: see src/model/weights.ts.
 */

import type { FloatArray } from "../model/weights.ts";

/** A sparse matrix in compressed-row form: row r holds cols/vals[rowPtr[r] .. rowPtr[r+1]). */
export interface Csr {
  readonly rows: number;
  readonly cols: number;
  readonly rowPtr: Int32Array; // [rows + 1]
  readonly colIdx: Int32Array; // [nnz]
  readonly vals: FloatArray; // [nnz]
}

/** Number of nonzero entries of a dense array. */
export function countNonzeros(a: FloatArray): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) n++;
  return n;
}

/** Compressed-row form of a dense [K, N] matrix; values keep the input's precision. */
export function toCsr(w: FloatArray, K: number, N: number): Csr {
  const nnz = countNonzeros(w);
  const rowPtr = new Int32Array(K + 1);
  const colIdx = new Int32Array(nnz);
  const vals = w instanceof Float32Array ? new Float32Array(nnz) : new Float64Array(nnz);
  let p = 0;
  for (let r = 0; r < K; r++) {
    rowPtr[r] = p;
    const base = r * N;
    for (let c = 0; c < N; c++) {
      const x = w[base + c];
      if (x !== 0) {
        colIdx[p] = c;
        vals[p] = x;
        p++;
      }
    }
  }
  rowPtr[K] = p;
  return { rows: K, cols: N, rowPtr, colIdx, vals };
}

/** The transpose of a [K, N] matrix, as [N, K]. */
export function transpose(w: FloatArray, K: number, N: number): FloatArray {
  const out = w instanceof Float32Array ? new Float32Array(K * N) : new Float64Array(K * N);
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) out[j * K + k] = w[k * N + j];
  return out;
}

// About 32 KiB of Wᵀ per column block, so a block stays in L1 while every row
// of x streams past it (rows of x are contiguous, rows of Wᵀ are contiguous).
const BLOCK_ELEMS = 4096;

/**
 * out[M, N] += x[M, K] · W, dense, with W given transposed (wT is [N, K]).
 *
 * Each out[i, j] is a dot product accumulated in a register, k ascending
 * from 0, then added to out. When out starts at zero (applyLinear sees to
 * it) these are the same additions in the same order as the i-k-j loop and
 * the sparse kernel (adding 0·w changes nothing for finite weights), so all
 * paths agree bit for bit in float64. Four columns share each load of
 * x[i, k]: V8 does not vectorise, so this register blocking is what makes the
 * kernel ~3× faster than a plain i-k-j loop (≈1.8 vs 0.6 GMAC/s measured).
 * Float32 arrays go to matmulDenseF32 (float32 arithmetic throughout).
 */
export function matmulDense(
  x: FloatArray, xOff: number, M: number, K: number,
  wT: FloatArray, N: number,
  out: FloatArray, outOff: number,
): void {
  if (x instanceof Float32Array) {
    matmulDenseF32(x, xOff, M, K, wT, N, out, outOff);
    return;
  }
  const NB = Math.max(4, (Math.floor(BLOCK_ELEMS / Math.max(1, K)) >> 2) << 2);
  for (let j0 = 0; j0 < N; j0 += NB) {
    const j1 = Math.min(N, j0 + NB);
    for (let i = 0; i < M; i++) {
      const xi = xOff + i * K;
      const oi = outOff + i * N;
      let j = j0;
      for (; j + 3 < j1; j += 4) {
        const w0 = j * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < K; k++) {
          const a = x[xi + k];
          s0 += a * wT[w0 + k];
          s1 += a * wT[w1 + k];
          s2 += a * wT[w2 + k];
          s3 += a * wT[w3 + k];
        }
        out[oi + j] += s0;
        out[oi + j + 1] += s1;
        out[oi + j + 2] += s2;
        out[oi + j + 3] += s3;
      }
      for (; j < j1; j++) {
        const wj = j * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += x[xi + k] * wT[wj + k];
        out[oi + j] += s;
      }
    }
  }
}


const fr = Math.fround;

/**
 * matmulDense in float32 arithmetic: every product and every partial sum is
 * rounded to float32 (a float32 product and sum computed in float64 and
 * rounded once are exactly the float32 operations), which is what f32x4
 * SIMD computes lane by lane — so this kernel and the WebAssembly one
 * (src/sim/wasm.ts) agree bit for bit.
 */
export function matmulDenseF32(
  x: FloatArray, xOff: number, M: number, K: number,
  wT: FloatArray, N: number,
  out: FloatArray, outOff: number,
): void {
  const NB = Math.max(4, (Math.floor(BLOCK_ELEMS / Math.max(1, K)) >> 2) << 2);
  for (let j0 = 0; j0 < N; j0 += NB) {
    const j1 = Math.min(N, j0 + NB);
    for (let i = 0; i < M; i++) {
      const xi = xOff + i * K;
      const oi = outOff + i * N;
      let j = j0;
      for (; j + 3 < j1; j += 4) {
        const w0 = j * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < K; k++) {
          const a = x[xi + k];
          s0 = fr(s0 + fr(a * wT[w0 + k]));
          s1 = fr(s1 + fr(a * wT[w1 + k]));
          s2 = fr(s2 + fr(a * wT[w2 + k]));
          s3 = fr(s3 + fr(a * wT[w3 + k]));
        }
        out[oi + j] += s0;
        out[oi + j + 1] += s1;
        out[oi + j + 2] += s2;
        out[oi + j + 3] += s3;
      }
      for (; j < j1; j++) {
        const wj = j * K;
        let s = 0;
        for (let k = 0; k < K; k++) s = fr(s + fr(x[xi + k] * wT[wj + k]));
        out[oi + j] += s;
      }
    }
  }
}


/**
 * out[M, N] += x[M, K] · W[K, N] with W in compressed-row form.
 * Work is (nonzeros of x) × (nonzeros per W row): for a one-hot residual this
 * is a sum of a few weight rows instead of a K·N product.
 */
export function matmulSparse(
  x: FloatArray, xOff: number, M: number, K: number,
  w: Csr,
  out: FloatArray, outOff: number,
): void {
  const N = w.cols;
  const { rowPtr, colIdx, vals } = w;
  for (let i = 0; i < M; i++) {
    const xi = xOff + i * K;
    const oi = outOff + i * N;
    for (let k = 0; k < K; k++) {
      const a = x[xi + k];
      if (a === 0) continue;
      const p1 = rowPtr[k + 1];
      for (let p = rowPtr[k]; p < p1; p++) out[oi + colIdx[p]] += a * vals[p];
    }
  }
}

/** out[M, N] += bias[N] broadcast over rows. */
export function addBias(out: FloatArray, outOff: number, M: number, N: number, bias: FloatArray): void {
  for (let i = 0; i < M; i++) {
    const oi = outOff + i * N;
    for (let j = 0; j < N; j++) out[oi + j] += bias[j];
  }
}
