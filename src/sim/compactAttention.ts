/**
 * Attention of the narrowed forward (compact.ts): per head, every query of
 * every sequence of a batch through the shared kernels (attentionScores.ts,
 * softmax.ts, attentionValues.ts), reusing pattern rows across sequences
 * where a head's inputs repeat.
 */
import type { FloatArray } from "../model/weights.ts";
import { reserveKeys } from "./attention.ts";
import { queryNonzeros, scores } from "./attentionScores.ts";
import { weightedValues } from "./attentionValues.ts";
import type { CompactHead, CompactLayer, CompactModel } from "./compactModel.ts";
import { softmaxCut, softmaxLive } from "./softmax.ts";

/** Grow the head's scratch to maxKeys keys (the value job shares the score job's). */
export function reserveHead(head: CompactHead, maxKeys: number): void {
  const s = head.scoreJob, vj = head.valueJob;
  reserveKeys(s, maxKeys);
  vj.buf = s.buf;
  vj.live = s.live;
}

/** Longest sequences whose attention patterns are kept for reuse (the record is keys² long). */
export const SHARE_MAX_KEYS = 512;

/** The attention pattern rows of one sequence, kept so that other sequences can reuse them. */
export interface SharedPatterns {
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
export function sharedPatterns(cm: CompactModel, maxKeys: number): SharedPatterns {
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
export function attendHead(
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
