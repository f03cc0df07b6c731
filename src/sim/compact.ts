/**
 * The forward pass of a model whose every product takes the sparse path
 * (compiled weights), on narrowed arrays: per head, q and k keep only the
 * columns where both W_Q (or b_Q) and W_K (or b_K) can be nonzero, v and z
 * only the columns where W_V (or b_V) can. Compiled heads use a handful of
 * their d_head columns, so the [N, H·E] arrays of the general path are mostly
 * columns that are 0 by construction; here they are never written, scanned
 * or added. Residual rows are scanned only at the coordinates a product reads
 * (rows of W_Q/W_K/W_V, of W_U), and the attention output is added only at the
 * coordinates W_O or b_O can write. A query whose q row and key rows equal
 * those its head last scored in full (kept across calls: positional heads)
 * reuses that pattern row instead of scoring again (compactAttention.ts).
 *
 * Every dropped term is an exact zero of the general path (a column of q or
 * k that is 0 for every input, a z column that is 0, a product row the CSR
 * kernel skips), and every kept sum adds the same terms in the same order
 * through the same kernels (csrRow, attentionScores.ts, softmax.ts,
 * attentionValues.ts; where WebAssembly SIMD is available the products, the
 * sparse scores, the value sums and the table copies run there on the same
 * operations, compactWasm.ts), so the logits are bit-identical to the
 * general path's for finite activations. Only logits come out: the
 * activation cache needs the full arrays and takes the general path.
 */
import type { FloatArray } from "../model/weights.ts";
import { attendHead, patternRecords, reserveHead } from "./compactAttention.ts";
import type { CompactLayer, CompactModel, Direct } from "./compactModel.ts";
import { type CompactArena, compactArena, syncTable } from "./compactWasm.ts";
import { embed } from "./embed.ts";
import type { Csr } from "./kernels.ts";
import { csrRow, gatherNonzeros } from "./prepare.ts";

export { allSparse, compactModel, type CompactModel } from "./compactModel.ts";

/**
 * Embedding, layers and unembedding of tokens [N] through the residual
 * residScratch [N, D] (overwritten; with WebAssembly, the arena's
 * instead); returns the [N, Vo] logits in an array lent by `take` (or the
 * arena), valid until the next run. Sequence b occupies rows starts[b] …
 * starts[b]+lengths[b]−1.
 */
export function runCompact(
  cm: CompactModel, tokens: Int32Array, residScratch: FloatArray, N: number, starts: readonly number[], lengths: readonly number[],
  take: (key: string, n: number) => FloatArray,
): FloatArray {
  const model = cm.model;
  const { d_model: D, d_vocab_out: Vo } = model.config;
  const maxKeys = lengths.reduce((a, b) => Math.max(a, b), 0);
  const idx = new Int32Array(Math.max(D, cm.maxWidth));
  const row = take("c.row", D);
  const records = patternRecords(cm, maxKeys);
  const first = firstLayerTable(cm);
  let recordElements = 0;
  if (records) for (const r of records.values()) recordElements = Math.max(recordElements, r.C * r.C);
  // The arrays in the WebAssembly kernels' memory (compactWasm.ts), where they are available.
  const arena = compactArena(cm, N, maxKeys, recordElements, first);
  const resid = arena ? arena.resid : residScratch;
  if (!first) embed(model.W_E, model.W_pos, D, tokens, starts, lengths, resid);
  cm.layers.forEach((layer, l) => {
    const qkv = arena ? arena.qkv.subarray(0, N * layer.W3) : take("c.qkv", N * layer.W3);
    const z = arena ? arena.z.subarray(0, N * layer.WV) : take("c.z", N * layer.WV);
    const p = arena?.project[l];
    if (l === 0 && first) embedFirst(cm, layer, first, tokens, starts, lengths, resid, idx, qkv, arena);
    else if (arena && p) arena.ex.project(arena.residAt, arena.bytes * D, N, p.reads, layer.reads.length, p.rowPtr, p.colIdx, p.vals, arena.qkvAt, layer.W3, p.bias);
    else projectQkv(layer, resid, N, D, idx, qkv);
    for (const head of layer.heads) {
      // A head with no value column writes nothing (z is 0 whatever the pattern).
      if (head.nV === 0) continue;
      reserveHead(head, maxKeys);
      attendHead(head, layer, qkv, z, starts, lengths, records?.get(head) ?? null, arena);
    }
    const o = arena?.oDirect[l];
    if (arena && o) arena.ex.addDirect(arena.zAt, layer.WV, o.cols, o.vals, N, arena.residAt, arena.bytes * D);
    else addOutput(layer, z, N, D, idx, resid, row);
  });
  const reads = cm.unembedReads;
  const u = arena?.unembedDirect;
  if (arena && u) {
    arena.ex.unembedDirect(arena.residAt, arena.bytes * D, N, u.reads, u.cols, u.vals, reads.length, arena.outAt, Vo, arena.biasAt);
    return arena.out.subarray(0, N * Vo);
  }
  const out = arena ? arena.out.subarray(0, N * Vo) : take("out", N * Vo);
  if (cm.unembedDirect) {
    unembedDirect(cm.unembedDirect, reads, cm.bU, resid, N, D, out, Vo);
    return out;
  }
  for (let i = 0; i < N; i++) {
    const nx = gatherListed(resid, i * D, reads, idx);
    csrRow(cm.unembed, resid, i * D, idx, nx, out, i * Vo, cm.bU);
  }
  return out;
}

/**
 * The unembedding when each read coordinate reaches one logit of its own
 * (compiled programs: a one-hot output feature): logit = 0 + a·w, exactly the
 * general kernel's sum from +0 with one term (or none: 0 + 0·w is +0 too),
 * then b_U, without scanning for nonzeros.
 */
export function unembedDirect(
  u: Direct, reads: Int32Array, bU: FloatArray | null, resid: FloatArray, N: number, D: number, out: FloatArray, Vo: number,
): void {
  const cols = u.cols, vals = u.vals, n = reads.length;
  for (let i = 0; i < N; i++) {
    const x = i * D, o = i * Vo;
    for (let j = 0; j < Vo; j++) out[o + j] = 0;
    for (let t = 0; t < n; t++) out[o + cols[t]] = 0 + resid[x + reads[t]] * vals[t];
    if (bU) for (let j = 0; j < Vo; j++) out[o + j] += bU[j];
  }
}

/** q, k, v of every row, scanning the residual row at the coordinates the product reads. */
function projectQkv(layer: CompactLayer, resid: FloatArray, N: number, D: number, idx: Int32Array, qkv: FloatArray): void {
  const { W3, reads, qkv: w, bqkv } = layer;
  for (let i = 0; i < N; i++) {
    const x = i * D;
    csrRow(w, resid, x, idx, gatherListed(resid, x, reads, idx), qkv, i * W3, bqkv);
  }
}

/** Largest first-layer table (elements) kept per model: d_vocab · n_ctx residual rows and rows of q, k and v. */
const FIRST_LAYER_TABLE_MAX = 1 << 18;

/**
 * The first layer's q, k, v row and the embedded residual row at the
 * coordinates read later (CompactModel.readLater) by (token, position),
 * filled as pairs are met; done[t·C + p] says which are.
 */
interface FirstLayerTable {
  /**
   * Residual values kept per row: readLater.length, or d_model (the whole
   * row) when that is over half of it, where one contiguous copy beats a
   * scatter of nearly as many elements.
   */
  readonly R: number;
  readonly resid: FloatArray; // [V·C, R]
  readonly qkv: FloatArray; // [V·C, W3]
  readonly done: Uint8Array; // [V·C]
  /** The residual coordinates of a row's R values (CompactModel.readLater; unused when R = d_model). */
  readonly later: Int32Array;
  /** Bumped whenever rows are added (the WebAssembly arena's copy of the table is then stale). */
  version: number;
}

const firstMemo = new WeakMap<CompactModel, FirstLayerTable | null>();

/** The model's first-layer table, or null when d_vocab · n_ctx rows would be too many to keep. */
function firstLayerTable(cm: CompactModel): FirstLayerTable | null {
  let t = firstMemo.get(cm);
  if (t === undefined) {
    const { d_vocab: V, n_ctx: C, d_model: D } = cm.model.config;
    const W3 = cm.layers.length > 0 ? cm.layers[0].W3 : 0;
    const R = 2 * cm.readLater.length > D ? D : cm.readLater.length;
    const fits = cm.layers.length > 0 && V * C * (R + W3) <= FIRST_LAYER_TABLE_MAX;
    t = fits ? { R, resid: cm.model.alloc(V * C * R), qkv: cm.model.alloc(V * C * W3), done: new Uint8Array(V * C), later: cm.readLater, version: 0 } : null;
    firstMemo.set(cm, t);
  }
  return t;
}

/**
 * The embedding and the first layer's projectQkv, whose input row is
 * W_E[token] + W_pos[position]: a (token, position) pair met before copies
 * both rows from the table (the same numbers, computed once per model;
 * compiled programs have small vocabularies and contexts), a new one is
 * computed and kept. Where the table keeps only the residual coordinates
 * read later, only those are written from it: the others can reach no logit
 * (a layer's output may still add to them; nothing reads the sum), so they
 * keep whatever the scratch array held. With an arena, new pairs are
 * computed first and every row is then copied in one WebAssembly call from
 * the arena's copy of the table.
 */
function embedFirst(
  cm: CompactModel, layer: CompactLayer, table: FirstLayerTable, tokens: Int32Array, starts: readonly number[], lengths: readonly number[],
  resid: FloatArray, idx: Int32Array, qkv: FloatArray, arena: CompactArena | null,
): void {
  const { d_model: D, n_ctx: C } = cm.model.config;
  const W_E = cm.model.W_E, W_pos = cm.model.W_pos;
  const { W3, reads, qkv: w, bqkv } = layer;
  const tResid = table.resid, tQkv = table.qkv, done = table.done;
  const later = cm.readLater, R = table.R;
  for (let b = 0; b < starts.length; b++) {
    for (let p = 0; p < lengths[b]; p++) {
      const i = starts[b] + p;
      const key = tokens[i] * C + p;
      const x = i * D, kr = key * R;
      if (arena) arena.keys[i] = key;
      if (done[key] === 1) {
        // With an arena, every row is copied below, from the arena's copy of the table.
        if (arena) continue;
        if (R === D) copyRow(resid, x, tResid, kr, D);
        else for (let t = 0; t < R; t++) resid[x + later[t]] = tResid[kr + t];
        copyRow(qkv, i * W3, tQkv, key * W3, W3);
      } else {
        const e = tokens[i] * D, pos = p * D;
        for (let d = 0; d < D; d++) resid[x + d] = W_E[e + d] + W_pos[pos + d];
        csrRow(w, resid, x, idx, gatherListed(resid, x, reads, idx), qkv, i * W3, bqkv);
        if (R === D) copyRow(tResid, kr, resid, x, D);
        else for (let t = 0; t < R; t++) tResid[kr + t] = resid[x + later[t]];
        copyRow(tQkv, key * W3, qkv, i * W3, W3);
        done[key] = 1;
        table.version++;
      }
    }
  }
  if (arena) {
    syncTable(arena, table);
    const N = tokens.length;
    arena.ex.embedRows(arena.keysAt, N, arena.tableResidAt, R, R === D ? -1 : arena.laterAt, D, arena.tableQkvAt, W3, arena.residAt, arena.qkvAt);
  }
}

/** dst[d … d+n) = src[s … s+n): a loop for short rows, the builtin copy (one view per row) for long ones. */
function copyRow(dst: FloatArray, d: number, src: FloatArray, s: number, n: number): void {
  if (n > 48) dst.set(src.subarray(s, s + n), d);
  else for (let c = 0; c < n; c++) dst[d + c] = src[s + c];
}

function addOutput(layer: CompactLayer, z: FloatArray, N: number, D: number, idx: Int32Array, resid: FloatArray, row: FloatArray): void {
  const { WV, o, bo, writes } = layer;
  const nw = writes.length;
  if (layer.oDirect) {
    if (resid instanceof Float32Array) addOutputDirectF32(layer.oDirect, WV, z, N, D, resid);
    else addOutputDirectF64(layer.oDirect, WV, z, N, D, resid);
    return;
  }
  if (!bo && nw > WIDE_OUTPUT) {
    addOutputTouched(layer, z, N, D, idx, resid, row);
    return;
  }
  for (let i = 0; i < N; i++) {
    for (let t = 0; t < nw; t++) row[writes[t]] = 0;
    accumulateOutput(o, z, i * WV, WV, idx, row);
    if (bo) for (let t = 0; t < nw; t++) row[writes[t]] += bo[writes[t]];
    const r = i * D;
    for (let t = 0; t < nw; t++) {
      const c = writes[t];
      resid[r + c] = resid[r + c] + row[c];
    }
  }
}

/**
 * addOutput when each z column reaches one residual coordinate of its own and
 * there is no b_O: resid + (0 + z·w), the general path's row entry (a sum from
 * +0 of one term; a zero z adds an exact 0 there as here) added to the
 * residual, without the scratch row or the scan for nonzeros. Float32: the
 * row entry is rounded to float32 before the add, as storing it in the
 * float32 scratch row does.
 */
export function addOutputDirectF32(d: Direct, WV: number, z: FloatArray, N: number, D: number, resid: Float32Array): void {
  const cols = d.cols, vals = d.vals;
  for (let i = 0; i < N; i++) {
    const zi = i * WV, r = i * D;
    for (let t = 0; t < WV; t++) {
      const c = cols[t];
      if (c >= 0) resid[r + c] = resid[r + c] + Math.fround(0 + z[zi + t] * vals[t]);
    }
  }
}

/**
 * addOutputDirectF32 in float64 (no rounding between the product and the add). A twin rather than
 * a rounding function passed in: that call site turns polymorphic in V8, about 20× slower.
 */
export function addOutputDirectF64(d: Direct, WV: number, z: FloatArray, N: number, D: number, resid: FloatArray): void {
  const cols = d.cols, vals = d.vals;
  for (let i = 0; i < N; i++) {
    const zi = i * WV, r = i * D;
    for (let t = 0; t < WV; t++) {
      const c = cols[t];
      if (c >= 0) resid[r + c] = resid[r + c] + (0 + z[zi + t] * vals[t]);
    }
  }
}

/**
 * row[c] += Σ_k z[zi + k] · W_O[k, c] over the nonzero z[zi + k] (k ascending, into idx): the CSR walk
 * both addOutput paths share. Returns how many nonzeros idx holds.
 */
function accumulateOutput(o: Csr, z: FloatArray, zi: number, WV: number, idx: Int32Array, row: FloatArray): number {
  const rowPtr = o.rowPtr, colIdx = o.colIdx, vals = o.vals;
  const nz = gatherNonzeros(z, zi, WV, idx);
  for (let t = 0; t < nz; t++) {
    const kk = idx[t];
    const a = z[zi + kk];
    for (let p = rowPtr[kk], p1 = rowPtr[kk + 1]; p < p1; p++) row[colIdx[p]] += a * vals[p];
  }
  return nz;
}

/** Above this many written coordinates (and no b_O), addOutput visits only those a row's product reaches. */
const WIDE_OUTPUT = 16;

/**
 * addOutput without b_O for wide outputs (a head copying a one-hot of many
 * coordinates): the scratch row stays 0 between rows, and a second walk over
 * the same CSR entries adds each reached coordinate to the residual and
 * clears it (a coordinate reached twice adds its sum once, then an exact 0).
 */
function addOutputTouched(layer: CompactLayer, z: FloatArray, N: number, D: number, idx: Int32Array, resid: FloatArray, row: FloatArray): void {
  const { WV, o, writes } = layer;
  const rowPtr = o.rowPtr, colIdx = o.colIdx;
  for (let t = 0; t < writes.length; t++) row[writes[t]] = 0;
  for (let i = 0; i < N; i++) {
    const nz = accumulateOutput(o, z, i * WV, WV, idx, row);
    const r = i * D;
    for (let t = 0; t < nz; t++) {
      const kk = idx[t];
      for (let p = rowPtr[kk], p1 = rowPtr[kk + 1]; p < p1; p++) {
        const c = colIdx[p];
        resid[r + c] = resid[r + c] + row[c];
        row[c] = 0;
      }
    }
  }
}

/** Positions among x[off + list[t]] that are nonzero, into idx (ascending when list is); returns their count. */
function gatherListed(x: FloatArray, off: number, list: Int32Array, idx: Int32Array): number {
  let c = 0;
  // Branch-free, as gatherNonzeros: a residual's few nonzeros would each cost a mispredicted branch.
  for (let t = 0; t < list.length; t++) {
    const d = list[t];
    idx[c] = d;
    c += +(x[off + d] !== 0);
  }
  return c;
}
