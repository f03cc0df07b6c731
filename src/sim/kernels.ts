/**
 * Numeric kernels of the simulator, on flat row-major typed arrays.
 *
 * Every kernel takes explicit element offsets instead of subarray views so the
 * hot loops allocate nothing, and every kernel adds in one fixed order (k
 * ascending for products, j ascending for attention) so that the dense path,
 * the sparse path, the batched forward and the one-row-at-a-time KV-cached
 * forward produce bit-identical numbers. (In float32 the batched and KV-cached
 * forwards still agree exactly; dense and sparse may differ in the last bit,
 * because the dense kernel sums in a float64 register and the sparse one
 * rounds to float32 after every addition.) Shape letters: see src/model/weights.ts.
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
 */
export function matmulDense(
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

/**
 * Numerically stable softmax of buf[0, n), in place.
 * Subtracting the max makes the largest exponent exp(0) = 1, so scores of
 * 1e4 (hard attention) cannot overflow and the sum is at least 1.
 */
export function softmaxInPlace(buf: FloatArray, n: number): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (buf[j] > max) max = buf[j];
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const e = Math.exp(buf[j] - max);
    buf[j] = e;
    sum += e;
  }
  for (let j = 0; j < n; j++) buf[j] = buf[j] / sum;
}

/**
 * One head, one query: causal attention of q over keys 0 .. nKeys-1.
 *
 * q[qOff .. qOff+E) is the query; key/value j live at kOff + j*stride in k and
 * v (stride = H*E, kOff already includes the head offset h*E). Scores never
 * exist beyond nKeys (the causal mask is the loop bound), and only the one
 * scratch row buf[≥ nKeys] is used: when no cache is requested nothing of
 * size T×T is materialised. On return buf holds the attention pattern and
 * z[zOff .. zOff+E) the weighted sum of values. If `scores`/`pattern` are
 * given, row [traceOff, traceOff + nKeys) of each receives the scaled scores
 * and the probabilities (the caller pre-fills masked entries).
 */
export function attendHead(
  q: FloatArray, qOff: number,
  k: FloatArray, v: FloatArray, kOff: number, nKeys: number, stride: number,
  E: number, sqrtE: number,
  z: FloatArray, zOff: number,
  buf: FloatArray,
  scores: FloatArray | null = null, pattern: FloatArray | null = null, traceOff = 0,
): void {
  for (let j = 0; j < nKeys; j++) {
    const kj = kOff + j * stride;
    let s = 0;
    for (let e = 0; e < E; e++) s += q[qOff + e] * k[kj + e];
    // Divide (not multiply by 1/sqrt) as TransformerLens does, for the same rounding.
    buf[j] = s / sqrtE;
  }
  if (scores) for (let j = 0; j < nKeys; j++) scores[traceOff + j] = buf[j];
  softmaxInPlace(buf, nKeys);
  if (pattern) for (let j = 0; j < nKeys; j++) pattern[traceOff + j] = buf[j];
  // z[e] = Σ_j p_j v[j, e], j ascending, in registers four value columns at a
  // time (one load of p_j serves four products, and z is stored once).
  let e = 0;
  for (; e + 3 < E; e += 4) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let j = 0; j < nKeys; j++) {
      const p = buf[j];
      if (p === 0) continue; // hard attention: most keys underflow to exactly 0
      const vj = kOff + j * stride + e;
      s0 += p * v[vj];
      s1 += p * v[vj + 1];
      s2 += p * v[vj + 2];
      s3 += p * v[vj + 3];
    }
    z[zOff + e] = s0;
    z[zOff + e + 1] = s1;
    z[zOff + e + 2] = s2;
    z[zOff + e + 3] = s3;
  }
  for (; e < E; e++) {
    let s = 0;
    for (let j = 0; j < nKeys; j++) {
      const p = buf[j];
      if (p !== 0) s += p * v[kOff + j * stride + e];
    }
    z[zOff + e] = s;
  }
}

/** Optional per-row trace of attendRow: [H, T, T] score and pattern tensors of the sequence. */
export interface AttentionTrace {
  readonly scores: FloatArray; // [H, T, T], masked entries pre-filled with -Infinity
  readonly pattern: FloatArray; // [H, T, T], masked entries pre-filled with 0
  readonly T: number;
}

/**
 * All heads, one query row i of a sequence whose first row starts at element
 * offset rowOff0 in q/k/v/z (all [*, H*E]): keys are rows 0 .. i of that sequence.
 */
export function attendRow(
  q: FloatArray, k: FloatArray, v: FloatArray, z: FloatArray,
  rowOff0: number, i: number,
  H: number, E: number, sqrtE: number,
  buf: FloatArray,
  trace: AttentionTrace | null = null,
): void {
  const HE = H * E;
  const qi = rowOff0 + i * HE;
  for (let h = 0; h < H; h++) {
    const traceOff = trace ? h * trace.T * trace.T + i * trace.T : 0;
    attendHead(
      q, qi + h * E, k, v, rowOff0 + h * E, i + 1, HE, E, sqrtE, z, qi + h * E, buf,
      trace?.scores ?? null, trace?.pattern ?? null, traceOff,
    );
  }
}
