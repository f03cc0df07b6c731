/**
 * Attention of the narrowed forward (compact.ts): per head, every query of
 * every sequence of a batch through the shared kernels (attentionScores.ts,
 * softmax.ts, attentionValues.ts; with an arena, the sparse scores and
 * the value sums in WebAssembly: compactWasm.ts), reusing pattern
 * rows across sequences where a head's inputs repeat.
 */
import type { FloatArray } from "../model/weights.ts";
import { reserveKeys } from "./attention.ts";
import { queryNonzeros, scores } from "./attentionScores.ts";
import { weightedValues } from "./attentionValues.ts";
import type { CompactHead, CompactLayer, CompactModel } from "./compactModel.ts";
import type { CompactArena } from "./compactWasm.ts";
import { softmaxCut, softmaxLive } from "./softmax.ts";

/** Grow the head's scratch to maxKeys keys (the value job shares the score job's). */
export function reserveHead(head: CompactHead, maxKeys: number): void {
  const s = head.scoreJob, vj = head.valueJob;
  reserveKeys(s, maxKeys);
  vj.buf = s.buf;
  vj.live = s.live;
}

/**
 * Most pattern elements (keys² per head, summed over the model's heads)
 * kept for reuse; a run whose sequences would need more keeps none.
 */
export const PATTERN_RECORD_MAX = 1 << 20;

/**
 * One head's kept attention: the pattern rows of the sequence it last
 * scored in full, and the q and k rows they came from. Kept across calls:
 * a later sequence whose leading key rows and a row's q equal the kept ones
 * takes that pattern row, whichever call it is in.
 */
export interface PatternRecord {
  /** Row i: pattern values at pattern[i][j] for the live keys j. */
  readonly pattern: readonly FloatArray[];
  /** Row i: its live keys at live[i][0 … count[i]). */
  readonly live: readonly Int32Array[];
  /** The rows of pattern and of live, one after the other (row i at i·C). */
  readonly patternRows: FloatArray;
  readonly liveRows: Int32Array;
  readonly count: Int32Array;
  /** The q and k rows (nS wide) the kept pattern rows were scored from. */
  readonly q: FloatArray;
  readonly k: FloatArray;
  /** Rows the record can hold (and keys per row). */
  readonly C: number;
  /** Rows it holds (0: none yet). */
  rows: number;
}

const recordMemo = new WeakMap<CompactModel, Map<CompactHead, PatternRecord>>();

/**
 * The model's pattern records, one per head, grown to hold sequences of
 * maxKeys keys (a record that grows starts empty); null when that would be
 * more than PATTERN_RECORD_MAX elements.
 */
export function patternRecords(cm: CompactModel, maxKeys: number): Map<CompactHead, PatternRecord> | null {
  const heads = cm.layers.reduce((n, l) => n + l.heads.length, 0);
  if (heads * maxKeys * maxKeys > PATTERN_RECORD_MAX) return null;
  let records = recordMemo.get(cm);
  if (!records) recordMemo.set(cm, (records = new Map()));
  for (const layer of cm.layers) {
    for (const head of layer.heads) {
      const r = records.get(head);
      if (r && r.C >= maxKeys) continue;
      // One allocation each, viewed row by row (the value sum reads a kept row in place).
      const C = maxKeys, pattern = cm.model.alloc(C * C), live = new Int32Array(C * C);
      records.set(head, {
        pattern: Array.from({ length: C }, (_, i) => pattern.subarray(i * C, (i + 1) * C)),
        live: Array.from({ length: C }, (_, i) => live.subarray(i * C, (i + 1) * C)),
        patternRows: pattern, liveRows: live,
        count: new Int32Array(C), q: cm.model.alloc(C * head.nS), k: cm.model.alloc(C * head.nS), C, rows: 0,
      });
    }
  }
  return records;
}

/**
 * One head over every sequence: per query, scores, softmax and value sum.
 * With a record, a query whose q row and key rows 0 … i equal the record's
 * (a head that reads positions only: previous-token heads, the positional
 * part of most compiled programs) takes the kept pattern row instead of
 * scoring: the same inputs through the same arithmetic give the same
 * pattern, so only the value sum is computed again. The longest sequence
 * goes first, and is scored in full and kept unless the record already
 * covers every row of it.
 */
export function attendHead(
  head: CompactHead, layer: CompactLayer, qkv: FloatArray, z: FloatArray,
  starts: readonly number[], lengths: readonly number[], record: PatternRecord | null, arena: CompactArena | null = null,
): void {
  const sj = head.scoreJob, vj = head.valueJob;
  const { W3, WS } = layer;
  if (arena) {
    // The score row, its live keys and the query's coordinates in the arena too, where the kernels read them.
    sj.buf = vj.buf = arena.buf;
    sj.live = vj.live = arena.live;
    sj.qIdx = arena.qIdx;
  }
  sj.q = qkv;
  sj.k = qkv;
  sj.stride = W3;
  vj.v = qkv;
  vj.z = z;
  vj.stride = W3;
  // vCols (only some value columns summed) stays in JavaScript.
  const a = arena && !vj.vCols ? arena : null;
  if (!record) {
    for (let b = 0; b < starts.length; b++) attendRows(head, layer, starts[b], lengths[b], null, 0, a);
    return;
  }
  let r = 0;
  for (let b = 1; b < lengths.length; b++) if (lengths[b] > lengths[r]) r = b;
  const kr = starts[r] * W3 + WS + head.sOff;
  const covered = keptLeading(qkv, kr, W3, record, lengths[r], kr - WS);
  if (covered < lengths[r]) attendRows(head, layer, starts[r], lengths[r], record, -1, a);
  if (a) {
    // The kept rows where the value kernel reads them (after the pass that may have replaced them).
    a.pattern.set(record.patternRows.subarray(0, record.rows * record.C));
    a.patternLive.set(record.liveRows.subarray(0, record.rows * record.C));
  }
  for (let b = 0; b < starts.length; b++) {
    if (b === r && covered < lengths[r]) continue;
    attendRows(head, layer, starts[b], lengths[b], record, keptLeading(qkv, starts[b] * W3 + WS + head.sOff, W3, record, lengths[b]), a);
  }
}

/**
 * How many leading key rows of a sequence (at k, stride W, at most T) equal
 * the record's, and with q ≥ 0 their q rows (at q) too.
 */
function keptLeading(a: FloatArray, k: number, W: number, rec: PatternRecord, T: number, q = -1): number {
  const n = rec.k.length / rec.C;
  const last = Math.min(T, rec.rows);
  let i = 0;
  while (i < last && equalRow(a, k + i * W, rec.k, i * n, n) && (q < 0 || equalRow(a, q + i * W, rec.q, i * n, n))) i++;
  return i;
}

/**
 * Rows s … s+T−1 of one sequence. keys < 0: compute every row and keep it in
 * `record`. keys ≥ 0: the sequence's first `keys` key rows equal the
 * record's; rows within them whose q row equals the record's take the kept
 * pattern.
 */
function attendRows(
  head: CompactHead, layer: CompactLayer, s: number, T: number, record: PatternRecord | null, keys: number, arena: CompactArena | null,
): void {
  const { W3, WS, WV } = layer;
  const sj = head.scoreJob, vj = head.valueJob;
  const buf = sj.buf, live = sj.live, cut = softmaxCut(buf);
  const q = sj.q, sOff = head.sOff, nS = head.nS;
  sj.kOff = s * W3 + WS + sOff;
  vj.kOff = s * W3 + 2 * WS + head.vOff;
  const keep = record !== null && keys < 0;
  if (keep) record.rows = 0; // filled row by row below; rows past the old ones are no longer its
  for (let i = 0; i < T; i++) {
    const qi = (s + i) * W3 + sOff;
    let nLive: number;
    // Byte addresses of the pattern row and its live keys the value kernel reads.
    let pAt = 0, lAt = 0;
    if (record !== null && i < keys && equalRow(q, qi, record.q, i * nS, nS)) {
      nLive = record.count[i];
      if (arena) {
        // The kept row, in the arena's copy of the record.
        pAt = arena.patternAt + arena.bytes * i * record.C;
        lAt = arena.patternLiveAt + 4 * i * record.C;
      } else {
        // The value sum reads the kept row where it is.
        vj.buf = record.pattern[i];
        vj.live = record.live[i];
      }
    } else {
      sj.qOff = qi;
      sj.nKeys = i + 1;
      const nq = queryNonzeros(sj);
      const max = arena && nq * 2 < nS
        ? arena.ex.scores(arena.qkvAt + arena.bytes * qi, arena.qIdxAt, nq, arena.qkvAt + arena.bytes * sj.kOff, arena.bytes * W3, i + 1, sj.sqrtE, arena.bufAt)
        : scores(sj, nq);
      pAt = arena ? arena.bufAt : 0;
      lAt = arena ? arena.liveAt : 0;
      nLive = softmaxLive(buf, i + 1, max, live, cut);
      vj.buf = buf;
      vj.live = live;
      if (keep) {
        const pat = record.pattern[i], kept = record.live[i];
        record.count[i] = nLive;
        for (let t = 0; t < nLive; t++) {
          const j = live[t];
          kept[t] = j;
          pat[j] = buf[j];
        }
        for (let e = 0; e < nS; e++) {
          record.q[i * nS + e] = q[qi + e];
          record.k[i * nS + e] = q[qi + WS + e];
        }
        record.rows = i + 1;
      }
    }
    vj.zOff = (s + i) * WV + head.vOff;
    if (arena) arena.ex.values(pAt, lAt, nLive, arena.qkvAt + arena.bytes * vj.kOff, arena.bytes * W3, arena.zAt + arena.bytes * vj.zOff, head.nV);
    else weightedValues(vj, nLive);
  }
}

/** Whether a[x … x+n) and b[y … y+n) hold equal numbers (±0 alike: a zero's sign never reaches a score; NaN never equal). */
function equalRow(a: FloatArray, x: number, b: FloatArray, y: number, n: number): boolean {
  for (let e = 0; e < n; e++) if (a[x + e] !== b[y + e]) return false;
  return true;
}

/**
 * resid += z · W_O + b_O, row by row through a scratch row, at the written
 * coordinates only (elsewhere the general path adds an exact 0).
 */
