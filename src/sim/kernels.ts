/**
 * Numeric kernels of the simulator, on flat row-major typed arrays.
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
    // exp(x) is exactly 0 in float64 for x < -745.14, and hard attention puts
    // most keys far below that: a comparison instead of a call, same bits.
    const x = buf[j] - max;
    const e = x < -746 ? 0 : Math.exp(x);
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
 * and the probabilities (the caller pre-fills masked entries). qIdx (scratch,
 * length ≥ E) turns on the sparse-query score loop; vCols lists the value
 * columns that can be nonzero (null: all of them).
 */
export function attendHead(
  q: FloatArray, qOff: number,
  k: FloatArray, v: FloatArray, kOff: number, nKeys: number, stride: number,
  E: number, sqrtE: number,
  z: FloatArray, zOff: number,
  buf: FloatArray,
  scores: FloatArray | null = null, pattern: FloatArray | null = null, traceOff = 0,
  qIdx: Int32Array | null = null, vCols: Int32Array | null = null,
): void {
  if (q instanceof Float32Array) {
    attendHeadF32(q, qOff, k, v, kOff, nKeys, stride, E, sqrtE, z, zOff, buf, scores, pattern, traceOff, qIdx, vCols);
    return;
  }
  if (!scores && !pattern && buf instanceof Float64Array && attendHeadLive(q, qOff, k, v, kOff, nKeys, stride, E, sqrtE, z, zOff, buf, qIdx, vCols)) return;
  // Scores. With a scratch qIdx, the query's nonzero coordinates are gathered
  // first and, when they are under half of E (compiled weights: a handful of
  // one-hot directions), each dot product runs over those only. Skipped terms
  // are exact zeros (0·k = ±0, and s + ±0 = s for an s that starts at +0), so
  // both loops give the same bits.
  let nq = E;
  if (qIdx) {
    nq = 0;
    for (let e = 0; e < E; e++) if (q[qOff + e] !== 0) qIdx[nq++] = e;
  }
  if (qIdx && nq * 2 < E) {
    for (let j = 0; j < nKeys; j++) {
      const kj = kOff + j * stride;
      let s = 0;
      for (let t = 0; t < nq; t++) {
        const e = qIdx[t];
        s += q[qOff + e] * k[kj + e];
      }
      buf[j] = s / sqrtE;
    }
  } else {
    // Four keys at a time: four independent sums (each still e ascending, so
    // the same bits) instead of one chain of dependent additions per key.
    let j = 0;
    for (; j + 3 < nKeys; j += 4) {
      const k0 = kOff + j * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let e = 0; e < E; e++) {
        const a = q[qOff + e];
        s0 += a * k[k0 + e];
        s1 += a * k[k1 + e];
        s2 += a * k[k2 + e];
        s3 += a * k[k3 + e];
      }
      buf[j] = s0 / sqrtE;
      buf[j + 1] = s1 / sqrtE;
      buf[j + 2] = s2 / sqrtE;
      buf[j + 3] = s3 / sqrtE;
    }
    for (; j < nKeys; j++) {
      const kj = kOff + j * stride;
      let s = 0;
      for (let e = 0; e < E; e++) s += q[qOff + e] * k[kj + e];
      // Divide (not multiply by 1/sqrt) as TransformerLens does, for the same rounding.
      buf[j] = s / sqrtE;
    }
  }
  if (scores) for (let j = 0; j < nKeys; j++) scores[traceOff + j] = buf[j];
  softmaxInPlace(buf, nKeys);
  if (pattern) for (let j = 0; j < nKeys; j++) pattern[traceOff + j] = buf[j];
  // z[e] = Σ_j p_j v[j, e], j ascending, in registers eight value columns at
  // a time (one load of p_j serves eight products, z is stored once; with
  // head-major caches a pass over the keys is a contiguous stream).
  if (vCols) {
    // Only the value columns some weight or bias can make nonzero; the others
    // are exactly +0, as the full loop leaves them (Σ p·(±0) from +0).
    for (let e = 0; e < E; e++) z[zOff + e] = 0;
    const nc = vCols.length;
    let c = 0;
    for (; c + 3 < nc; c += 4) {
      const e0 = vCols[c], e1 = vCols[c + 1], e2 = vCols[c + 2], e3 = vCols[c + 3];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < nKeys; j++) {
        const p = buf[j];
        if (p === 0) continue; // hard attention: most keys underflow to exactly 0
        const vj = kOff + j * stride;
        s0 += p * v[vj + e0];
        s1 += p * v[vj + e1];
        s2 += p * v[vj + e2];
        s3 += p * v[vj + e3];
      }
      z[zOff + e0] = s0;
      z[zOff + e1] = s1;
      z[zOff + e2] = s2;
      z[zOff + e3] = s3;
    }
    for (; c < nc; c++) {
      const e = vCols[c];
      let s = 0;
      for (let j = 0; j < nKeys; j++) {
        const p = buf[j];
        if (p !== 0) s += p * v[kOff + j * stride + e];
      }
      z[zOff + e] = s;
    }
    return;
  }
  let e = 0;
  for (; e + 7 < E; e += 8) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (let j = 0; j < nKeys; j++) {
      const p = buf[j];
      if (p === 0) continue;
      const vj = kOff + j * stride + e;
        s0 += p * v[vj];
        s1 += p * v[vj + 1];
        s2 += p * v[vj + 2];
        s3 += p * v[vj + 3];
        s4 += p * v[vj + 4];
        s5 += p * v[vj + 5];
        s6 += p * v[vj + 6];
        s7 += p * v[vj + 7];
    }
    z[zOff + e] = s0;
    z[zOff + e + 1] = s1;
    z[zOff + e + 2] = s2;
    z[zOff + e + 3] = s3;
    z[zOff + e + 4] = s4;
    z[zOff + e + 5] = s5;
    z[zOff + e + 6] = s6;
    z[zOff + e + 7] = s7;
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

/** attendHeadLive's memo of Math.exp: x in expX[slot] (NaN: empty), exp(x) in expY[slot]. */
const EXP_BITS = 12;
const EXP_SHIFT = 32 - EXP_BITS;
const expX = new Float64Array(1 << EXP_BITS).fill(NaN);
const expY = new Float64Array(1 << EXP_BITS);
const expKey = new Float64Array(1);
const expBits = new Int32Array(expKey.buffer);

/** Scratch for attendHeadLive: the keys whose attention weight is not exactly 0. */
let liveKeys = new Int32Array(256);

/**
 * attendHead in float64 without a trace, in fewer passes: the score loop
 * also takes the maximum, the exponent loop lists the keys whose weight is
 * not exactly 0 (hard attention: a handful), and the normalisation and the
 * value sums visit only those. Every stored number is the same operation on
 * the same operands, in the same order, as the general loops (skipped terms
 * are exact zeros: 0 / sum = +0 for the positive sum, and the value loops skip
 * p = 0 themselves), so the bits are identical. Returns false, having written
 * only buf, when the sum is NaN (a NaN or infinite score): the caller then
 * runs the general loops, which spread the NaN as before.
 */
function attendHeadLive(
  q: FloatArray, qOff: number,
  k: FloatArray, v: FloatArray, kOff: number, nKeys: number, stride: number,
  E: number, sqrtE: number,
  z: FloatArray, zOff: number,
  buf: FloatArray,
  qIdx: Int32Array | null, vCols: Int32Array | null,
): boolean {
  let max = -Infinity;
  let nq = E;
  if (qIdx) {
    nq = 0;
    if (E > 32) {
      for (let e = 0; e < E; e++) if (q[qOff + e] !== 0) qIdx[nq++] = e;
    } else {
      // Branch-free for short queries (see gatherNonzeros in prepare.ts).
      for (let e = 0; e < E; e++) {
        qIdx[nq] = e;
        nq += +(q[qOff + e] !== 0);
      }
    }
  }
  if (qIdx && nq * 2 < E) {
    if (nq === 0) {
      for (let j = 0; j < nKeys; j++) {
        const x = 0 / sqrtE;
        buf[j] = x;
        if (x > max) max = x;
      }
    } else if (nq === 1) {
      const e0 = qIdx[0], a0 = q[qOff + e0];
      let kj = kOff + e0;
      for (let j = 0; j < nKeys; j++, kj += stride) {
        const x = (0 + a0 * k[kj]) / sqrtE;
        buf[j] = x;
        if (x > max) max = x;
      }
    } else if (nq === 2) {
      const e0 = qIdx[0], e1 = qIdx[1], a0 = q[qOff + e0], a1 = q[qOff + e1];
      let kj = kOff;
      for (let j = 0; j < nKeys; j++, kj += stride) {
        const x = (0 + a0 * k[kj + e0] + a1 * k[kj + e1]) / sqrtE;
        buf[j] = x;
        if (x > max) max = x;
      }
    } else if (nq === 3) {
      const e0 = qIdx[0], e1 = qIdx[1], e2 = qIdx[2], a0 = q[qOff + e0], a1 = q[qOff + e1], a2 = q[qOff + e2];
      let kj = kOff;
      for (let j = 0; j < nKeys; j++, kj += stride) {
        const x = (0 + a0 * k[kj + e0] + a1 * k[kj + e1] + a2 * k[kj + e2]) / sqrtE;
        buf[j] = x;
        if (x > max) max = x;
      }
    } else if (nq === 4) {
      const e0 = qIdx[0], e1 = qIdx[1], e2 = qIdx[2], e3 = qIdx[3];
      const a0 = q[qOff + e0], a1 = q[qOff + e1], a2 = q[qOff + e2], a3 = q[qOff + e3];
      let kj = kOff;
      for (let j = 0; j < nKeys; j++, kj += stride) {
        const x = (0 + a0 * k[kj + e0] + a1 * k[kj + e1] + a2 * k[kj + e2] + a3 * k[kj + e3]) / sqrtE;
        buf[j] = x;
        if (x > max) max = x;
      }
    } else {
      for (let j = 0; j < nKeys; j++) {
        const kj = kOff + j * stride;
        let s = 0;
        for (let t = 0; t < nq; t++) {
          const e = qIdx[t];
          s += q[qOff + e] * k[kj + e];
        }
        const x = s / sqrtE;
        buf[j] = x;
        if (x > max) max = x;
      }
    }
  } else {
    let j = 0;
    for (; j + 3 < nKeys; j += 4) {
      const k0 = kOff + j * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let e = 0; e < E; e++) {
        const a = q[qOff + e];
        s0 += a * k[k0 + e];
        s1 += a * k[k1 + e];
        s2 += a * k[k2 + e];
        s3 += a * k[k3 + e];
      }
      const x0 = s0 / sqrtE, x1 = s1 / sqrtE, x2 = s2 / sqrtE, x3 = s3 / sqrtE;
      buf[j] = x0;
      buf[j + 1] = x1;
      buf[j + 2] = x2;
      buf[j + 3] = x3;
      if (x0 > max) max = x0;
      if (x1 > max) max = x1;
      if (x2 > max) max = x2;
      if (x3 > max) max = x3;
    }
    for (; j < nKeys; j++) {
      const kj = kOff + j * stride;
      let s = 0;
      for (let e = 0; e < E; e++) s += q[qOff + e] * k[kj + e];
      const x = s / sqrtE;
      buf[j] = x;
      if (x > max) max = x;
    }
  }
  // softmaxInPlace, recording the keys with a nonzero weight.
  if (liveKeys.length < nKeys) liveKeys = new Int32Array(Math.max(nKeys, liveKeys.length * 2));
  const live = liveKeys;
  let nLive = 0;
  let sum = 0;
  for (let j = 0; j < nKeys; j++) {
    const x = buf[j] - max;
    if (x < -746) {
      buf[j] = 0;
      continue; // sum + 0 = sum
    }
    // Math.exp through a direct-mapped memo on x's bits: compiled heads give
    // the same few score gaps over and over (same positions, same tokens).
    expKey[0] = x;
    const slot = Math.imul(expBits[0] ^ expBits[1], 0x9e3779b1) >>> EXP_SHIFT;
    let e: number;
    if (expX[slot] === x) e = expY[slot];
    else {
      e = Math.exp(x);
      expX[slot] = x;
      expY[slot] = e;
    }
    buf[j] = e;
    sum += e;
    live[nLive] = j; // kept when e ≠ 0 (branch-free: exp can underflow)
    nLive += +(e !== 0);
  }
  if (sum !== sum) return false;
  for (let t = 0; t < nLive; t++) {
    const j = live[t];
    buf[j] = buf[j] / sum;
  }
  if (vCols) {
    if (E > 16) z.fill(0, zOff, zOff + E);
    else for (let e = 0; e < E; e++) z[zOff + e] = 0;
    const nc = vCols.length;
    let c = 0;
    for (; c + 3 < nc; c += 4) {
      const e0 = vCols[c], e1 = vCols[c + 1], e2 = vCols[c + 2], e3 = vCols[c + 3];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let t = 0; t < nLive; t++) {
        const j = live[t];
        const p = buf[j];
        if (p === 0) continue; // e / sum can underflow
        const vj = kOff + j * stride;
        s0 += p * v[vj + e0];
        s1 += p * v[vj + e1];
        s2 += p * v[vj + e2];
        s3 += p * v[vj + e3];
      }
      z[zOff + e0] = s0;
      z[zOff + e1] = s1;
      z[zOff + e2] = s2;
      z[zOff + e3] = s3;
    }
    for (; c < nc; c++) {
      const e = vCols[c];
      let s = 0;
      for (let t = 0; t < nLive; t++) {
        const j = live[t];
        const p = buf[j];
        if (p !== 0) s += p * v[kOff + j * stride + e];
      }
      z[zOff + e] = s;
    }
    return true;
  }
  let e = 0;
  for (; e + 7 < E; e += 8) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (let t = 0; t < nLive; t++) {
      const j = live[t];
      const p = buf[j];
      if (p === 0) continue;
      const vj = kOff + j * stride + e;
      s0 += p * v[vj];
      s1 += p * v[vj + 1];
      s2 += p * v[vj + 2];
      s3 += p * v[vj + 3];
      s4 += p * v[vj + 4];
      s5 += p * v[vj + 5];
      s6 += p * v[vj + 6];
      s7 += p * v[vj + 7];
    }
    z[zOff + e] = s0;
    z[zOff + e + 1] = s1;
    z[zOff + e + 2] = s2;
    z[zOff + e + 3] = s3;
    z[zOff + e + 4] = s4;
    z[zOff + e + 5] = s5;
    z[zOff + e + 6] = s6;
    z[zOff + e + 7] = s7;
  }
  for (; e < E; e++) {
    let s = 0;
    for (let t = 0; t < nLive; t++) {
      const j = live[t];
      const p = buf[j];
      if (p !== 0) s += p * v[kOff + j * stride + e];
    }
    z[zOff + e] = s;
  }
  return true;
}

/**
 * attendHead in float32 arithmetic (every product and partial sum rounded to
 * float32), the arithmetic of the WebAssembly kernel that forward() uses for
 * whole sequences of dense heads — so batched and KV-cached runs keep giving
 * the same bits in float32.
 */
export function attendHeadF32(
  q: FloatArray, qOff: number,
  k: FloatArray, v: FloatArray, kOff: number, nKeys: number, stride: number,
  E: number, sqrtE: number,
  z: FloatArray, zOff: number,
  buf: FloatArray,
  scores: FloatArray | null = null, pattern: FloatArray | null = null, traceOff = 0,
  qIdx: Int32Array | null = null, vCols: Int32Array | null = null,
): void {
  // Scores. With a scratch qIdx, the query's nonzero coordinates are gathered
  // first and, when they are under half of E (compiled weights: a handful of
  // one-hot directions), each dot product runs over those only. Skipped terms
  // are exact zeros (0·k = ±0, and s + ±0 = s for an s that starts at +0), so
  // both loops give the same bits.
  let nq = E;
  if (qIdx) {
    nq = 0;
    for (let e = 0; e < E; e++) if (q[qOff + e] !== 0) qIdx[nq++] = e;
  }
  if (qIdx && nq * 2 < E) {
    for (let j = 0; j < nKeys; j++) {
      const kj = kOff + j * stride;
      let s = 0;
      for (let t = 0; t < nq; t++) {
        const e = qIdx[t];
        s = fr(s + fr(q[qOff + e] * k[kj + e]));
      }
      buf[j] = s / sqrtE;
    }
  } else {
    // Four keys at a time: four independent sums (each still e ascending, so
    // the same bits) instead of one chain of dependent additions per key.
    let j = 0;
    for (; j + 3 < nKeys; j += 4) {
      const k0 = kOff + j * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let e = 0; e < E; e++) {
        const a = q[qOff + e];
        s0 = fr(s0 + fr(a * k[k0 + e]));
        s1 = fr(s1 + fr(a * k[k1 + e]));
        s2 = fr(s2 + fr(a * k[k2 + e]));
        s3 = fr(s3 + fr(a * k[k3 + e]));
      }
      buf[j] = s0 / sqrtE;
      buf[j + 1] = s1 / sqrtE;
      buf[j + 2] = s2 / sqrtE;
      buf[j + 3] = s3 / sqrtE;
    }
    for (; j < nKeys; j++) {
      const kj = kOff + j * stride;
      let s = 0;
      for (let e = 0; e < E; e++) s = fr(s + fr(q[qOff + e] * k[kj + e]));
      // Divide (not multiply by 1/sqrt) as TransformerLens does, for the same rounding.
      buf[j] = s / sqrtE;
    }
  }
  if (scores) for (let j = 0; j < nKeys; j++) scores[traceOff + j] = buf[j];
  softmaxInPlace(buf, nKeys);
  if (pattern) for (let j = 0; j < nKeys; j++) pattern[traceOff + j] = buf[j];
  // z[e] = Σ_j p_j v[j, e], j ascending, in registers eight value columns at
  // a time (one load of p_j serves eight products, z is stored once; with
  // head-major caches a pass over the keys is a contiguous stream).
  if (vCols) {
    // Only the value columns some weight or bias can make nonzero; the others
    // are exactly +0, as the full loop leaves them (Σ p·(±0) from +0).
    for (let e = 0; e < E; e++) z[zOff + e] = 0;
    const nc = vCols.length;
    let c = 0;
    for (; c + 3 < nc; c += 4) {
      const e0 = vCols[c], e1 = vCols[c + 1], e2 = vCols[c + 2], e3 = vCols[c + 3];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < nKeys; j++) {
        const p = buf[j];
        if (p === 0) continue; // hard attention: most keys underflow to exactly 0
        const vj = kOff + j * stride;
        s0 = fr(s0 + fr(p * v[vj + e0]));
        s1 = fr(s1 + fr(p * v[vj + e1]));
        s2 = fr(s2 + fr(p * v[vj + e2]));
        s3 = fr(s3 + fr(p * v[vj + e3]));
      }
      z[zOff + e0] = s0;
      z[zOff + e1] = s1;
      z[zOff + e2] = s2;
      z[zOff + e3] = s3;
    }
    for (; c < nc; c++) {
      const e = vCols[c];
      let s = 0;
      for (let j = 0; j < nKeys; j++) {
        const p = buf[j];
        if (p !== 0) s = fr(s + fr(p * v[kOff + j * stride + e]));
      }
      z[zOff + e] = s;
    }
    return;
  }
  let e = 0;
  for (; e + 7 < E; e += 8) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (let j = 0; j < nKeys; j++) {
      const p = buf[j];
      if (p === 0) continue;
      const vj = kOff + j * stride + e;
        s0 = fr(s0 + fr(p * v[vj]));
        s1 = fr(s1 + fr(p * v[vj + 1]));
        s2 = fr(s2 + fr(p * v[vj + 2]));
        s3 = fr(s3 + fr(p * v[vj + 3]));
        s4 = fr(s4 + fr(p * v[vj + 4]));
        s5 = fr(s5 + fr(p * v[vj + 5]));
        s6 = fr(s6 + fr(p * v[vj + 6]));
        s7 = fr(s7 + fr(p * v[vj + 7]));
    }
    z[zOff + e] = s0;
    z[zOff + e + 1] = s1;
    z[zOff + e + 2] = s2;
    z[zOff + e + 3] = s3;
    z[zOff + e + 4] = s4;
    z[zOff + e + 5] = s5;
    z[zOff + e + 6] = s6;
    z[zOff + e + 7] = s7;
  }
  for (; e < E; e++) {
    let s = 0;
    for (let j = 0; j < nKeys; j++) {
      const p = buf[j];
      if (p !== 0) s = fr(s + fr(p * v[kOff + j * stride + e]));
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
  qIdx: Int32Array | null = null,
  vCols: readonly (Int32Array | null)[] | null = null,
): void {
  const HE = H * E;
  const qi = rowOff0 + i * HE;
  for (let h = 0; h < H; h++) {
    const traceOff = trace ? h * trace.T * trace.T + i * trace.T : 0;
    attendHead(
      q, qi + h * E, k, v, rowOff0 + h * E, i + 1, HE, E, sqrtE, z, qi + h * E, buf,
      trace?.scores ?? null, trace?.pattern ?? null, traceOff, qIdx, vCols ? vCols[h] : null,
    );
  }
}
