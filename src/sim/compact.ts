/**
 * The forward pass of a model whose every product takes the sparse path
 * (compiled weights), on narrowed arrays: per head, q and k keep only the
 * columns where both W_Q (or b_Q) and W_K (or b_K) can be nonzero, v and z
 * only the columns where W_V (or b_V) can. Compiled heads use a handful of
 * their d_head columns, so the [N, H·E] arrays of the general path are mostly
 * columns that are 0 by construction; here they are never written, scanned
 * or added. Residual rows are scanned only at the coordinates a product reads
 * (rows of W_Q/W_K/W_V, of W_U), and the attention output is added only at the
 * coordinates W_O or b_O can write. Within a batch, a query whose q row and
 * key rows equal those of the batch's longest sequence (positional heads)
 * reuses that sequence's pattern row instead of scoring again.
 *
 * Every dropped term is an exact zero of the general path (a column of q or
 * k that is 0 for every input, a z column that is 0, a product row the CSR
 * kernel skips), and every kept sum adds the same terms in the same order
 * through the same kernels (csrRow, attentionScores.ts, softmax.ts,
 * attentionValues.ts), so the logits are bit-identical to the general path's
 * for finite activations. Only logits come out: the activation cache needs
 * the full arrays and takes the general path.
 */
import type { FloatArray } from "../model/weights.ts";
import { attentionJob, reserveKeys, type AttentionJob } from "./attention.ts";
import { queryNonzeros, scores } from "./attentionScores.ts";
import { weightedValues } from "./attentionValues.ts";
import type { Csr } from "./kernels.ts";
import { csrRow, gatherNonzeros, type Linear, type PreparedModel, type SparseMode, usesSparse } from "./prepare.ts";
import { softmaxCut, softmaxLive } from "./softmax.ts";

/** One head's place in the narrowed arrays and its attention records. */
interface CompactHead {
  /** First column of the head in the q and k blocks (WS wide) of the qkv array, and its width. */
  readonly sOff: number;
  readonly nS: number;
  /** First column of the head in the v block of the qkv array and in z (WV wide), and its width. */
  readonly vOff: number;
  readonly nV: number;
  /** Scores and softmax: width nS, scaled by √d_head. */
  readonly scoreJob: AttentionJob;
  /** Value sum: width nV (shares the score job's pattern and live keys). */
  readonly valueJob: AttentionJob;
}

/**
 * A layer with narrowed projections. q, k and v are one product into one
 * [N, W3] array (columns: q's WS, k's WS, v's WV): one scan of a residual
 * row, one lookup of each of its nonzero rows serves all three.
 */
interface CompactLayer {
  readonly WS: number;
  readonly WV: number;
  readonly W3: number;
  readonly qkv: Csr; // [D, W3]
  readonly bqkv: FloatArray | null; // [W3]
  /** Residual coordinates with an entry in q, k or v, ascending. */
  readonly reads: Int32Array;
  readonly o: Csr; // [WV, D]
  readonly bo: FloatArray | null; // [D]
  /** Residual coordinates W_O or b_O can write, ascending. */
  readonly writes: Int32Array;
  readonly heads: readonly CompactHead[];
}

/** A prepared model in narrowed form. */
export interface CompactModel {
  readonly model: PreparedModel;
  readonly layers: readonly CompactLayer[];
  readonly unembed: Csr; // [D, Vo]
  readonly bU: FloatArray | null;
  /** Residual coordinates W_U reads, ascending. */
  readonly unembedReads: Int32Array;
  /** Widest q/k, v rows: the scratch size for nonzero coordinates. */
  readonly maxWidth: number;
}

const memo = new WeakMap<PreparedModel, CompactModel>();

/** Whether every product of `model` takes the sparse path under `mode` (then runCompact applies). */
export function allSparse(model: PreparedModel, mode: SparseMode): boolean {
  if (!usesSparse(model.unembed, mode)) return false;
  for (const l of model.layers) {
    if (!usesSparse(l.q, mode) || !usesSparse(l.k, mode) || !usesSparse(l.v, mode) || !usesSparse(l.o, mode)) return false;
  }
  return true;
}

/** The narrowed form of `model` (built once per prepared model). */
export function compactModel(model: PreparedModel): CompactModel {
  let c = memo.get(model);
  if (!c) {
    c = buildCompact(model);
    memo.set(model, c);
  }
  return c;
}

/**
 * Embedding, layers and unembedding of tokens [N] through the residual
 * resid [N, D] (overwritten); returns the [N, Vo] logits in an array lent by
 * `take`. Sequence b occupies rows starts[b] … starts[b]+lengths[b]−1.
 */
export function runCompact(
  cm: CompactModel, tokens: readonly number[], resid: FloatArray, N: number, starts: readonly number[], lengths: readonly number[],
  take: (key: string, n: number) => FloatArray,
): FloatArray {
  const model = cm.model;
  const { d_model: D, d_vocab_out: Vo } = model.config;
  const maxKeys = lengths.reduce((a, b) => Math.max(a, b), 0);
  const idx = new Int32Array(Math.max(D, cm.maxWidth));
  const row = take("c.row", D);
  const shared = starts.length > 1 && maxKeys <= SHARE_MAX_KEYS ? sharedPatterns(cm, maxKeys) : null;
  const first = firstLayerTable(cm);
  if (!first) embed(model.W_E, model.W_pos, D, tokens, starts, lengths, resid);
  for (const layer of cm.layers) {
    const qkv = take("c.qkv", N * layer.W3);
    const z = take("c.z", N * layer.WV);
    if (layer === cm.layers[0] && first) embedFirst(cm, layer, first, tokens, starts, lengths, resid, idx, qkv);
    else projectQkv(layer, resid, N, D, idx, qkv);
    for (const head of layer.heads) {
      // A head with no value column writes nothing (z is 0 whatever the pattern).
      if (head.nV === 0) continue;
      reserveHead(head, maxKeys);
      attendHead(head, layer, qkv, z, starts, lengths, shared);
    }
    addOutput(layer, z, N, D, idx, resid, row);
  }
  const out = take("out", N * Vo);
  const reads = cm.unembedReads;
  for (let i = 0; i < N; i++) {
    const nx = gatherListed(resid, i * D, reads, idx);
    csrRow(cm.unembed, resid, i * D, idx, nx, out, i * Vo, cm.bU);
  }
  return out;
}

/** q, k, v of every row, scanning the residual row at the coordinates the product reads. */
function projectQkv(layer: CompactLayer, resid: FloatArray, N: number, D: number, idx: Int32Array, qkv: FloatArray): void {
  const { W3, reads, qkv: w, bqkv } = layer;
  for (let i = 0; i < N; i++) {
    const x = i * D;
    csrRow(w, resid, x, idx, gatherListed(resid, x, reads, idx), qkv, i * W3, bqkv);
  }
}

/** resid[row] = W_E[token] + W_pos[position] for every row (as the general path embeds). */
function embed(
  W_E: FloatArray, W_pos: FloatArray, D: number, tokens: readonly number[],
  starts: readonly number[], lengths: readonly number[], resid: FloatArray,
): void {
  for (let b = 0; b < starts.length; b++) {
    const s = starts[b];
    for (let p = 0; p < lengths[b]; p++) {
      const row = (s + p) * D;
      const e = tokens[s + p] * D;
      const pos = p * D;
      for (let d = 0; d < D; d++) resid[row + d] = W_E[e + d] + W_pos[pos + d];
    }
  }
}

/** Largest first-layer table (elements) kept per model: d_vocab · n_ctx residual rows and rows of q, k and v. */
const FIRST_LAYER_TABLE_MAX = 1 << 18;

/**
 * The embedded residual row and the first layer's q, k, v row by (token,
 * position), filled as pairs are met; done[t·C + p] says which are.
 */
interface FirstLayerTable {
  readonly resid: FloatArray; // [V·C, D]
  readonly qkv: FloatArray; // [V·C, W3]
  readonly done: Uint8Array; // [V·C]
}

const firstMemo = new WeakMap<CompactModel, FirstLayerTable | null>();

/** The model's first-layer table, or null when d_vocab · n_ctx rows would be too many to keep. */
function firstLayerTable(cm: CompactModel): FirstLayerTable | null {
  let t = firstMemo.get(cm);
  if (t === undefined) {
    const { d_vocab: V, n_ctx: C, d_model: D } = cm.model.config;
    const W3 = cm.layers.length > 0 ? cm.layers[0].W3 : 0;
    const fits = cm.layers.length > 0 && V * C * (D + W3) <= FIRST_LAYER_TABLE_MAX;
    t = fits ? { resid: cm.model.alloc(V * C * D), qkv: cm.model.alloc(V * C * W3), done: new Uint8Array(V * C) } : null;
    firstMemo.set(cm, t);
  }
  return t;
}

/**
 * The embedding and the first layer's projectQkv, whose input row is
 * W_E[token] + W_pos[position]: a (token, position) pair met before copies
 * both rows from the table (the same numbers, computed once per model;
 * compiled programs have small vocabularies and contexts), a new one is
 * computed and kept.
 */
function embedFirst(
  cm: CompactModel, layer: CompactLayer, table: FirstLayerTable, tokens: readonly number[], starts: readonly number[], lengths: readonly number[],
  resid: FloatArray, idx: Int32Array, qkv: FloatArray,
): void {
  const { d_model: D, n_ctx: C } = cm.model.config;
  const W_E = cm.model.W_E, W_pos = cm.model.W_pos;
  const { W3, reads, qkv: w, bqkv } = layer;
  const tResid = table.resid, tQkv = table.qkv, done = table.done;
  for (let b = 0; b < starts.length; b++) {
    for (let p = 0; p < lengths[b]; p++) {
      const i = starts[b] + p;
      const key = tokens[i] * C + p;
      if (done[key] === 1) {
        copyRow(resid, i * D, tResid, key * D, D);
        copyRow(qkv, i * W3, tQkv, key * W3, W3);
      } else {
        const x = i * D, e = tokens[i] * D, pos = p * D;
        for (let d = 0; d < D; d++) resid[x + d] = W_E[e + d] + W_pos[pos + d];
        csrRow(w, resid, x, idx, gatherListed(resid, x, reads, idx), qkv, i * W3, bqkv);
        copyRow(tResid, key * D, resid, x, D);
        copyRow(tQkv, key * W3, qkv, i * W3, W3);
        done[key] = 1;
      }
    }
  }
}

/** dst[d … d+n) = src[s … s+n): a loop for short rows, the builtin copy (one view per row) for long ones. */
function copyRow(dst: FloatArray, d: number, src: FloatArray, s: number, n: number): void {
  if (n > 48) dst.set(src.subarray(s, s + n), d);
  else for (let c = 0; c < n; c++) dst[d + c] = src[s + c];
}

function reserveHead(head: CompactHead, maxKeys: number): void {
  const s = head.scoreJob, vj = head.valueJob;
  reserveKeys(s, maxKeys);
  vj.buf = s.buf;
  vj.live = s.live;
}

/** Longest sequences whose attention patterns are kept for reuse (the record is keys² long). */
const SHARE_MAX_KEYS = 512;

/** The attention pattern rows of one sequence, kept so that other sequences can reuse them. */
interface SharedPatterns {
  /** Row i: pattern values at pattern[i][j] for the live keys j. */
  readonly pattern: readonly FloatArray[];
  /** Row i: its live keys at live[i][0 … count[i]). */
  readonly live: readonly Int32Array[];
  readonly count: Int32Array;
  /** Rows (and keys per row) the record holds. */
  readonly C: number;
}

const sharedMemo = new WeakMap<CompactModel, SharedPatterns>();

/** The model's pattern record, grown to hold sequences of maxKeys keys. */
function sharedPatterns(cm: CompactModel, maxKeys: number): SharedPatterns {
  let sp = sharedMemo.get(cm);
  if (!sp || sp.C < maxKeys) {
    // One allocation each, viewed row by row (the value sum reads a kept row in place).
    const C = maxKeys, pattern = cm.model.alloc(C * C), live = new Int32Array(C * C);
    sp = {
      pattern: Array.from({ length: C }, (_, i) => pattern.subarray(i * C, (i + 1) * C)),
      live: Array.from({ length: C }, (_, i) => live.subarray(i * C, (i + 1) * C)),
      count: new Int32Array(C), C,
    };
    sharedMemo.set(cm, sp);
  }
  return sp;
}

/**
 * One head over every sequence: per query, scores, softmax and value sum.
 * With `shared`, the longest sequence goes first and keeps its pattern rows;
 * a query of another sequence whose q row and key rows 0 … i equal the kept
 * sequence's (a head that reads positions only: previous-token heads, the
 * positional part of most compiled programs) takes the kept pattern row
 * instead of scoring: the same inputs through the same arithmetic give the
 * same pattern, so only the value sum is computed again.
 */
function attendHead(
  head: CompactHead, layer: CompactLayer, qkv: FloatArray, z: FloatArray,
  starts: readonly number[], lengths: readonly number[], shared: SharedPatterns | null,
): void {
  const sj = head.scoreJob, vj = head.valueJob;
  const { W3, WS } = layer;
  sj.q = qkv;
  sj.k = qkv;
  sj.stride = W3;
  vj.v = qkv;
  vj.z = z;
  vj.stride = W3;
  if (!shared) {
    for (let b = 0; b < starts.length; b++) attendRows(head, layer, starts[b], lengths[b], null, -1, 0);
    return;
  }
  let r = 0;
  for (let b = 1; b < lengths.length; b++) if (lengths[b] > lengths[r]) r = b;
  attendRows(head, layer, starts[r], lengths[r], shared, -1, 0);
  const kCol = WS + head.sOff;
  for (let b = 0; b < starts.length; b++) {
    if (b === r) continue;
    const keys = equalRows(qkv, starts[b] * W3 + kCol, starts[r] * W3 + kCol, W3, head.nS, lengths[b]);
    attendRows(head, layer, starts[b], lengths[b], shared, starts[r], keys);
  }
}

/**
 * Rows s … s+T−1 of one sequence. ref < 0: compute every row (and keep it in
 * `shared` when given). ref ≥ 0: the kept sequence starts at row ref and its
 * first `keys` key rows equal this sequence's; rows within them whose q row
 * equals the kept one reuse the kept pattern.
 */
function attendRows(
  head: CompactHead, layer: CompactLayer, s: number, T: number, shared: SharedPatterns | null, ref: number, keys: number,
): void {
  const { W3, WS, WV } = layer;
  const sj = head.scoreJob, vj = head.valueJob;
  const buf = sj.buf, live = sj.live, cut = softmaxCut(buf);
  const q = sj.q, sOff = head.sOff, nS = head.nS;
  sj.kOff = s * W3 + WS + sOff;
  vj.kOff = s * W3 + 2 * WS + head.vOff;
  const keep = shared !== null && ref < 0;
  for (let i = 0; i < T; i++) {
    const qi = (s + i) * W3 + sOff;
    let nLive: number;
    if (shared !== null && i < keys && equalRow(q, qi, (ref + i) * W3 + sOff, nS)) {
      // The value sum reads the kept row where it is.
      vj.buf = shared.pattern[i];
      vj.live = shared.live[i];
      nLive = shared.count[i];
    } else {
      sj.qOff = qi;
      sj.nKeys = i + 1;
      const max = scores(sj, queryNonzeros(sj));
      nLive = softmaxLive(buf, i + 1, max, live, cut);
      vj.buf = buf;
      vj.live = live;
      if (keep) {
        const pat = shared.pattern[i], kept = shared.live[i];
        shared.count[i] = nLive;
        for (let t = 0; t < nLive; t++) {
          const j = live[t];
          kept[t] = j;
          pat[j] = buf[j];
        }
      }
    }
    vj.zOff = (s + i) * WV + head.vOff;
    weightedValues(vj, nLive);
  }
}

/** Whether a[x … x+n) and a[y … y+n) hold equal numbers (±0 alike: a zero's sign never reaches a score). */
function equalRow(a: FloatArray, x: number, y: number, n: number): boolean {
  for (let e = 0; e < n; e++) if (a[x + e] !== a[y + e]) return false;
  return true;
}

/** How many leading rows (of width n, stride W, at most T) two sequences' arrays have equal. */
function equalRows(a: FloatArray, x: number, y: number, W: number, n: number, T: number): number {
  let i = 0;
  while (i < T && equalRow(a, x + i * W, y + i * W, n)) i++;
  return i;
}

/**
 * resid += z · W_O + b_O, row by row through a scratch row, at the written
 * coordinates only (elsewhere the general path adds an exact 0).
 */
function addOutput(layer: CompactLayer, z: FloatArray, N: number, D: number, idx: Int32Array, resid: FloatArray, row: FloatArray): void {
  const { WV, o, bo, writes } = layer;
  const nw = writes.length;
  if (!bo && nw > WIDE_OUTPUT) {
    addOutputTouched(layer, z, N, D, idx, resid, row);
    return;
  }
  const rowPtr = o.rowPtr, colIdx = o.colIdx, vals = o.vals;
  for (let i = 0; i < N; i++) {
    for (let t = 0; t < nw; t++) row[writes[t]] = 0;
    const zi = i * WV;
    const nz = gatherNonzeros(z, zi, WV, idx);
    for (let t = 0; t < nz; t++) {
      const kk = idx[t];
      const a = z[zi + kk];
      for (let p = rowPtr[kk], p1 = rowPtr[kk + 1]; p < p1; p++) row[colIdx[p]] += a * vals[p];
    }
    if (bo) for (let t = 0; t < nw; t++) row[writes[t]] += bo[writes[t]];
    const r = i * D;
    for (let t = 0; t < nw; t++) {
      const c = writes[t];
      resid[r + c] = resid[r + c] + row[c];
    }
  }
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
  const rowPtr = o.rowPtr, colIdx = o.colIdx, vals = o.vals;
  for (let t = 0; t < writes.length; t++) row[writes[t]] = 0;
  for (let i = 0; i < N; i++) {
    const zi = i * WV;
    const nz = gatherNonzeros(z, zi, WV, idx);
    for (let t = 0; t < nz; t++) {
      const kk = idx[t];
      const a = z[zi + kk];
      for (let p = rowPtr[kk], p1 = rowPtr[kk + 1]; p < p1; p++) row[colIdx[p]] += a * vals[p];
    }
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

// ------------------------------------------------------------ building

function buildCompact(model: PreparedModel): CompactModel {
  const { d_head: E, n_heads: H } = model.config;
  const alloc = model.alloc;
  let maxWidth = 0;
  const layers = model.layers.map((l): CompactLayer => {
    const qCols = liveColumns(l.q, l.bq), kCols = liveColumns(l.k, l.bk), vCols = liveColumns(l.v, l.bv);
    const sMap = new Int32Array(H * E).fill(-1), vMap = new Int32Array(H * E).fill(-1);
    const heads: CompactHead[] = [];
    let WS = 0, WV = 0;
    for (let h = 0; h < H; h++) {
      const sOff = WS, vOff = WV;
      for (let e = 0; e < E; e++) {
        const c = h * E + e;
        if (qCols[c] && kCols[c]) sMap[c] = WS++;
        if (vCols[c]) vMap[c] = WV++;
      }
      const nS = WS - sOff, nV = WV - vOff;
      const scoreJob = attentionJob(model.precision, nS, 0, Math.sqrt(E));
      const valueJob = attentionJob(model.precision, nV, 0);
      heads.push({ sOff, nS, vOff, nV, scoreJob, valueJob });
    }
    const W3 = 2 * WS + WV;
    maxWidth = Math.max(maxWidth, W3);
    const parts: Part[] = [
      { lin: l.q, bias: l.bq, map: sMap, at: 0 }, { lin: l.k, bias: l.bk, map: sMap, at: WS }, { lin: l.v, bias: l.bv, map: vMap, at: 2 * WS },
    ];
    const qkv = columnsCsr(parts, W3, alloc);
    const o = rowsCsr(l.o, vMap, WV, alloc);
    const writes: number[] = [];
    for (let d = 0; d < l.o.N; d++) {
      let w = l.bo[d] !== 0;
      for (let r = 0; r < l.o.K && !w; r++) w = vMap[r] >= 0 && l.o.dense[r * l.o.N + d] !== 0;
      if (w) writes.push(d);
    }
    return {
      WS, WV, W3, qkv, bqkv: compactBias(parts, W3, alloc),
      reads: Int32Array.from(nonemptyRows([qkv])),
      o, bo: l.bo.some((x) => x !== 0) ? l.bo : null, writes: Int32Array.from(writes),
      heads,
    };
  });
  const unembed = model.unembed.csr();
  return {
    model, layers, unembed,
    bU: model.b_U.some((x) => x !== 0) ? model.b_U : null,
    unembedReads: Int32Array.from(nonemptyRows([unembed])),
    maxWidth,
  };
}

/** Per column of lin (plus bias), whether any entry is nonzero. */
function liveColumns(lin: Linear, bias: FloatArray): boolean[] {
  const live = Array.from(bias, (b) => b !== 0);
  const { K, N, dense } = lin;
  for (let r = 0; r < K; r++) for (let c = 0; c < N; c++) if (dense[r * N + c] !== 0) live[c] = true;
  return live;
}

/** Columns of a matrix (and its bias) kept in a narrowed product: column c goes to at + map[c], or nowhere when map[c] < 0. */
interface Part {
  readonly lin: Linear;
  readonly bias: FloatArray;
  readonly map: Int32Array;
  readonly at: number;
}

/** CSR of the kept columns of matrices with the same rows, side by side. */
function columnsCsr(parts: readonly Part[], width: number, alloc: (n: number) => FloatArray): Csr {
  const K = parts[0].lin.K;
  const rowPtr = new Int32Array(K + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let r = 0; r < K; r++) {
    rowPtr[r] = cols.length;
    for (const { lin: { N, dense }, map, at } of parts) {
      for (let c = 0; c < N; c++) {
        const x = dense[r * N + c];
        if (x !== 0 && map[c] >= 0) {
          cols.push(at + map[c]);
          vals.push(x);
        }
      }
    }
  }
  rowPtr[K] = cols.length;
  const v = alloc(vals.length);
  v.set(vals);
  return { rows: K, cols: width, rowPtr, colIdx: Int32Array.from(cols), vals: v };
}

/** CSR of lin's rows that map to ≥ 0, renumbered. */
function rowsCsr(lin: Linear, map: Int32Array, height: number, alloc: (n: number) => FloatArray): Csr {
  const { K, N, dense } = lin;
  const rowPtr = new Int32Array(height + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let r = 0; r < K; r++) {
    if (map[r] < 0) continue;
    rowPtr[map[r]] = cols.length;
    for (let c = 0; c < N; c++) {
      const x = dense[r * N + c];
      if (x !== 0) {
        cols.push(c);
        vals.push(x);
      }
    }
  }
  rowPtr[height] = cols.length;
  const v = alloc(vals.length);
  v.set(vals);
  return { rows: height, cols: N, rowPtr, colIdx: Int32Array.from(cols), vals: v };
}

/** The kept entries of the parts' biases, side by side, or null when they are all 0. */
function compactBias(parts: readonly Part[], width: number, alloc: (n: number) => FloatArray): FloatArray | null {
  const out = alloc(width);
  let live = false;
  for (const { bias, map, at } of parts) {
    for (let c = 0; c < map.length; c++) {
      if (map[c] >= 0) {
        out[at + map[c]] = bias[c];
        live ||= bias[c] !== 0;
      }
    }
  }
  return live ? out : null;
}

/** Rows with an entry in any of the matrices, ascending. */
function nonemptyRows(ms: readonly Csr[]): number[] {
  const rows: number[] = [];
  for (let r = 0; r < ms[0].rows; r++) if (ms.some((m) => m.rowPtr[r + 1] > m.rowPtr[r])) rows.push(r);
  return rows;
}
