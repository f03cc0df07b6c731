/**
 * Causal attention: the one kernel boundary every path goes through. A path
 * fills an AttentionJob (one record: where the query, keys, values and output
 * live, the scratch, the precision) and calls attend() for one query of one
 * head, or attendRow() for every head of one row (attentionSequences.ts
 * attends whole sequences of dense heads at once through the kernel
 * module's products, with the same scaling and softmax). Each step is one
 * implementation, shared by every path and both precisions:
 *
 *   scores     attentionScores.ts  q·k_j / √E for j < nKeys (the causal mask is the loop bound)
 *   softmax    softmax.ts          max-subtracted exponent, sum, normalise, keys of nonzero weight
 *   value sum  attentionValues.ts  Σ p_j v_j over those keys
 *
 * The KV cache's long contexts swap in attentionWasm.ts's SIMD forms of the
 * score and value products, which add the same terms in the same order.
 * Every path therefore gives the same bits: batched, row by row, KV-cached,
 * dense or sparse. Shape letters: see src/model/weights.ts.
 */
import type { FloatArray } from "../model/weights.ts";
import { queryNonzeros, scaleScores, scores } from "./attentionScores.ts";
import { weightedValues } from "./attentionValues.ts";
import { attentionWasmScale, attentionWasmScores, attentionWasmSoftmax, attentionWasmValues, type AttentionWasm } from "./attentionWasm.ts";
import { softmaxCut, softmaxInPlace, softmaxLive } from "./softmax.ts";
import type { Precision } from "./prepare.ts";

export { softmaxInPlace };

/**
 * One query of one head. Key/value j live at kOff + j·stride in k and v
 * (kOff includes the head's column offset); the query at q[qOff, qOff+E),
 * the result at z[zOff, zOff+E). Callers keep one record per run and set the
 * fields per call: nothing is allocated per query.
 */
export interface AttentionJob {
  /** Float32 arithmetic (Float32Array storage), else float64. */
  readonly f32: boolean;
  readonly E: number;
  readonly sqrtE: number;
  q: FloatArray;
  qOff: number;
  k: FloatArray;
  v: FloatArray;
  kOff: number;
  stride: number;
  /** Keys 0 … nKeys−1 are visible (the causal mask); nothing beyond is read. */
  nKeys: number;
  z: FloatArray;
  zOff: number;
  /** Value columns that can be nonzero, or null for all of them. */
  vCols: Int32Array | null;
  /** Look for a sparse query (compiled weights) before scoring; off only where queries are known dense. */
  sparseQuery: boolean;
  /** Where to copy the scaled scores and the pattern, if anywhere (row traceOff of [H, T, T] tensors). */
  traceScores: FloatArray | null;
  tracePattern: FloatArray | null;
  traceOff: number;
  /** SIMD products over a KV cache held in WebAssembly memory (buf, live and v are then its views), or null. */
  wasm: AttentionWasm | null;
  /** Scratch: the score row (then the pattern), at least nKeys long. */
  buf: FloatArray;
  /** Scratch: keys of nonzero weight, at least nKeys long. */
  live: Int32Array;
  /** Scratch: the query's nonzero coordinates, E long. */
  qIdx: Int32Array;
}

const EMPTY64 = new Float64Array(0);
const EMPTY32 = new Float32Array(0);

/**
 * A job for heads of width E in `precision`, with scratch for `maxKeys` keys
 * (buf may be replaced by a caller's). Scores are divided by sqrtE: √E unless
 * the caller runs a narrowed head (fewer columns than the model's d_head).
 */
export function attentionJob(precision: Precision, E: number, maxKeys: number, sqrtE = Math.sqrt(E)): AttentionJob {
  const f32 = precision === "float32";
  const empty = f32 ? EMPTY32 : EMPTY64;
  return {
    f32, E, sqrtE,
    q: empty, qOff: 0, k: empty, v: empty, kOff: 0, stride: E, nKeys: 0, z: empty, zOff: 0,
    vCols: null, sparseQuery: true, traceScores: null, tracePattern: null, traceOff: 0, wasm: null,
    buf: f32 ? new Float32Array(maxKeys) : new Float64Array(maxKeys),
    live: new Int32Array(maxKeys),
    qIdx: new Int32Array(E),
  };
}

/**
 * Make sure the job's scratch holds n keys and E query coordinates (a view
 * on WebAssembly memory that has since grown is detached: length 0).
 */
export function reserveKeys(job: AttentionJob, n: number): void {
  if (job.buf.length < n) job.buf = job.f32 ? new Float32Array(n) : new Float64Array(n);
  if (job.live.length < n) job.live = new Int32Array(n);
  if (job.qIdx.length < job.E) job.qIdx = new Int32Array(job.E);
}

/**
 * One head, one query: scores, softmax, value sum. On return job.buf holds
 * the attention pattern over keys 0 … nKeys−1 and z the weighted values.
 */
export function attend(job: AttentionJob): void {
  const n = job.nKeys;
  const wasm = job.wasm;
  const nq = job.sparseQuery ? queryNonzeros(job) : job.E;
  // A sparse query (compiled weights) is cheaper in the loops over its few coordinates.
  const simd = wasm !== null && nq * 2 >= job.E && attentionWasmScores(wasm, job);
  const max = simd ? attentionWasmScale(wasm, job) : scores(job, nq);
  if (job.traceScores) job.traceScores.set(job.buf.subarray(0, n), job.traceOff);
  let nLive = simd ? attentionWasmSoftmax(wasm, job, max) : -1;
  if (nLive < 0) nLive = softmaxLive(job.buf, n, max, job.live, softmaxCut(job.buf));
  if (job.tracePattern) job.tracePattern.set(job.buf.subarray(0, n), job.traceOff);
  if (wasm === null || !attentionWasmValues(wasm, job, nLive)) weightedValues(job, nLive);
}

/** Optional per-row trace of attendRow: [H, T, T] score and pattern tensors of the sequence. */
export interface AttentionTrace {
  readonly scores: FloatArray; // [H, T, T], masked entries pre-filled with -Infinity
  readonly pattern: FloatArray; // [H, T, T], masked entries pre-filled with 0
  readonly T: number;
}

/**
 * All heads, query row i of a sequence whose first row starts at element
 * offset rowOff0 of the [*, H·E] arrays q, k, v, z: keys are rows 0 … i of
 * that sequence. vCols: per head, as in AttentionJob.
 */
export function attendRow(
  job: AttentionJob, q: FloatArray, k: FloatArray, v: FloatArray, z: FloatArray,
  rowOff0: number, i: number, H: number,
  trace: AttentionTrace | null, vCols: readonly (Int32Array | null)[] | null,
): void {
  const E = job.E;
  const HE = H * E;
  const qi = rowOff0 + i * HE;
  job.q = q;
  job.k = k;
  job.v = v;
  job.z = z;
  job.stride = HE;
  job.nKeys = i + 1;
  job.traceScores = trace ? trace.scores : null;
  job.tracePattern = trace ? trace.pattern : null;
  for (let h = 0; h < H; h++) {
    job.qOff = qi + h * E;
    job.kOff = rowOff0 + h * E;
    job.zOff = qi + h * E;
    job.vCols = vCols ? vCols[h] : null;
    if (trace) job.traceOff = h * trace.T * trace.T + i * trace.T;
    attend(job);
  }
}
