/**
 * The narrowed forward (compact.ts) in WebAssembly, one module per
 * precision: the q/k/v product of a layer, one query's sparse scores, one
 * query's value sum, the one-to-one W_O product added to the residual, and
 * the one-to-one W_U product. In JavaScript every float32 product and
 * partial sum is a float64 operation followed by a Math.fround (two
 * conversions), and every Float32Array element read or written a conversion
 * more; in float64 the value sum, most of a compiled head's time, runs one
 * column per scalar. Here they are float32 or float64 instructions, and the
 * value sum takes a SIMD vector of columns (four float32, two float64) per
 * lane group.
 *
 * The bits are the JavaScript loops' (compact.ts, prepare.ts's csrRow,
 * attentionScores.ts, attentionValues.ts), operation by operation:
 * - a score sums q[e]·k[j, e] over the query's nonzero coordinates, e
 *   ascending, from +0 (float32: each product and each partial sum rounded
 *   to float32); the sum is divided by √E in float64 (float32: then rounded);
 *   the maximum keeps a key only if it is greater (as `x > max`);
 * - a value lane sums p_j·v[j, e] over the listed keys in list order, from
 *   +0 (float32: each product and partial sum rounded), and skips a key of
 *   weight exactly 0, as allColumnsF32/allColumnsF64 do;
 * - where JavaScript computes in float64 and rounds only when it stores to a
 *   Float32Array (csrRow's `+=`, `0 + a * b`), the float32 kernels do the
 *   same float64 operations and then round: float32 operations would round
 *   the product first, and a product that underflows would lose its sign.
 *   In float64 those are the same operations without the rounding.
 *
 * The run's residual, q/k/v, z and logits, the score row, and the model's
 * products live in the precision's module memory during a run
 * (compactArena), so the kernels read them in place.
 */
import {
  ADD, BLOCK, br, brIf, bump, compiledOnce, countDown, ELSE, END, EQZ, F32, F64, f32c, f64c, funcBody, GE_S, get, I32_LOAD, i32 as i32c, I32, IF, LOOP,
  LT_S, MEMCPY, MUL, section, SELECT, set, SHL, simd, str, uleb, V128, V_LOAD, V_STORE, V_ZERO, vec, whileNonzero,
} from "../kernels/assembler.ts";
import type { FloatArray } from "../model/weights.ts";
import type { CompactModel, Direct } from "./compactModel.ts";
import type { Precision } from "./prepare.ts";
import { wasmAvailable } from "./wasm.ts";

const i32load = I32_LOAD(0);
const F32_DEMOTE = [0xb6], F64_PROMOTE = [0xbb], F64_ADD = [0xa0], F64_MUL = [0xa2], F64_DIV = [0xa3];
// v rows start at any float: unaligned loads.
const vload = (off: number): number[] => V_LOAD(off, 0);
const vstore = (off: number): number[] => V_STORE(off, 0);

/** The instructions of one precision, for kernels written once for both. */
interface Ops {
  /** Bytes per element, and their log₂ (the shift from an element index to a byte offset). */
  readonly bytes: 4 | 8;
  readonly shift: 2 | 3;
  readonly type: number;
  readonly load: (off?: number) => number[];
  readonly store: (off?: number) => number[];
  readonly add: number[];
  readonly mul: number[];
  readonly ne: number[];
  readonly gt: number[];
  readonly c: (x: number) => number[];
  /** Widen to float64, and round from float64 (float64: nothing). */
  readonly toF64: number[];
  readonly fromF64: number[];
  /** Elements per 128-bit vector, and the vector operations on them. */
  readonly lanes: 4 | 2;
  readonly splat: number[];
  readonly vadd: number[];
  readonly vmul: number[];
  readonly extract: (lane: number) => number[];
}

const OPS: Record<Precision, Ops> = {
  float32: {
    bytes: 4, shift: 2, type: F32, load: (off = 0) => [0x2a, 2, ...uleb(off)], store: (off = 0) => [0x38, 2, ...uleb(off)],
    add: [0x92], mul: [0x94], ne: [0x5c], gt: [0x5e], c: f32c, toF64: F64_PROMOTE, fromF64: F32_DEMOTE,
    lanes: 4, splat: simd(0x13), vadd: simd(0xe4), vmul: simd(0xe6), extract: (lane) => simd(0x1f, lane),
  },
  float64: {
    bytes: 8, shift: 3, type: F64, load: (off = 0) => [0x2b, 3, ...uleb(off)], store: (off = 0) => [0x39, 3, ...uleb(off)],
    add: F64_ADD, mul: F64_MUL, ne: [0x62], gt: [0x64], c: f64c, toF64: [], fromF64: [],
    lanes: 2, splat: simd(0x14), vadd: simd(0xf0), vmul: simd(0xf2), extract: (lane) => simd(0x21, lane),
  },
};

/** The byte offset of element `index` (on the stack): index shifted by the element size. */
const elementAt = (o: Ops): number[] => [...i32c(o.shift), ...SHL];

/** A float list's byte offset from the byte offset `t` into an int32 list of the same index (float32: the same). */
const floatOffset = (o: Ops, t: number): number[] => (o.shift === 2 ? get(t) : [...get(t), ...i32c(1), ...SHL]);

/**
 * scores(q, qIdx, nq, k, rowBytes, nKeys, sqrtE, buf) → max: buf[j] for
 * j < nKeys, the scaled dot product of q with key row j (at k + j·rowBytes)
 * over the nq coordinates listed at qIdx; returns their maximum (−∞ if none).
 */
function scoresBody(o: Ops): number[] {
  const [Q, QIDX, NQ, K, ROW, NK, SQ, BUF] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [IP, T, EB] = [8, 9, 10];
  const [S, X, MAX] = [11, 12, 13];
  const term = [
    ...get(IP), ...i32load, ...elementAt(o), ...set(EB),
    ...get(S), ...get(Q), ...get(EB), ...ADD, ...o.load(), ...get(K), ...get(EB), ...ADD, ...o.load(), ...o.mul, ...o.add, ...set(S),
    ...bump(IP, 4), ...countDown(T),
  ];
  const key = [
    ...o.c(0), ...set(S), ...get(QIDX), ...set(IP), ...get(NQ), ...set(T),
    ...whileNonzero(T, term),
    ...get(S), ...o.toF64, ...get(SQ), ...F64_DIV, ...o.fromF64, ...set(X),
    ...get(BUF), ...get(X), ...o.store(),
    ...get(X), ...get(MAX), ...get(X), ...get(MAX), ...o.gt, ...SELECT, ...set(MAX),
    ...get(K), ...get(ROW), ...ADD, ...set(K), ...bump(BUF, o.bytes), ...countDown(NK),
  ];
  const c = [...o.c(-Infinity), ...set(MAX), ...whileNonzero(NK, key), ...get(MAX), ...o.toF64];
  return funcBody([[3, I32], [3, o.type]], c);
}

/**
 * values(buf, live, n, v, rowBytes, z, cols): z[e] for e < cols, the sum of
 * buf[j]·v[j, e] (row j at v + j·rowBytes) over the keys j listed at live[0 … n),
 * skipping weights of 0. Eight columns a pass, then four, then (float64)
 * two, then the rest through one vector stored lane by lane (z is never
 * written past cols; v may be read up to 12 bytes past a row's last column
 * in float32, 8 in float64).
 */
function valuesBody(o: Ops): number[] {
  const [BUF, LIVE, N, V, ROW, Z, COLS] = [0, 1, 2, 3, 4, 5, 6];
  const [LP, T, J, RP] = [7, 8, 9, 10];
  const P = 11;
  const SP = 12, ACC = 13; // ACC … ACC+3: the sums of up to four vectors
  /** The sums of `n` vectors of columns from V into the accumulators. */
  const sum = (n: number): number[] => {
    const c: number[] = [];
    for (let a = 0; a < n; a++) c.push(...V_ZERO, ...set(ACC + a));
    c.push(...get(LIVE), ...set(LP), ...get(N), ...set(T));
    const key: number[] = [
      ...get(LP), ...i32load, ...set(J),
      ...get(BUF), ...get(J), ...elementAt(o), ...ADD, ...o.load(), ...set(P),
      ...get(P), ...o.c(0), ...o.ne, ...IF,
      ...get(P), ...o.splat, ...set(SP),
      ...get(V), ...get(J), ...get(ROW), ...MUL, ...ADD, ...set(RP),
    ];
    for (let a = 0; a < n; a++) key.push(...get(ACC + a), ...get(SP), ...get(RP), ...vload(16 * a), ...o.vmul, ...o.vadd, ...set(ACC + a));
    key.push(...END, ...bump(LP, 4), ...countDown(T));
    c.push(...whileNonzero(T, key));
    return c;
  };
  /** Columns `width` at a time (whole vectors): a loop when `repeat`, else once if that many are left. */
  const pass = (width: number, repeat: boolean): number[] => {
    const n = width / o.lanes;
    const body = [...sum(n)];
    for (let a = 0; a < n; a++) body.push(...get(Z), ...get(ACC + a), ...vstore(16 * a));
    body.push(...bump(V, 16 * n), ...bump(Z, 16 * n), ...get(COLS), ...i32c(-width), ...ADD, ...set(COLS));
    if (repeat) return [...BLOCK, ...LOOP, ...get(COLS), ...i32c(width), ...LT_S, ...brIf(1), ...body, ...br(0), ...END, ...END];
    return [...get(COLS), ...i32c(width), ...LT_S, ...EQZ, ...IF, ...body, ...END];
  };
  const c: number[] = [...pass(8, true), ...pass(4, false)];
  if (o.lanes === 2) c.push(...pass(2, false));
  // The last 1 … lanes−1 columns.
  c.push(...get(COLS), ...EQZ, ...EQZ, ...IF, ...sum(1));
  for (let lane = 0; lane < o.lanes - 1; lane++) {
    const store = [...get(Z), ...get(ACC), ...o.extract(lane), ...o.store(lane * o.bytes)];
    if (lane === 0) c.push(...store);
    else c.push(...get(COLS), ...i32c(lane + 1), ...LT_S, ...EQZ, ...IF, ...store, ...END);
  }
  c.push(...END);
  return funcBody([[4, I32], [1, o.type], [5, V128]], c);
}

/** out[0 … n) = 0, with locals p and t as scratch. */
const zeroRow = (o: Ops, out: number, n: number, p: number, t: number): number[] =>
  [...get(out), ...set(p), ...get(n), ...set(t), ...whileNonzero(t, [...get(p), ...o.c(0), ...o.store(), ...bump(p, o.bytes), ...countDown(t)])];

/** out[j] += bias[j] for j < n when the address bias ≥ 0, with locals p, q and r as scratch. */
const addBiasRow = (o: Ops, out: number, bias: number, n: number, p: number, q: number, r: number): number[] => [
  ...get(bias), ...i32c(0), ...GE_S, ...IF,
  ...get(out), ...set(p), ...get(bias), ...set(q), ...get(n), ...set(r),
  ...whileNonzero(r, [...get(p), ...get(p), ...o.load(), ...get(q), ...o.load(), ...o.add, ...o.store(), ...bump(p, o.bytes), ...bump(q, o.bytes), ...countDown(r)]),
  ...END,
];

/** for (t = 0; t < 4·n; t += 4 inside body) body: t counts the bytes of an int32 list of length n. */
const overList = (t: number, n: number, body: number[]): number[] =>
  [...i32c(0), ...set(t), ...BLOCK, ...LOOP, ...get(t), ...get(n), ...i32c(2), ...SHL, ...GE_S, ...brIf(1), ...body, ...br(0), ...END, ...END];

/** Move the row locals on: rowIn += rowBytes, out += width elements, then count n down. */
const nextRow = (o: Ops, rowIn: number, rowBytes: number, out: number, width: number, n: number): number[] =>
  [...get(rowIn), ...get(rowBytes), ...ADD, ...set(rowIn), ...get(out), ...get(width), ...elementAt(o), ...ADD, ...set(out), ...countDown(n)];

/**
 * JavaScript's `0 + a * b` of two elements, as stored to the precision's
 * array: in float64, then rounded for float32 (the product of two float32s
 * is exact in float64).
 */
const storedProduct = (o: Ops, a: number[], b: number[]): number[] => [...f64c(0), ...a, ...o.toF64, ...b, ...o.toF64, ...F64_MUL, ...F64_ADD, ...o.fromF64];

/**
 * addDirect(z, WV, cols, vals, N, resid, rowBytes): for each of N rows and
 * each z column t whose cols[t] ≥ 0, resid[cols[t]] += 0 + z[t]·vals[t]
 * (float32: the product term rounded first) — compact.ts's
 * addOutputDirectF32 and addOutputDirectF64.
 */
function addDirectBody(o: Ops): number[] {
  const [Z, WV, COLS, VALS, N, RESID, ROWB] = [0, 1, 2, 3, 4, 5, 6];
  const [CP, VP, T, C, RP] = [7, 8, 9, 10, 11];
  const term = [
    ...get(CP), ...i32load, ...set(C),
    ...get(C), ...i32c(0), ...GE_S, ...IF,
    ...get(RESID), ...get(C), ...elementAt(o), ...ADD, ...set(RP),
    ...get(RP), ...get(RP), ...o.load(), ...storedProduct(o, [...get(Z), ...o.load()], [...get(VP), ...o.load()]), ...o.add, ...o.store(),
    ...END,
    ...bump(CP, 4), ...bump(VP, o.bytes), ...bump(Z, o.bytes), ...countDown(T),
  ];
  const row = [...get(COLS), ...set(CP), ...get(VALS), ...set(VP), ...get(WV), ...set(T), ...whileNonzero(T, term), ...get(RESID), ...get(ROWB), ...ADD, ...set(RESID), ...countDown(N)];
  return funcBody([[5, I32]], whileNonzero(N, row));
}

/**
 * unembedDirect(resid, rowBytes, N, reads, cols, vals, n, out, Vo, bias):
 * per row, out[0 … Vo) = 0, then out[cols[t]] = 0 + resid[reads[t]]·vals[t]
 * for t < n, then + bias[j] where bias ≥ 0 — compact.ts's unembedDirect.
 */
function unembedDirectBody(o: Ops): number[] {
  const [RESID, ROWB, N, READS, COLS, VALS, NR, OUT, VO, BIAS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [T, P, Q, R] = [10, 11, 12, 13];
  const term = [
    ...get(OUT), ...get(COLS), ...get(T), ...ADD, ...i32load, ...elementAt(o), ...ADD,
    ...storedProduct(
      o,
      [...get(RESID), ...get(READS), ...get(T), ...ADD, ...i32load, ...elementAt(o), ...ADD, ...o.load()],
      [...get(VALS), ...floatOffset(o, T), ...ADD, ...o.load()],
    ),
    ...o.store(), ...bump(T, 4),
  ];
  // T: the byte offset into the two int32 lists (and, scaled, into vals).
  const row = [...zeroRow(o, OUT, VO, P, T), ...overList(T, NR, term), ...addBiasRow(o, OUT, BIAS, VO, P, Q, R), ...nextRow(o, RESID, ROWB, OUT, VO, N)];
  return funcBody([[4, I32]], whileNonzero(N, row));
}

/**
 * project(resid, rowBytes, N, reads, nReads, rowPtr, colIdx, vals, out, W, bias):
 * per row, out[0 … W) = 0; then for each listed coordinate d (ascending)
 * whose x = resid[d] is not ±0, out[colIdx[p]] += x·vals[p] over d's CSR
 * entries p — the product exact and the sum rounded in float64 (float32:
 * then to float32, as a Float32Array's `+=` does); then + bias[j] where
 * bias ≥ 0. compact.ts's gatherListed and csrRow (prepare.ts).
 */
function projectBody(o: Ops): number[] {
  const [RESID, ROWB, N, READS, NR, ROWPTR, COLIDX, VALS, OUT, W, BIAS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [T, D, P, P1, O, Q, R] = [11, 12, 13, 14, 15, 16, 17];
  const X = 18;
  const entry = [
    ...get(OUT), ...get(COLIDX), ...get(P), ...ADD, ...i32load, ...elementAt(o), ...ADD, ...set(O),
    ...get(O), ...get(O), ...o.load(), ...o.toF64, ...get(X), ...o.toF64, ...get(VALS), ...floatOffset(o, P), ...ADD, ...o.load(), ...o.toF64, ...F64_MUL, ...F64_ADD,
    ...o.fromF64, ...o.store(), ...bump(P, 4),
  ];
  const coordinate = [
    ...get(READS), ...get(T), ...ADD, ...i32load, ...set(D),
    ...get(RESID), ...get(D), ...elementAt(o), ...ADD, ...o.load(), ...set(X),
    ...get(X), ...o.c(0), ...o.ne, ...IF,
    // P and P1: byte offsets of d's entries in colIdx (scaled, in vals).
    ...get(ROWPTR), ...get(D), ...i32c(2), ...SHL, ...ADD, ...i32load, ...i32c(2), ...SHL, ...set(P),
    ...get(ROWPTR), ...get(D), ...i32c(2), ...SHL, ...ADD, ...I32_LOAD(4), ...i32c(2), ...SHL, ...set(P1),
    ...BLOCK, ...LOOP, ...get(P), ...get(P1), ...GE_S, ...brIf(1), ...entry, ...br(0), ...END, ...END,
    ...END,
    ...bump(T, 4),
  ];
  const row = [...zeroRow(o, OUT, W, O, R), ...overList(T, NR, coordinate), ...addBiasRow(o, OUT, BIAS, W, O, Q, R), ...nextRow(o, RESID, ROWB, OUT, W, N)];
  return funcBody([[7, I32], [1, o.type]], whileNonzero(N, row));
}

/**
 * embedRows(keys, N, tResid, R, later, D, tQkv, W3, resid, qkv): row i of
 * resid and of qkv from row keys[i] of the first-layer table (compact.ts):
 * its W3 q/k/v values, and its R residual values — the whole row when R = D
 * (later < 0), else at the coordinates listed at `later`. Bytes are copied
 * as they are.
 */
function embedRowsBody(o: Ops): number[] {
  const [KEYS, N, TRESID, R, LATER, D, TQKV, W3, RESID, QKV] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [KEY, T, SRC] = [10, 11, 12];
  const row = [
    ...get(KEYS), ...i32load, ...set(KEY),
    ...get(LATER), ...i32c(0), ...LT_S, ...IF,
    ...get(RESID), ...get(TRESID), ...get(KEY), ...get(R), ...MUL, ...elementAt(o), ...ADD, ...get(D), ...elementAt(o), ...MEMCPY,
    ...ELSE,
    ...get(TRESID), ...get(KEY), ...get(R), ...MUL, ...elementAt(o), ...ADD, ...set(SRC),
    ...overList(T, R, [
      ...get(RESID), ...get(LATER), ...get(T), ...ADD, ...i32load, ...elementAt(o), ...ADD,
      ...get(SRC), ...floatOffset(o, T), ...ADD, ...o.load(), ...o.store(), ...bump(T, 4),
    ]),
    ...END,
    ...get(QKV), ...get(TQKV), ...get(KEY), ...get(W3), ...MUL, ...elementAt(o), ...ADD, ...get(W3), ...elementAt(o), ...MEMCPY,
    ...bump(KEYS, 4),
    ...get(RESID), ...get(D), ...elementAt(o), ...ADD, ...set(RESID),
    ...get(QKV), ...get(W3), ...elementAt(o), ...ADD, ...set(QKV),
    ...countDown(N),
  ];
  return funcBody([[3, I32]], whileNonzero(N, row));
}

function moduleBytes(o: Ops): Uint8Array<ArrayBuffer> {
  const scoresType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [F64], [I32]]), ...vec([[F64]])];
  const valuesType = [0x60, ...vec(Array.from({ length: 7 }, () => [I32])), 0];
  const unembedType = [0x60, ...vec(Array.from({ length: 10 }, () => [I32])), 0];
  const projectType = [0x60, ...vec(Array.from({ length: 11 }, () => [I32])), 0];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([scoresType, valuesType, unembedType, projectType])),
    ...section(2, vec([[...str("env"), ...str("mem"), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0], [1], [1], [2], [3], [2]])),
    ...section(7, vec([
      [...str("scores"), 0x00, 0], [...str("values"), 0x00, 1], [...str("addDirect"), 0x00, 2], [...str("unembedDirect"), 0x00, 3], [...str("project"), 0x00, 4],
      [...str("embedRows"), 0x00, 5],
    ])),
    ...section(10, vec([scoresBody(o), valuesBody(o), addDirectBody(o), unembedDirectBody(o), projectBody(o), embedRowsBody(o)])),
  ]);
}

/** The compiled module of each precision, or null where WebAssembly SIMD is off or unavailable. */
const compactModule: Record<Precision, () => WebAssembly.Module | null> = {
  float32: compiledOnce(() => moduleBytes(OPS.float32)),
  float64: compiledOnce(() => moduleBytes(OPS.float64)),
};

// ------------------------------------------------------------ runtime

interface Exports {
  scores(q: number, qIdx: number, nq: number, k: number, rowBytes: number, nKeys: number, sqrtE: number, buf: number): number;
  values(buf: number, live: number, n: number, v: number, rowBytes: number, z: number, cols: number): void;
  addDirect(z: number, WV: number, cols: number, vals: number, N: number, resid: number, rowBytes: number): void;
  unembedDirect(resid: number, rowBytes: number, N: number, reads: number, cols: number, vals: number, n: number, out: number, Vo: number, bias: number): void;
  project(
    resid: number, rowBytes: number, N: number, reads: number, nReads: number, rowPtr: number, colIdx: number, vals: number, out: number, W: number, bias: number,
  ): void;
  embedRows(keys: number, N: number, tResid: number, R: number, later: number, D: number, tQkv: number, W3: number, resid: number, qkv: number): void;
}

/**
 * compact.ts's first-layer table as the arena needs it: its residual rows
 * (R values each) and q/k/v rows, the coordinates the residual values go
 * to, and a version that changes whenever rows are added.
 */
export interface TableSource {
  readonly R: number;
  readonly resid: FloatArray;
  readonly qkv: FloatArray;
  readonly later: Int32Array;
  readonly version: number;
}

/** Byte addresses of a layer's q/k/v product in the arena: its read coordinates, its CSR arrays and its bias (−1 without one). */
interface ProjectAt {
  readonly reads: number;
  readonly rowPtr: number;
  readonly colIdx: number;
  readonly vals: number;
  readonly bias: number;
}

/** Byte addresses of a Direct product's columns and weights (and of the read coordinates, for W_U) in the arena. */
interface DirectAt {
  readonly cols: number;
  readonly vals: number;
  readonly reads: number;
}

/**
 * One run's arrays in its precision's module memory: the first-layer
 * table's copy (first, so that it stays put from run to run) and one table
 * key per row; the residual, q/k/v rows, z rows and logits; the score row,
 * its live keys and the query's nonzero coordinates; room for one head's
 * kept pattern rows (compactAttention.ts copies a record there before the
 * rows that reuse it); and the model's q/k/v products and one-to-one W_O
 * and W_U products (compactModel.ts's CompactLayer and Direct), copied in
 * for the run. Views are valid until the next compactArena call of the
 * same precision (which may grow the memory); the *At fields are byte
 * addresses, which the kernels take.
 */
export interface CompactArena {
  /** Bytes per float element (4 or 8): the kernels take row strides and offsets in bytes. */
  readonly bytes: number;
  readonly resid: FloatArray;
  readonly qkv: FloatArray;
  readonly z: FloatArray;
  readonly out: FloatArray;
  readonly buf: FloatArray;
  readonly live: Int32Array;
  readonly qIdx: Int32Array;
  /** Pattern rows and their live keys, when the run keeps records. */
  readonly pattern: FloatArray;
  readonly patternLive: Int32Array;
  readonly residAt: number;
  readonly qkvAt: number;
  readonly zAt: number;
  readonly outAt: number;
  readonly bufAt: number;
  readonly liveAt: number;
  readonly qIdxAt: number;
  readonly patternAt: number;
  readonly patternLiveAt: number;
  /** Per layer, its oDirect's arrays (null without one), and its q/k/v product's. */
  readonly oDirect: readonly (DirectAt | null)[];
  readonly project: readonly ProjectAt[];
  /** The unembedding's Direct arrays, and b_U's address (−1 without one). */
  readonly unembedDirect: DirectAt | null;
  readonly biasAt: number;
  /** The first-layer table's copy (at address 0, kept across runs while the same table is in use), and one key per row. */
  readonly tableResidAt: number;
  readonly tableQkvAt: number;
  readonly laterAt: number;
  readonly keys: Int32Array;
  readonly keysAt: number;
  readonly ex: Exports;
  readonly precision: Precision;
}

/** One precision's instance: its memory, its kernels, and the table whose copy its memory holds (at address 0) with its version then. */
interface Instance {
  readonly memory: WebAssembly.Memory;
  readonly ex: Exports;
  tableHeld: { source: TableSource; version: number } | null;
}

const instances: Partial<Record<Precision, Instance>> = {};

/** Switch for tests and benchmarks: the narrowed forward's kernels in WebAssembly (results never depend on it). */
export const compactWasmSettings = { enabled: true };

/** The float array type of a precision, over part of a buffer (byte offset, elements). */
function floatView(precision: Precision, b: ArrayBuffer, at: number, n: number): FloatArray {
  return precision === "float32" ? new Float32Array(b, at, n) : new Float64Array(b, at, n);
}

/**
 * The arena of a run of `cm` (in the model's precision) over N rows
 * (maxKeys keys at most; recordElements: room for a head's kept pattern
 * rows), or null where WebAssembly SIMD is unavailable or switched off.
 */
export function compactArena(cm: CompactModel, N: number, maxKeys: number, recordElements: number, table: TableSource | null): CompactArena | null {
  if (!compactWasmSettings.enabled || !wasmAvailable()) return null;
  const precision = cm.model.precision;
  let inst = instances[precision];
  if (!inst) {
    const module = compactModule[precision]();
    if (!module) return null;
    const memory = new WebAssembly.Memory({ initial: 1 });
    inst = instances[precision] = { memory, ex: new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as Exports, tableHeld: null };
  }
  const F = OPS[precision].bytes;
  const { d_model: D, d_vocab_out: Vo } = cm.model.config;
  // Regions in bytes, each on a 16-byte boundary: n floats, or n int32s.
  let end = 0;
  const region = (n: number, bytes: number): number => {
    const at = end;
    end += Math.ceil((n * bytes) / 16) * 16;
    return at;
  };
  const floats = (n: number): number => region(n, F), ints = (n: number): number => region(n, 4);
  // The table first, so that its copy stays where it is from one run to the next.
  const tableResidAt = floats(table ? table.resid.length : 0), tableQkvAt = floats(table ? table.qkv.length : 0);
  const laterAt = ints(table ? table.later.length : 0);
  const at = {
    keys: ints(table ? N : 0),
    resid: floats(N * D), qkv: floats(N * cm.maxWidth), z: floats(N * cm.maxWV), out: floats(N * Vo),
    buf: floats(maxKeys), live: ints(maxKeys), qIdx: ints(cm.maxS), pattern: floats(recordElements), patternLive: ints(recordElements),
  };
  const direct = (d: Direct | null, reads: Int32Array | null): { d: Direct; at: DirectAt } | null =>
    d && { d, at: { cols: ints(d.cols.length), vals: floats(d.vals.length), reads: reads ? ints(reads.length) : -1 } };
  const oDirect = cm.layers.map((l) => direct(l.oDirect, null));
  const project = cm.layers.map((l): ProjectAt => ({
    reads: ints(l.reads.length), rowPtr: ints(l.qkv.rowPtr.length), colIdx: ints(l.qkv.colIdx.length), vals: floats(l.qkv.vals.length),
    bias: l.bqkv ? floats(l.W3) : -1,
  }));
  const unembed = direct(cm.unembedDirect, cm.unembedReads);
  const biasAt = unembed && cm.bU ? floats(Vo) : -1;
  // 16 bytes of slack: the value sum may read up to 12 bytes (float32; 8 in float64) past the last row.
  const bytes = end + 16;
  const mem = inst.memory;
  if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
  const b = mem.buffer;
  const f = (r: number, n: number): FloatArray => floatView(precision, b, r, n);
  const i = (r: number, n: number): Int32Array => new Int32Array(b, r, n);
  for (const x of [...oDirect, unembed]) {
    if (!x) continue;
    i(x.at.cols, x.d.cols.length).set(x.d.cols);
    f(x.at.vals, x.d.vals.length).set(x.d.vals);
  }
  if (unembed) i(unembed.at.reads, cm.unembedReads.length).set(cm.unembedReads);
  if (table) i(laterAt, table.later.length).set(table.later);
  if (inst.tableHeld && inst.tableHeld.source !== table) inst.tableHeld = null;
  cm.layers.forEach((l, k) => {
    const p = project[k];
    i(p.reads, l.reads.length).set(l.reads);
    i(p.rowPtr, l.qkv.rowPtr.length).set(l.qkv.rowPtr);
    i(p.colIdx, l.qkv.colIdx.length).set(l.qkv.colIdx);
    f(p.vals, l.qkv.vals.length).set(l.qkv.vals);
    if (l.bqkv) f(p.bias, l.W3).set(l.bqkv);
  });
  if (biasAt >= 0) f(biasAt, Vo).set(cm.bU!);
  return {
    bytes: F, precision,
    resid: f(at.resid, N * D), qkv: f(at.qkv, N * cm.maxWidth), z: f(at.z, N * cm.maxWV), out: f(at.out, N * Vo),
    buf: f(at.buf, maxKeys), live: i(at.live, maxKeys), qIdx: i(at.qIdx, cm.maxS),
    pattern: f(at.pattern, recordElements), patternLive: i(at.patternLive, recordElements),
    residAt: at.resid, qkvAt: at.qkv, zAt: at.z, outAt: at.out, bufAt: at.buf, liveAt: at.live, qIdxAt: at.qIdx,
    patternAt: at.pattern, patternLiveAt: at.patternLive,
    oDirect: oDirect.map((x) => x?.at ?? null), project, unembedDirect: unembed?.at ?? null, biasAt,
    tableResidAt, tableQkvAt, laterAt, keys: i(at.keys, table ? N : 0), keysAt: at.keys,
    ex: inst.ex,
  };
}

/** Bring the arena's copy of `table` up to date (a copy of the whole table when it has rows the copy lacks). */
export function syncTable(a: CompactArena, table: TableSource): void {
  const inst = instances[a.precision]!;
  if (inst.tableHeld && inst.tableHeld.source === table && inst.tableHeld.version === table.version) return;
  const b = inst.memory.buffer;
  floatView(a.precision, b, a.tableResidAt, table.resid.length).set(table.resid);
  floatView(a.precision, b, a.tableQkvAt, table.qkv.length).set(table.qkv);
  inst.tableHeld = { source: table, version: table.version };
}

/** Fill every arena memory with `value` in its precision (tests: a value a run reads before writing it shows up in the logits). */
export function fillArena(value: number): void {
  for (const precision of ["float32", "float64"] as const) {
    const inst = instances[precision];
    if (!inst) continue;
    const b = inst.memory.buffer;
    floatView(precision, b, 0, b.byteLength / OPS[precision].bytes).fill(value);
    inst.tableHeld = null;
  }
}
