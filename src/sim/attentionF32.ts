/** Attention in float32 arithmetic, matching the WebAssembly kernel's rounding. */
import type { FloatArray } from "../model/weights.ts";
import { softmaxInPlace } from "./softmax.ts";

const fr = Math.fround;

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
