/**
 * The value sum of attention: z[e] = Σ p_j · v[j, e] over the keys with a
 * nonzero weight, j ascending, for one query of one head — the last step of
 * every path that attends one query at a time, in both precisions (float32:
 * every product and partial sum rounded to float32, as the WebAssembly kernel
 * of whole sequences adds them). Skipped keys and columns contribute exact
 * zeros, so the sums equal the full ones bit for bit.
 */
import type { AttentionJob } from "./attention.ts";

const fr = Math.fround;

/**
 * job.z[zOff, zOff+E) = Σ_t buf[live[t]] · v[live[t], :], over the first
 * nLive entries of job.live (ascending keys), eight value columns at a time
 * (one load of p serves eight products, z is stored once). With job.vCols
 * only those columns are summed; the others are exactly +0, as the full sums
 * would leave them (Σ p·(±0) from +0).
 */
export function weightedValues(job: AttentionJob, nLive: number): void {
  if (job.vCols) {
    const { z, zOff, E } = job;
    if (E > 16) z.fill(0, zOff, zOff + E);
    else for (let e = 0; e < E; e++) z[zOff + e] = 0;
    if (job.f32) someColumnsF32(job, nLive, job.vCols);
    else someColumnsF64(job, nLive, job.vCols);
  } else if (job.f32) allColumnsF32(job, nLive);
  else allColumnsF64(job, nLive);
}

function someColumnsF64(job: AttentionJob, nLive: number, vCols: Int32Array): void {
  const { buf, live, v, kOff, stride, z, zOff } = job;
  const nc = vCols.length;
  let c = 0;
  for (; c + 3 < nc; c += 4) {
    const e0 = vCols[c], e1 = vCols[c + 1], e2 = vCols[c + 2], e3 = vCols[c + 3];
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let t = 0; t < nLive; t++) {
      const j = live[t];
      const p = buf[j];
      if (p === 0) continue; // the normalised weight can underflow
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
}

function allColumnsF64(job: AttentionJob, nLive: number): void {
  const { buf, live, v, kOff, stride, E, z, zOff } = job;
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

function someColumnsF32(job: AttentionJob, nLive: number, vCols: Int32Array): void {
  const { buf, live, v, kOff, stride, z, zOff } = job;
  const nc = vCols.length;
  let c = 0;
  for (; c + 3 < nc; c += 4) {
    const e0 = vCols[c], e1 = vCols[c + 1], e2 = vCols[c + 2], e3 = vCols[c + 3];
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let t = 0; t < nLive; t++) {
      const j = live[t];
      const p = buf[j];
      if (p === 0) continue;
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
    for (let t = 0; t < nLive; t++) {
      const j = live[t];
      const p = buf[j];
      if (p !== 0) s = fr(s + fr(p * v[kOff + j * stride + e]));
    }
    z[zOff + e] = s;
  }
}

function allColumnsF32(job: AttentionJob, nLive: number): void {
  const { buf, live, v, kOff, stride, E, z, zOff } = job;
  let e = 0;
  for (; e + 7 < E; e += 8) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (let t = 0; t < nLive; t++) {
      const j = live[t];
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
    for (let t = 0; t < nLive; t++) {
      const j = live[t];
      const p = buf[j];
      if (p !== 0) s = fr(s + fr(p * v[kOff + j * stride + e]));
    }
    z[zOff + e] = s;
  }
}
