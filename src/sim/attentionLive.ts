/** The float64 attention path without a trace: fewer passes, the same bits. */
import type { FloatArray } from "../model/weights.ts";

/** attendHeadLive's memo of Math.exp: x in expX[slot] (NaN: empty), exp(x) in expY[slot]. */
const EXP_BITS = 12;
const EXP_SHIFT = 32 - EXP_BITS;
const expX = new Float64Array(1 << EXP_BITS).fill(NaN);
const expY = new Float64Array(1 << EXP_BITS);
const expKey = new Float64Array(1);
const expBits = new Int32Array(expKey.buffer);

/** Scratch for attendHeadLive: the keys whose attention weight is not exactly 0. */
let liveKeys = new Int32Array(256);

/** The shared live-key scratch, at least n long. */
export function liveScratch(n: number): Int32Array {
  if (liveKeys.length < n) liveKeys = new Int32Array(Math.max(n, liveKeys.length * 2));
  return liveKeys;
}

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
export function attendHeadLive(
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
  const live = liveScratch(nKeys);
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
  weightedValues(buf, live, nLive, v, kOff, stride, E, z, zOff, vCols);
  return true;
}

/**
 * z[zOff + e] = Σ_t p_{live[t]} · v[live[t], e] for the listed keys, in list
 * order, eight value columns at a time (one load of p serves eight products,
 * z is stored once; with head-major caches each pass is a contiguous stream).
 * With vCols only those columns are summed; the others are exactly +0, as the
 * full sums would leave them (Σ p·(±0) from +0). Shared by every float64
 * attention path, so they add the same terms in the same order.
 */
export function weightedValues(
  buf: FloatArray, live: Int32Array, nLive: number,
  v: FloatArray, kOff: number, stride: number, E: number,
  z: FloatArray, zOff: number, vCols: Int32Array | null,
): void {
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
    return;
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
}
