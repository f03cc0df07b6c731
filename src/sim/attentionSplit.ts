/**
 * Every head of one KV-cached query row at once, shared between two
 * threads: one job, a chunk per head — its scores, its row's softmax
 * (softmaxWasmCode.ts softmaxRow) and its value sum. At long contexts a
 * push streams the whole cache, which one core cannot draw from memory as
 * fast as two can,
 * and takes an exponent per cached key and head. Every step adds the same
 * terms in the same order as the one-thread path (attend() with
 * attentionWasm.ts's products), so the bits are the same.
 */
import { attend, type AttentionJob } from "./attention.ts";
import { queryNonzeros } from "./attentionScores.ts";
import { weightedValues } from "./attentionValues.ts";
import { attentionHelperReady, attentionThreads, runChunks } from "./attentionHelper.ts";
import { CALL_WORDS, keyBlockAddress, SPLIT_PARTS, valueAddress, WASM_MIN_LIVE, type AttentionWasm } from "./attentionWasm.ts";
import { softmaxCut, softmaxLive } from "./softmax.ts";
import { ROW } from "./softmaxWasmCode.ts";

/** Writes a job's chunks into an AttentionWasm's call table. */
class Table {
  calls = 0;
  chunks = 0;
  constructor(readonly w: AttentionWasm) {
    w.chunks[0] = 0;
  }
  /** Empty it for the next job. */
  reset(): void {
    this.calls = this.chunks = 0;
  }
  put(fn: number, a0: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0): void {
    const t = this.w.calls, e = this.calls++ * CALL_WORDS;
    t[e] = fn;
    t[e + 1] = a0;
    t[e + 2] = a1;
    t[e + 3] = a2;
    t[e + 4] = a3;
    t[e + 5] = a4;
    t[e + 6] = a5;
  }
  /** End the chunk: the calls put since the last cut run in order, on one thread. */
  cut(): void {
    this.w.chunks[++this.chunks] = this.calls;
  }
  /** Run the chunks (none: nothing to do). */
  run(): void {
    if (this.chunks > 0) runChunks(this.w, this.chunks);
  }
}

/**
 * Heads 0 … H−1 of one row (w's heads head0 …, the query of head h at
 * job.q[qOff0 + h·E …], its value sum to job.z[h·E …], job.nKeys keys; job.q,
 * job.z and job.nKeys set): attend them all, sharing the work with the
 * helper thread. False, having done nothing, when the row is too short or
 * there is no helper (the caller attends head by head).
 */
export function attendHeadsShared(
  w: AttentionWasm, job: AttentionJob, head0: number, H: number, qOff0: number, vCols: readonly (Int32Array | null)[],
): boolean {
  const n = job.nKeys, E = job.E;
  // (H ≤ 30: the heads' flags below are bits of one number.)
  if (n < attentionThreads.minKeys[w.f32 ? "float32" : "float64"] || H > 30 || w.slots.length < H || !attentionHelperReady()) return false;
  const es = w.f32 ? 4 : 8;
  const rowBytes = w.Ep * es;
  const blocks = Math.ceil(n / w.W);
  // With several heads a chunk is a whole head: its scores, its softmax, and (when the softmax took
  // the row, as it does unless a key's exponent leaves expNeg's range) its value sum, in one job.
  // A lone head's scores are cut in parts instead, and its values in two column halves, a job each.
  const lone = H === 1;
  const parts = lone ? Math.max(1, Math.min(SPLIT_PARTS, Math.floor(blocks / attentionThreads.minPartBlocks))) : 1;
  const table = new Table(w);
  // A sparse query (compiled weights) is served best by attend()'s loops over its few coordinates.
  let sparse = 0;
  for (let h = 0; h < H; h++) {
    job.qOff = qOff0 + h * E;
    if (queryNonzeros(job) * 2 < E) {
      sparse |= 1 << h;
      continue;
    }
    const s = w.slots[h];
    s.q.set(job.q.subarray(job.qOff, job.qOff + E));
    s.rowI32[ROW.N / 4] = n;
    s.rowF64[ROW.SQRT_E / 8] = job.sqrtE;
    for (let p = 0; p < parts; p++) {
      const b0 = Math.floor((p * blocks) / parts), b1 = Math.floor(((p + 1) * blocks) / parts);
      table.put(w.dots, s.q.byteOffset, keyBlockAddress(w, head0 + h, b0), b1 - b0, E, s.buf.byteOffset + b0 * w.W * es);
      if (lone) table.cut();
    }
    if (lone) continue;
    table.put(w.softmaxRow, s.row);
    const v0 = valueAddress(w, head0 + h);
    for (const pass of w.vsumPasses) table.put(pass.taken, s.row, v0 + pass.at, rowBytes, s.z.byteOffset + pass.at);
    table.cut();
  }
  table.run();
  // The lone head's value sums (and rows finished here) are a second job on the same table.
  table.reset();
  let summed = 0;
  for (let h = 0; h < H; h++) {
    if (sparse & (1 << h)) continue;
    const s = w.slots[h];
    if (lone) w.fns[w.softmaxRow](s.row, 0, 0, 0, 0, 0);
    let nLive = s.rowI32[ROW.RESULT / 4];
    if (nLive === n && !lone) {
      summed |= 1 << h; // summed in the job
      continue;
    }
    if (nLive < 0) {
      nLive = softmaxLive(s.buf, n, s.rowF64[ROW.MAX / 8], s.live, softmaxCut(s.buf));
      attentionThreads.javascriptHeads++;
    }
    if (nLive < WASM_MIN_LIVE) {
      job.buf = s.buf;
      job.live = s.live;
      job.kOff = (head0 + h) * w.C * w.Ep;
      job.zOff = h * E;
      job.vCols = vCols[h];
      weightedValues(job, nLive);
      continue;
    }
    summed |= 1 << h;
    // A whole row streams faster than its two column halves in turn (one thread, 4,096 keys: 42 against
    // 30 GB/s), so only a lone head is cut, or the second thread would have nothing to do.
    const v0 = valueAddress(w, head0 + h), all = nLive === n;
    for (const passes of lone ? w.vsumHalves : [w.vsumPasses]) {
      for (const pass of passes) table.put(all ? pass.every : pass.listed, s.buf.byteOffset, s.live.byteOffset, nLive, v0 + pass.at, rowBytes, s.z.byteOffset + pass.at);
      table.cut();
    }
  }
  table.run();
  for (let h = 0; h < H; h++) if (summed & (1 << h)) job.z.set(w.slots[h].z.subarray(0, E), h * E);
  job.buf = w.buf;
  job.live = w.live;
  for (let h = 0; h < H; h++) {
    if (!(sparse & (1 << h))) continue;
    job.qOff = qOff0 + h * E;
    job.kOff = (head0 + h) * w.C * w.Ep;
    w.head = head0 + h;
    job.zOff = h * E;
    job.vCols = vCols[h];
    attend(job);
  }
  return true;
}
