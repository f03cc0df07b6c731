/**
 * Attention scores of one query against keys 0 … nKeys−1 (the causal mask is
 * the loop bound: later keys are never read), scaled by 1/√E as
 * TransformerLens does (a division, for its rounding), into job.buf, with
 * their maximum. Every path that scores keys one query at a time comes here
 * (forward's rows, the KV cache, pattern()), in both precisions; the float32
 * loops round every product and partial sum to float32, the arithmetic of the
 * WebAssembly kernel that whole sequences use, so every path keeps the same
 * bits. (The two precisions have separate loops because a rounding function
 * passed in costs an order of magnitude in V8: the call site turns polymorphic.)
 */
import type { FloatArray } from "../model/weights.ts";
import type { AttentionJob } from "./attention.ts";

const fr = Math.fround;

/**
 * Gather the query's nonzero coordinates into job.qIdx (ascending) and return
 * how many there are: the sparse-query loops run over those only when they
 * are under half of E (compiled weights: a handful of one-hot directions).
 * Skipped terms are exact zeros (0·k = ±0, and s + ±0 = s for an s that
 * starts at +0), so sparse and dense loops give the same bits.
 */
export function queryNonzeros(job: AttentionJob): number {
  const { q, qOff, E, qIdx } = job;
  let nq = 0;
  if (E > 32) {
    for (let e = 0; e < E; e++) if (q[qOff + e] !== 0) qIdx[nq++] = e;
  } else {
    // Branch-free for short queries (see gatherNonzeros in prepare.ts).
    for (let e = 0; e < E; e++) {
      qIdx[nq] = e;
      nq += +(q[qOff + e] !== 0);
    }
  }
  return nq;
}

/**
 * Scaled scores into job.buf[0, nKeys); returns their maximum (−∞ when there
 * is none). nq: the count queryNonzeros returned (job.qIdx holds them), or E
 * for a query taken as dense.
 */
export function scores(job: AttentionJob, nq: number): number {
  const sparse = nq * 2 < job.E;
  if (job.f32) return sparse ? sparseScoresF32(job, nq) : denseScoresF32(job);
  return sparse ? sparseScoresF64(job, nq) : denseScoresF64(job);
}

/**
 * buf[j] = buf[j] / √E for the raw dot products a product kernel left in
 * buf[0, n) (whole sequences: Q·Kᵀ through the WebAssembly product); returns the maximum.
 * The same division and the same float32 rounding as the loops below.
 */
export function scaleScores(buf: FloatArray, n: number, sqrtE: number, f32: boolean): number {
  let max = -Infinity;
  if (f32) {
    for (let j = 0; j < n; j++) {
      const x = fr(buf[j] / sqrtE);
      buf[j] = x;
      if (x > max) max = x;
    }
  } else {
    for (let j = 0; j < n; j++) {
      const x = buf[j] / sqrtE;
      buf[j] = x;
      if (x > max) max = x;
    }
  }
  return max;
}

function sparseScoresF64(job: AttentionJob, nq: number): number {
  const { q, qOff, k, kOff, stride, nKeys, sqrtE, buf, qIdx } = job;
  let max = -Infinity;
  if (nq === 0) {
    const x = 0 / sqrtE;
    for (let j = 0; j < nKeys; j++) buf[j] = x;
    return nKeys > 0 ? x : max;
  }
  if (nq === 1) {
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
  return max;
}

function denseScoresF64(job: AttentionJob): number {
  const { q, qOff, k, kOff, stride, nKeys, E, sqrtE, buf } = job;
  let max = -Infinity;
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
  return max;
}

function sparseScoresF32(job: AttentionJob, nq: number): number {
  const { q, qOff, k, kOff, stride, nKeys, sqrtE, buf, qIdx } = job;
  let max = -Infinity;
  if (nq === 0) {
    const x = fr(0 / sqrtE);
    for (let j = 0; j < nKeys; j++) buf[j] = x;
    return nKeys > 0 ? x : max;
  }
  if (nq === 1) {
    const e0 = qIdx[0], a0 = q[qOff + e0];
    let kj = kOff + e0;
    for (let j = 0; j < nKeys; j++, kj += stride) {
      const x = fr(fr(0 + fr(a0 * k[kj])) / sqrtE);
      buf[j] = x;
      if (x > max) max = x;
    }
  } else if (nq === 2) {
    const e0 = qIdx[0], e1 = qIdx[1], a0 = q[qOff + e0], a1 = q[qOff + e1];
    let kj = kOff;
    for (let j = 0; j < nKeys; j++, kj += stride) {
      const s = fr(fr(0 + fr(a0 * k[kj + e0])) + fr(a1 * k[kj + e1]));
      const x = fr(s / sqrtE);
      buf[j] = x;
      if (x > max) max = x;
    }
  } else if (nq === 3) {
    const e0 = qIdx[0], e1 = qIdx[1], e2 = qIdx[2], a0 = q[qOff + e0], a1 = q[qOff + e1], a2 = q[qOff + e2];
    let kj = kOff;
    for (let j = 0; j < nKeys; j++, kj += stride) {
      const s = fr(fr(fr(0 + fr(a0 * k[kj + e0])) + fr(a1 * k[kj + e1])) + fr(a2 * k[kj + e2]));
      const x = fr(s / sqrtE);
      buf[j] = x;
      if (x > max) max = x;
    }
  } else if (nq === 4) {
    const e0 = qIdx[0], e1 = qIdx[1], e2 = qIdx[2], e3 = qIdx[3];
    const a0 = q[qOff + e0], a1 = q[qOff + e1], a2 = q[qOff + e2], a3 = q[qOff + e3];
    let kj = kOff;
    for (let j = 0; j < nKeys; j++, kj += stride) {
      const s = fr(fr(fr(fr(0 + fr(a0 * k[kj + e0])) + fr(a1 * k[kj + e1])) + fr(a2 * k[kj + e2])) + fr(a3 * k[kj + e3]));
      const x = fr(s / sqrtE);
      buf[j] = x;
      if (x > max) max = x;
    }
  } else {
    for (let j = 0; j < nKeys; j++) {
      const kj = kOff + j * stride;
      let s = 0;
      for (let t = 0; t < nq; t++) {
        const e = qIdx[t];
        s = fr(s + fr(q[qOff + e] * k[kj + e]));
      }
      const x = fr(s / sqrtE);
      buf[j] = x;
      if (x > max) max = x;
    }
  }
  return max;
}

function denseScoresF32(job: AttentionJob): number {
  const { q, qOff, k, kOff, stride, nKeys, E, sqrtE, buf } = job;
  let max = -Infinity;
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
    const x0 = fr(s0 / sqrtE), x1 = fr(s1 / sqrtE), x2 = fr(s2 / sqrtE), x3 = fr(s3 / sqrtE);
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
    for (let e = 0; e < E; e++) s = fr(s + fr(q[qOff + e] * k[kj + e]));
    const x = fr(s / sqrtE);
    buf[j] = x;
    if (x > max) max = x;
  }
  return max;
}
