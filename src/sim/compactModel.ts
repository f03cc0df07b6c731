/**
 * The narrowed form of a prepared model whose every product is sparse
 * (compiled weights), for compact.ts: per layer, one CSR product from the
 * residual to q, k and v restricted to the columns a head can use (q and k:
 * where both W_Q/b_Q and W_K/b_K can be nonzero; v: where W_V/b_V can),
 * W_O restricted to the kept v columns, and the residual coordinates each
 * product reads or writes. Built once per prepared model.
 */
import type { FloatArray } from "../model/weights.ts";
import { attentionJob, type AttentionJob } from "./attention.ts";
import type { Csr } from "./kernels.ts";
import { type Linear, type PreparedModel, type SparseMode, usesSparse } from "./prepare.ts";

/** One head's place in the narrowed arrays and its attention records. */
export interface CompactHead {
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
export interface CompactLayer {
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
  /** When there is no b_O and each v column feeds at most one coordinate, no two the same: its coordinate (or −1) and weight. */
  readonly oDirect: Direct | null;
  readonly heads: readonly CompactHead[];
}

/** A product in which each input coordinate reaches at most one output coordinate and no two reach the same one. */
export interface Direct {
  readonly cols: Int32Array; // per input: output coordinate, or −1 for none
  readonly vals: FloatArray; // per input: its weight
}

/** A prepared model in narrowed form. */
export interface CompactModel {
  readonly model: PreparedModel;
  readonly layers: readonly CompactLayer[];
  readonly unembed: Csr; // [D, Vo]
  readonly bU: FloatArray | null;
  /** Residual coordinates W_U reads, ascending. */
  readonly unembedReads: Int32Array;
  /** W_U as a Direct product over unembedReads, when it is one. */
  readonly unembedDirect: Direct | null;
  /**
   * Residual coordinates read after the first layer's q/k/v product (by a
   * later layer's or by W_U), ascending: the only ones whose values can reach
   * the logits once that product is done.
   */
  readonly readLater: Int32Array;
  /** Widest q/k, v rows: the scratch size for nonzero coordinates. */
  readonly maxWidth: number;
  /** Widest z row, and widest head in q and k. */
  readonly maxWV: number;
  readonly maxS: number;
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
    const bo = l.bo.some((x) => x !== 0) ? l.bo : null;
    return {
      WS, WV, W3, qkv, bqkv: compactBias(parts, W3, alloc),
      reads: Int32Array.from(nonemptyRows([qkv])),
      o, bo, writes: Int32Array.from(writes),
      oDirect: bo ? null : direct(o, Int32Array.from({ length: WV }, (_, r) => r), alloc),
      heads,
    };
  });
  const unembed = model.unembed.csr();
  const unembedReads = Int32Array.from(nonemptyRows([unembed]));
  const later = new Set<number>(unembedReads);
  for (const l of layers.slice(1)) for (const d of l.reads) later.add(d);
  return {
    model, layers, unembed,
    bU: model.b_U.some((x) => x !== 0) ? model.b_U : null,
    unembedReads, unembedDirect: direct(unembed, unembedReads, alloc),
    readLater: Int32Array.from([...later].sort((a, b) => a - b)),
    maxWidth,
    maxWV: Math.max(0, ...layers.map((l) => l.WV)),
    maxS: Math.max(0, ...layers.flatMap((l) => l.heads.map((h) => h.nS))),
  };
}

/** The rows of m as a Direct product (row rows[t] is input t), or null when some row has two entries or two rows share a column. */
function direct(m: Csr, rows: Int32Array, alloc: (n: number) => FloatArray): Direct | null {
  const cols = new Int32Array(rows.length).fill(-1);
  const vals = alloc(rows.length);
  const taken = new Uint8Array(m.cols);
  for (let t = 0; t < rows.length; t++) {
    const p = m.rowPtr[rows[t]], n = m.rowPtr[rows[t] + 1] - p;
    if (n === 0) continue;
    const c = m.colIdx[p];
    if (n > 1 || taken[c]) return null;
    taken[c] = 1;
    cols[t] = c;
    vals[t] = m.vals[p];
  }
  return { cols, vals };
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
