/**
 * Causal attention for one head and one query (attendHead) or all heads of one
 * row (attendRow), adding in one fixed order (j ascending) so batched and
 * KV-cached runs give the same bits. Float64 rows without a trace take the
 * fewer-pass path of attentionLive.ts; float32 rows the float32 arithmetic of
 * attentionF32.ts. Shape letters: see src/model/weights.ts.
 */
import type { FloatArray } from "../model/weights.ts";
import { attendHeadF32 } from "./attentionF32.ts";
import { attendHeadLive, liveScratch, weightedValues } from "./attentionLive.ts";
import { softmaxInPlace } from "./softmax.ts";

export { softmaxInPlace };

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
  // The keys with nonzero weight, ascending: the value sums skip exact zeros.
  const live = liveScratch(nKeys);
  let nLive = 0;
  for (let j = 0; j < nKeys; j++) if (buf[j] !== 0) live[nLive++] = j;
  weightedValues(buf, live, nLive, v, kOff, stride, E, z, zOff, vCols);
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
