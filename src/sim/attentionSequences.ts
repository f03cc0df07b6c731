/**
 * Causal attention of whole sequences on dense heads, with q, k, v and z in
 * the kernel module's memory (src/kernels/): every (sequence, head) pair is
 * one chunk of the module's attnPair job (src/kernels/attentionCode.ts),
 * shared with the helper thread pair by pair — the scores S = Q_h·K_hᵀ (only
 * the causal part: CAUSAL_N), each row scaled and softmaxed in place with
 * the JavaScript softmax's arithmetic, then z_h = P·V_h (the sum stops at the
 * diagonal: K_UPTO). Q, V and z are read and written where they lie (row
 * stride H·E); only K_hᵀ is copied (the product reads B's columns in panels).
 * A pair whose row leaves the module's exponential (see attentionCode.ts) is
 * finished here with softmaxRow and one product call.
 *
 * Every score and every z entry is the same sum in the same order as the
 * row-by-row loops' (e ascending, then keys ascending from +0; the masked
 * keys' 0·v terms add nothing to finite sums), and every weight the same
 * softmax, so the bits equal attendRow's and the KV cache's.
 */
import { ATTN_PAIR } from "../kernels/attentionCode.ts";
import { OPERANDS_END, TMP0, TMP1 } from "../kernels/exports.ts";
import { CAUSAL_N, K_UPTO, PANEL_BYTES, ROWS } from "../kernels/gemmCode.ts";
import { runJob } from "../kernels/helper.ts";
import { ensureMemory, kernelModule } from "../kernels/module.ts";
import { productCall, writeProduct, type ProductArgs } from "../kernels/product.ts";
import type { FloatArray } from "../model/weights.ts";
import { reserveKeys, type AttentionJob } from "./attention.ts";
import { scaleScores } from "./attentionScores.ts";
import { EXP_NEG, softmaxCut, softmaxLive } from "./softmax.ts";

const { FRAC, POW2 } = EXP_NEG;
import { kernelBuffer, matmulWasm, PARALLEL_MIN_MACS, panelWidth, wasmAvailable } from "./wasm.ts";

/** Calls of attendSequences that attended, and pairs the module left to JavaScript (tests check what they cover). */
export const wholeSequenceStats = { runs: 0, finishedInJs: 0 };

/** Score elements (all pairs of one list) held at once: pairs beyond go in a later round. */
const SCORE_ELEMENTS = 1 << 20;

const arrays = new Map<string, FloatArray>();

/**
 * An array of n elements in the kernel module's memory under `name`
 * (contents undefined: kept between calls, rounded up to a power of two so
 * that growing batches move it rarely), or null where the module is
 * unavailable or its buffer region is full. The memory is grown once to the
 * end of the operand region first, so later growth of this region never
 * leaves an earlier view on a stale buffer object.
 */
export function moduleArray(name: string, n: number, f32: boolean): FloatArray | null {
  const k = wasmAvailable() ? kernelModule() : null;
  if (!k) return null;
  // Both precisions share the name's memory (one forward uses one precision at a time).
  const key = `${name}.${f32 ? 32 : 64}`;
  let a = arrays.get(key);
  if (!a || a.length < n || a.buffer !== k.memory.buffer) {
    ensureMemory(k, OPERANDS_END);
    const cap = Math.max(a && a.length >= n ? a.length : 0, 2 ** Math.ceil(Math.log2(Math.max(64, n))));
    const got = kernelBuffer(name, cap, f32 ? "float32" : "float64");
    if (!got) return null;
    arrays.set(key, (a = got));
  }
  return a.subarray(0, n);
}

/** Whether `a` is a view of the kernel module's memory. */
export function inKernelMemory(a: FloatArray): boolean {
  const k = kernelModule();
  return k !== null && a.buffer === k.memory.buffer;
}

/**
 * Every head of the sequences `seqs` (indices into starts/lengths; rows of
 * the [*, H·E] arrays q, k, v, z, all views of the module's memory) through
 * the module's products. Returns false, having done nothing, when the
 * scratch does not fit the module's buffer region (the caller then attends
 * row by row).
 */
export function attendSequences(
  job: AttentionJob, q: FloatArray, k: FloatArray, v: FloatArray, z: FloatArray,
  starts: readonly number[], lengths: readonly number[], seqs: readonly number[], H: number,
): boolean {
  const km = kernelModule();
  if (!km || seqs.length === 0) return seqs.length === 0;
  const f32 = job.f32;
  const es = f32 ? 4 : 8;
  const PE = PANEL_BYTES / es;
  const E = job.E, HE = H * E;
  // Rounds of pairs: each round's scores and transposed keys fit SCORE_ELEMENTS (a round holds at least one pair).
  const pairs: number[] = [];
  for (const b of seqs) for (let h = 0; h < H; h++) pairs.push(b, h);
  let maxScores = 0, maxKeys = 0, maxT = 0, maxPairs = 0;
  const rounds: number[] = [0];
  for (let p = 0, s = 0, kk = 0, n = 0; p < pairs.length; p += 2) {
    const T = lengths[pairs[p]!]!, Tp = Math.ceil(T / PE) * PE;
    if (n > 0 && s + T * Tp > SCORE_ELEMENTS) {
      rounds.push(p);
      s = kk = n = 0;
    }
    s += T * Tp;
    kk += E * Tp;
    n++;
    maxScores = Math.max(maxScores, s);
    maxKeys = Math.max(maxKeys, kk);
    maxPairs = Math.max(maxPairs, n);
    maxT = Math.max(maxT, T);
  }
  rounds.push(pairs.length);
  const scores = moduleArray("attention.scores", maxScores, f32);
  const kT = moduleArray("attention.keysT", maxKeys, f32);
  const records = moduleArray("attention.pairs", Math.ceil((maxPairs * ATTN_PAIR.bytes) / 8), false);
  const tables = expTables();
  if (!scores || !kT || !records || !tables) return false;
  reserveKeys(job, maxT);
  const cut = softmaxCut(job.buf), sqrtE = job.sqrtE;
  const qA = q.byteOffset, kA = k.byteOffset, vA = v.byteOffset, zA = z.byteOffset;
  const sA = scores.byteOffset, kTA = kT.byteOffset, at = records.byteOffset;
  const i32 = new Int32Array(km.memory.buffer), f64 = new Float64Array(km.memory.buffer);
  const P = ATTN_PAIR;
  const valueProducts: ProductArgs[] = [];

  for (let r = 0; r + 1 < rounds.length; r++) {
    const p0 = rounds[r]!, p1 = rounds[r + 1]!;
    let sOff = 0, kOff = 0, macs = 0;
    valueProducts.length = 0;
    for (let p = p0, i = 0; p < p1; p += 2, i++) {
      const b = pairs[p]!, h = pairs[p + 1]!;
      const T = lengths[b]!, Tp = Math.ceil(T / PE) * PE;
      const col = starts[b]! * HE + h * E; // element of q, k, v, z at (row 0, head h)
      transposeKeys(k, col, HE, T, E, kT, kOff, Tp);
      const rec = at + i * P.bytes;
      writeProduct(km, rec + P.scores, 0, {
        a: qA + col * es, b: kTA + kOff * es, out: sA + sOff * es, M: T, K: E, N: T,
        ars: HE * es, aks: es, bks: Tp * es, bps: PANEL_BYTES, ors: Tp * es, mode: CAUSAL_N, bias: 0,
      });
      const values = {
        a: sA + sOff * es, b: vA + col * es, out: zA + col * es, M: T, K: T, N: E,
        ars: Tp * es, aks: es, bks: HE * es, bps: PANEL_BYTES, ors: HE * es, mode: K_UPTO, bias: 0,
      };
      writeProduct(km, rec + P.values, 0, values);
      valueProducts.push(values);
      i32[(rec + P.T) >> 2] = T;
      i32[(rec + P.flag) >> 2] = 0;
      i32[(rec + P.tables) >> 2] = tables;
      f64[(rec + P.sqrtE) >> 3] = sqrtE;
      f64[(rec + P.cut) >> 3] = cut;
      sOff += T * Tp;
      kOff += E * Tp;
      macs += T * (T + 1) * E; // scores and values, the causal half each
    }
    const n = (p1 - p0) / 2;
    runJob(km, f32 ? "attnPair32" : "attnPair64", at, n, TMP0, TMP1, macs >= PARALLEL_MIN_MACS);
    // Pairs the module stopped (a key outside its exponential's range): the rest in JavaScript.
    sOff = 0;
    for (let p = p0, i = 0; p < p1; p += 2, i++) {
      const T = lengths[pairs[p]!]!, Tp = Math.ceil(T / PE) * PE;
      const flag = i32[(at + i * P.bytes + P.flag) >> 2]!;
      if (flag > 0) {
        wholeSequenceStats.finishedInJs++;
        for (let row = flag - 1; row < T; row++) softmaxRow(job, scores, sOff + row * Tp, row, T, row > flag - 1, cut);
        productCall(km, es as 4 | 8, valueProducts[i]!);
      }
      sOff += T * Tp;
    }
  }
  wholeSequenceStats.runs++;
  return true;
}

/**
 * Every head of one sequence (rows rowOff0 … of the [*, H·E] arrays, in any
 * memory) through matmulWasm on per-head copies, in blocks of query rows
 * whose scores fit scoreElements: the fallback for a sequence whose pairs
 * the module's scratch cannot hold (a 4,096-token pair's scores alone are
 * 128 MB in float64). Scores are Q·Kᵀ over e ascending; each row is
 * softmaxed by softmaxRow and zeroed past the diagonal; z sums the keys
 * ascending from +0 over the whole row (the masked keys' 0·v add nothing to
 * finite sums): the bits of attendRow and of attendSequences.
 */
export function attendSequenceCopying(
  job: AttentionJob, q: FloatArray, k: FloatArray, v: FloatArray, z: FloatArray, rowOff0: number, T: number,
  H: number, take: (key: string, n: number) => FloatArray, scoreElements = SCORE_ELEMENTS,
): void {
  const E = job.E, HE = H * E, P = panelWidth(q);
  const block = Math.max(1, Math.min(T, Math.floor(scoreElements / T)));
  reserveKeys(job, T);
  const cut = softmaxCut(job.buf);
  const qh = take("att.q", T * E); // [T, E]
  const kT = take("att.kT", Math.ceil(T / P) * E * P).fill(0); // K_hᵀ [E, T] in panels (padding keys 0)
  const vh = take("att.v", Math.ceil(E / P) * T * P).fill(0); // V_h [T, E] in panels (padding columns 0)
  const pat = take("att.scores", block * T); // one block of rows of scores, then of the pattern
  const zh = take("att.z", T * E); // [T, E]
  for (let h = 0; h < H; h++) {
    const col = rowOff0 + h * E;
    for (let i = 0; i < T; i++) for (let e = 0; e < E; e++) qh[i * E + e] = q[col + i * HE + e]!;
    for (let j = 0; j < T; j++) {
      const base = Math.floor(j / P) * E * P + (j % P);
      for (let e = 0; e < E; e++) kT[base + e * P] = k[col + j * HE + e]!;
    }
    for (let j = 0; j < T; j++) {
      for (let e = 0; e < E; e++) vh[(Math.floor(e / P) * T + j) * P + (e % P)] = v[col + j * HE + e]!;
    }
    for (let r0 = 0; r0 < T; r0 += block) {
      const rows = Math.min(block, T - r0);
      matmulWasm(qh, r0 * E, rows, E, kT, T, pat, 0, false);
      for (let i = 0; i < rows; i++) {
        softmaxRow(job, pat, i * T, r0 + i, T, true, cut);
        pat.fill(0, i * T + r0 + i + 1, (i + 1) * T);
      }
      matmulWasm(pat, 0, rows, T, vh, E, zh, r0 * E, false);
    }
    for (let i = 0; i < T; i++) for (let e = 0; e < E; e++) z[col + i * HE + e] = zh[i * E + e]!;
  }
}

/**
 * Row i of a pair's scores (at element `row` of `scores`) in place: scaled
 * (unless `scale` is false: the module left it scaled), softmaxed over keys
 * 0 … i, and zero over the masked keys the value product reads.
 */
function softmaxRow(job: AttentionJob, scores: FloatArray, row: number, i: number, T: number, scale: boolean, cut: number): void {
  const buf = job.buf;
  for (let j = 0; j <= i; j++) buf[j] = scores[row + j]!;
  let max = -Infinity;
  if (scale) max = scaleScores(buf, i + 1, job.sqrtE, job.f32);
  else for (let j = 0; j <= i; j++) if (buf[j]! > max) max = buf[j]!;
  softmaxLive(buf, i + 1, max, job.live, cut);
  for (let j = 0; j <= i; j++) scores[row + j] = buf[j]!;
  for (let j = i + 1, end = Math.min(T, i + ROWS); j < end; j++) scores[row + j] = 0;
}

let tablesAt = -1;

/** Byte address of expNeg's tables (FRAC, then POW2) in the module's memory, copied there once; −1 if they do not fit. */
function expTables(): number {
  const t = moduleArray("attention.expTables", FRAC.length + POW2.length, false);
  if (!t) return -1;
  // (refilled whenever the array was handed out afresh, which zeroes it)
  if (t.byteOffset !== tablesAt || t[0] !== FRAC[0]) {
    t.set(FRAC, 0);
    t.set(POW2, FRAC.length);
    tablesAt = t.byteOffset;
  }
  return tablesAt;
}

/** kT[kOff + e·Tp + j] = k[col + j·ld + e] for j < T (columns T … Tp−1 zero): K_hᵀ, row-major with rows of Tp. */
function transposeKeys(k: FloatArray, col: number, ld: number, T: number, E: number, kT: FloatArray, kOff: number, Tp: number): void {
  for (let e = 0; e < E; e++) {
    const dst = kOff + e * Tp;
    for (let j = T; j < Tp; j++) kT[dst + j] = 0;
  }
  // Four keys at a time: each read of a key row is a short contiguous run.
  let j = 0;
  for (; j + 3 < T; j += 4) {
    const s0 = col + j * ld, s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
    for (let e = 0, d = kOff + j; e < E; e++, d += Tp) {
      kT[d] = k[s0 + e];
      kT[d + 1] = k[s1 + e];
      kT[d + 2] = k[s2 + e];
      kT[d + 3] = k[s3 + e];
    }
  }
  for (; j < T; j++) {
    const s = col + j * ld;
    for (let e = 0, d = kOff + j; e < E; e++, d += Tp) kT[d] = k[s + e];
  }
}
