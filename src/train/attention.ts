/**
 * Causal attention of one head over one sequence, forward and backward, as
 * plain loops over the [T, 3·H·E] rows the QKV product leaves (q, k, v of
 * head h at columns h·E, H·E + h·E, 2·H·E + h·E of each row).
 *
 * Why not the matrix kernel: per head and sequence these are six products
 * of at most T×T×E (63×63×16 at the reference configuration), where copying
 * operands into WebAssembly memory costs more than the arithmetic, and
 * half of every T×T product is masked anyway. The loops here touch only
 * j ≤ i and keep four running sums in registers per pass (four keys, or
 * four columns of E), the blocking that makes the JavaScript matrix kernel
 * (src/sim/kernels.ts) fast.
 *
 *   forward:  S = q kᵀ·scale (j ≤ i), P = softmax rows, z = P v
 *   backward: gP = gz vᵀ, gS = P ∘ (gP − rowsum(P ∘ gP))·scale,
 *             gq = gS k,  gk = gSᵀ q,  gv = Pᵀ gz
 */
import type { FloatArray } from "../model/weights.ts";

/**
 * P[pOff + i·T + j] (zeros above the diagonal) and z rows (stride ldz, at zOff)
 * for one head: q, k, v rows of stride ld at qOff, kOff, vOff.
 */
export function attendForward(
  a: FloatArray, ld: number, qOff: number, kOff: number, vOff: number, T: number, E: number, scale: number,
  P: FloatArray, pOff: number, z: FloatArray, zOff: number, ldz: number,
): void {
  for (let i = 0; i < T; i++) {
    const qi = qOff + i * ld;
    const pr = pOff + i * T;
    // Scores for keys 0 … i, four keys at a time.
    let max = -Infinity;
    let j = 0;
    for (; j + 3 <= i; j += 4) {
      const k0 = kOff + j * ld, k1 = k0 + ld, k2 = k1 + ld, k3 = k2 + ld;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let e = 0; e < E; e++) {
        const x = a[qi + e];
        s0 += x * a[k0 + e];
        s1 += x * a[k1 + e];
        s2 += x * a[k2 + e];
        s3 += x * a[k3 + e];
      }
      s0 *= scale; s1 *= scale; s2 *= scale; s3 *= scale;
      P[pr + j] = s0; P[pr + j + 1] = s1; P[pr + j + 2] = s2; P[pr + j + 3] = s3;
      max = Math.max(max, s0, s1, s2, s3);
    }
    for (; j <= i; j++) {
      const kj = kOff + j * ld;
      let s = 0;
      for (let e = 0; e < E; e++) s += a[qi + e] * a[kj + e];
      s *= scale;
      P[pr + j] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let j2 = 0; j2 <= i; j2++) {
      const x = Math.exp(P[pr + j2] - max);
      P[pr + j2] = x;
      sum += x;
    }
    const inv = 1 / sum;
    for (let j2 = 0; j2 <= i; j2++) P[pr + j2] *= inv;
    for (let j2 = i + 1; j2 < T; j2++) P[pr + j2] = 0;
    // z[i, e] = Σ_{j ≤ i} P[i, j] v[j, e], four columns at a time.
    const zi = zOff + i * ldz;
    let e = 0;
    for (; e + 3 < E; e += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j2 = 0; j2 <= i; j2++) {
        const p = P[pr + j2];
        const vj = vOff + j2 * ld + e;
        s0 += p * a[vj];
        s1 += p * a[vj + 1];
        s2 += p * a[vj + 2];
        s3 += p * a[vj + 3];
      }
      z[zi + e] = s0; z[zi + e + 1] = s1; z[zi + e + 2] = s2; z[zi + e + 3] = s3;
    }
    for (; e < E; e++) {
      let s = 0;
      for (let j2 = 0; j2 <= i; j2++) s += P[pr + j2] * a[vOff + j2 * ld + e];
      z[zi + e] = s;
    }
  }
}

/**
 * The backward pass of attendForward for one head: from gz (rows of stride
 * ldz at gzOff) and the saved P, writes gq, gk, gv into g (rows of stride ld
 * at qOff, kOff, vOff: the same columns as q, k, v). gS is [T, T] scratch.
 */
export function attendBackward(
  a: FloatArray, ld: number, qOff: number, kOff: number, vOff: number, T: number, E: number, scale: number,
  P: FloatArray, pOff: number, gz: FloatArray, gzOff: number, ldz: number, g: FloatArray, gS: FloatArray,
): void {
  for (let i = 0; i < T; i++) {
    const gi = gzOff + i * ldz;
    const pr = pOff + i * T;
    const r = i * T;
    // gP[i, j] = gz[i] · v[j] (into gS), four keys at a time; then gS in place.
    let j = 0;
    for (; j + 3 <= i; j += 4) {
      const v0 = vOff + j * ld, v1 = v0 + ld, v2 = v1 + ld, v3 = v2 + ld;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let e = 0; e < E; e++) {
        const x = gz[gi + e];
        s0 += x * a[v0 + e];
        s1 += x * a[v1 + e];
        s2 += x * a[v2 + e];
        s3 += x * a[v3 + e];
      }
      gS[r + j] = s0; gS[r + j + 1] = s1; gS[r + j + 2] = s2; gS[r + j + 3] = s3;
    }
    for (; j <= i; j++) {
      const vj = vOff + j * ld;
      let s = 0;
      for (let e = 0; e < E; e++) s += gz[gi + e] * a[vj + e];
      gS[r + j] = s;
    }
    let dot = 0;
    for (let j2 = 0; j2 <= i; j2++) dot += P[pr + j2] * gS[r + j2];
    for (let j2 = 0; j2 <= i; j2++) gS[r + j2] = P[pr + j2] * (gS[r + j2] - dot) * scale;
    // gq[i, e] = Σ_{j ≤ i} gS[i, j] k[j, e].
    const qi = qOff + i * ld;
    let e = 0;
    for (; e + 3 < E; e += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j2 = 0; j2 <= i; j2++) {
        const s = gS[r + j2];
        const kj = kOff + j2 * ld + e;
        s0 += s * a[kj];
        s1 += s * a[kj + 1];
        s2 += s * a[kj + 2];
        s3 += s * a[kj + 3];
      }
      g[qi + e] = s0; g[qi + e + 1] = s1; g[qi + e + 2] = s2; g[qi + e + 3] = s3;
    }
    for (; e < E; e++) {
      let s = 0;
      for (let j2 = 0; j2 <= i; j2++) s += gS[r + j2] * a[kOff + j2 * ld + e];
      g[qi + e] = s;
    }
  }
  // gk[j, e] = Σ_{i ≥ j} gS[i, j] q[i, e];  gv[j, e] = Σ_{i ≥ j} P[i, j] gz[i, e].
  for (let j = 0; j < T; j++) {
    const kj = kOff + j * ld, vj = vOff + j * ld;
    let e = 0;
    for (; e + 3 < E; e += 4) {
      let k0 = 0, k1 = 0, k2 = 0, k3 = 0, v0 = 0, v1 = 0, v2 = 0, v3 = 0;
      for (let i = j; i < T; i++) {
        const s = gS[i * T + j];
        const p = P[pOff + i * T + j];
        const qi = qOff + i * ld + e;
        const gi = gzOff + i * ldz + e;
        k0 += s * a[qi];
        k1 += s * a[qi + 1];
        k2 += s * a[qi + 2];
        k3 += s * a[qi + 3];
        v0 += p * gz[gi];
        v1 += p * gz[gi + 1];
        v2 += p * gz[gi + 2];
        v3 += p * gz[gi + 3];
      }
      g[kj + e] = k0; g[kj + e + 1] = k1; g[kj + e + 2] = k2; g[kj + e + 3] = k3;
      g[vj + e] = v0; g[vj + e + 1] = v1; g[vj + e + 2] = v2; g[vj + e + 3] = v3;
    }
    for (; e < E; e++) {
      let ks = 0, vs = 0;
      for (let i = j; i < T; i++) {
        ks += gS[i * T + j] * a[qOff + i * ld + e];
        vs += P[pOff + i * T + j] * gz[gzOff + i * ldz + e];
      }
      g[kj + e] = ks;
      g[vj + e] = vs;
    }
  }
}
