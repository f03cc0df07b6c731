/**
 * The float32 narrowed forward (compact.ts) in WebAssembly: the q/k/v
 * product of a layer, one query's sparse scores, one query's value sum, the
 * one-to-one W_O product added to the residual, and the one-to-one W_U
 * product. In JavaScript every float32 product and partial sum is a float64
 * operation followed by a Math.fround (two conversions), and every
 * Float32Array element read or written a conversion more; those were most
 * of the float32 narrowed forward's time. Here they are float32
 * instructions, and the value sum takes four columns per SIMD lane group.
 *
 * The bits are the JavaScript loops' (compact.ts, prepare.ts's csrRow,
 * attentionScores.ts, attentionValues.ts), operation by operation:
 * - a score sums q[e]·k[j, e] over the query's nonzero coordinates, e
 *   ascending, from +0, each product and each partial sum rounded to
 *   float32; the sum is divided by √E in float64 and rounded to float32;
 *   the maximum keeps a key only if it is greater (as `x > max`);
 * - a value lane sums p_j·v[j, e] over the listed keys in list order, from
 *   +0, each product and partial sum rounded to float32, and skips a key of
 *   weight exactly 0, as allColumnsF32 does;
 * - where JavaScript computes in float64 and rounds only when it stores to a
 *   Float32Array (csrRow's `+=`, `0 + a * b`), the kernels do the same
 *   float64 operations and then round: float32 operations would round the
 *   product first, and a product that underflows would lose its sign.
 *
 * The run's residual, q/k/v, z and logits, the score row, and the model's
 * products live in this module's memory during a float32 run
 * (compactArena), so the kernels read them in place.
 */
import {
  ADD, BLOCK, br, brIf, bump, compiledOnce, countDown, ELSE, END, EQZ, F32_LOAD, f32c, f64c, funcBody, GE_S, get, I32_LOAD, i32 as i32c, I32, IF, LOOP, LT_S,
  MEMCPY, MUL, section, set, SHL, simd, uleb, V128, V_LOAD, V_STORE, V_ZERO, vec, whileNonzero,
} from "../kernels/assembler.ts";
import type { FloatArray } from "../model/weights.ts";
import type { CompactModel, Direct } from "./compactModel.ts";
import { wasmAvailable } from "./wasm.ts";

const F32 = 0x7d, F64 = 0x7c;
const f32store = (off = 0): number[] => [0x38, 2, ...uleb(off)];
const i32load = I32_LOAD(0);
const F32_ADD = [0x92], F32_MUL = [0x94], F32_NE = [0x5c], F32_GT = [0x5e], F32_DEMOTE = [0xb6], F64_PROMOTE = [0xbb], F64_DIV = [0xa3];
const F64_ADD = [0xa0], F64_MUL = [0xa2];
const SELECT = [0x1b];
const F32X4_SPLAT = simd(0x13), F32X4_ADD = simd(0xe4), F32X4_MUL = simd(0xe6);
const F32X4_EXTRACT = (lane: number): number[] => simd(0x1f, lane);
// v rows start at any float: unaligned loads.
const vload = (off: number): number[] => V_LOAD(off, 0);
const vstore = (off: number): number[] => V_STORE(off, 0);

/**
 * scores(q, qIdx, nq, k, rowBytes, nKeys, sqrtE, buf) → max: buf[j] for
 * j < nKeys, the scaled dot product of q with key row j (at k + j·rowBytes)
 * over the nq coordinates listed at qIdx; returns their maximum (−∞ if none).
 */
function scoresBody(): number[] {
  const [Q, QIDX, NQ, K, ROW, NK, SQ, BUF] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [IP, T, EB] = [8, 9, 10];
  const [S, X, MAX] = [11, 12, 13];
  const term = [
    ...get(IP), ...i32load, ...i32c(2), ...SHL, ...set(EB),
    ...get(S), ...get(Q), ...get(EB), ...ADD, ...F32_LOAD(0), ...get(K), ...get(EB), ...ADD, ...F32_LOAD(0), ...F32_MUL, ...F32_ADD, ...set(S),
    ...bump(IP, 4), ...countDown(T),
  ];
  const key = [
    ...f32c(0), ...set(S), ...get(QIDX), ...set(IP), ...get(NQ), ...set(T),
    ...whileNonzero(T, term),
    ...get(S), ...F64_PROMOTE, ...get(SQ), ...F64_DIV, ...F32_DEMOTE, ...set(X),
    ...get(BUF), ...get(X), ...f32store(),
    ...get(X), ...get(MAX), ...get(X), ...get(MAX), ...F32_GT, ...SELECT, ...set(MAX),
    ...get(K), ...get(ROW), ...ADD, ...set(K), ...bump(BUF, 4), ...countDown(NK),
  ];
  const c = [...f32c(-Infinity), ...set(MAX), ...whileNonzero(NK, key), ...get(MAX), ...F64_PROMOTE];
  return funcBody([[3, I32], [3, F32]], c);
}

/**
 * values(buf, live, n, v, rowBytes, z, cols): z[e] for e < cols, the sum of
 * buf[j]·v[j, e] (row j at v + j·rowBytes) over the keys j listed at live[0 … n),
 * skipping weights of 0. Eight columns a pass, then four, then the last one
 * to three through one vector stored lane by lane (z is never written past
 * cols; v may be read up to 12 bytes past a row's last column).
 */
function valuesBody(): number[] {
  const [BUF, LIVE, N, V, ROW, Z, COLS] = [0, 1, 2, 3, 4, 5, 6];
  const [LP, T, J, RP] = [7, 8, 9, 10];
  const P = 11;
  const [A0, A1, SP] = [12, 13, 14];
  const acc = [A0, A1];
  /** The sums of `n` vectors of columns from V into acc. */
  const sum = (n: number): number[] => {
    const c: number[] = [];
    for (let a = 0; a < n; a++) c.push(...V_ZERO, ...set(acc[a]));
    c.push(...get(LIVE), ...set(LP), ...get(N), ...set(T));
    const key: number[] = [
      ...get(LP), ...i32load, ...set(J),
      ...get(BUF), ...get(J), ...i32c(2), ...SHL, ...ADD, ...F32_LOAD(0), ...set(P),
      ...get(P), ...f32c(0), ...F32_NE, ...IF,
      ...get(P), ...F32X4_SPLAT, ...set(SP),
      ...get(V), ...get(J), ...get(ROW), ...MUL, ...ADD, ...set(RP),
    ];
    for (let a = 0; a < n; a++) key.push(...get(acc[a]), ...get(SP), ...get(RP), ...vload(16 * a), ...F32X4_MUL, ...F32X4_ADD, ...set(acc[a]));
    key.push(...END, ...bump(LP, 4), ...countDown(T));
    c.push(...whileNonzero(T, key));
    return c;
  };
  const c: number[] = [];
  // Eight columns a pass.
  c.push(...BLOCK, ...LOOP, ...get(COLS), ...i32c(8), ...LT_S, ...brIf(1));
  c.push(...sum(2), ...get(Z), ...get(A0), ...vstore(0), ...get(Z), ...get(A1), ...vstore(16));
  c.push(...bump(V, 32), ...bump(Z, 32), ...get(COLS), ...i32c(-8), ...ADD, ...set(COLS), ...br(0), ...END, ...END);
  // Four.
  c.push(...get(COLS), ...i32c(4), ...LT_S, ...EQZ, ...IF);
  c.push(...sum(1), ...get(Z), ...get(A0), ...vstore(0));
  c.push(...bump(V, 16), ...bump(Z, 16), ...get(COLS), ...i32c(-4), ...ADD, ...set(COLS), ...END);
  // One to three.
  c.push(...get(COLS), ...EQZ, ...EQZ, ...IF, ...sum(1));
  c.push(...get(Z), ...get(A0), ...F32X4_EXTRACT(0), ...f32store(0));
  c.push(...get(COLS), ...i32c(2), ...LT_S, ...EQZ, ...IF, ...get(Z), ...get(A0), ...F32X4_EXTRACT(1), ...f32store(4), ...END);
  c.push(...get(COLS), ...i32c(3), ...LT_S, ...EQZ, ...IF, ...get(Z), ...get(A0), ...F32X4_EXTRACT(2), ...f32store(8), ...END);
  c.push(...END);
  return funcBody([[4, I32], [1, F32], [3, V128]], c);
}

/** out[0 … n) = 0 (float32), with locals p and t as scratch. */
const zeroRow = (out: number, n: number, p: number, t: number): number[] =>
  [...get(out), ...set(p), ...get(n), ...set(t), ...whileNonzero(t, [...get(p), ...f32c(0), ...f32store(), ...bump(p, 4), ...countDown(t)])];

/** out[j] += bias[j] for j < n (float32) when the address bias ≥ 0, with locals p, q and r as scratch. */
const addBiasRow = (out: number, bias: number, n: number, p: number, q: number, r: number): number[] => [
  ...get(bias), ...i32c(0), ...GE_S, ...IF,
  ...get(out), ...set(p), ...get(bias), ...set(q), ...get(n), ...set(r),
  ...whileNonzero(r, [...get(p), ...get(p), ...F32_LOAD(0), ...get(q), ...F32_LOAD(0), ...F32_ADD, ...f32store(), ...bump(p, 4), ...bump(q, 4), ...countDown(r)]),
  ...END,
];

/** for (t = 0; t < 4·n; t += 4 inside body) body: t counts the bytes of an element list of length n. */
const overList = (t: number, n: number, body: number[]): number[] =>
  [...i32c(0), ...set(t), ...BLOCK, ...LOOP, ...get(t), ...get(n), ...i32c(2), ...SHL, ...GE_S, ...brIf(1), ...body, ...br(0), ...END, ...END];

/** Move the row locals on: rowIn += rowBytes, out += 4·width, then count n down. */
const nextRow = (rowIn: number, rowBytes: number, out: number, width: number, n: number): number[] =>
  [...get(rowIn), ...get(rowBytes), ...ADD, ...set(rowIn), ...get(out), ...get(width), ...i32c(2), ...SHL, ...ADD, ...set(out), ...countDown(n)];

/** The float32 of float64 0 + a·b with a, b float32 (the product exact in float64): JavaScript's `0 + a * b` stored to a Float32Array. */
const roundedProduct = (a: number[], b: number[]): number[] => [...f64c(0), ...a, ...F64_PROMOTE, ...b, ...F64_PROMOTE, ...F64_MUL, ...F64_ADD, ...F32_DEMOTE];

/**
 * addDirect(z, WV, cols, vals, N, resid, rowBytes): for each of N rows and
 * each z column t whose cols[t] ≥ 0, resid[cols[t]] += (0 + z[t]·vals[t])
 * rounded to float32 — compact.ts's addOutputDirectF32.
 */
function addDirectBody(): number[] {
  const [Z, WV, COLS, VALS, N, RESID, ROWB] = [0, 1, 2, 3, 4, 5, 6];
  const [CP, VP, T, C, RP] = [7, 8, 9, 10, 11];
  const term = [
    ...get(CP), ...i32load, ...set(C),
    ...get(C), ...i32c(0), ...GE_S, ...IF,
    ...get(RESID), ...get(C), ...i32c(2), ...SHL, ...ADD, ...set(RP),
    ...get(RP), ...get(RP), ...F32_LOAD(0), ...roundedProduct([...get(Z), ...F32_LOAD(0)], [...get(VP), ...F32_LOAD(0)]), ...F32_ADD, ...f32store(),
    ...END,
    ...bump(CP, 4), ...bump(VP, 4), ...bump(Z, 4), ...countDown(T),
  ];
  const row = [...get(COLS), ...set(CP), ...get(VALS), ...set(VP), ...get(WV), ...set(T), ...whileNonzero(T, term), ...get(RESID), ...get(ROWB), ...ADD, ...set(RESID), ...countDown(N)];
  return funcBody([[5, I32]], whileNonzero(N, row));
}

/**
 * unembedDirect(resid, rowBytes, N, reads, cols, vals, n, out, Vo, bias):
 * per row, out[0 … Vo) = 0, then out[cols[t]] = 0 + resid[reads[t]]·vals[t]
 * (rounded to float32) for t < n, then + bias[j] where bias ≥ 0 —
 * compact.ts's unembedDirect in float32.
 */
function unembedDirectBody(): number[] {
  const [RESID, ROWB, N, READS, COLS, VALS, NR, OUT, VO, BIAS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [T, P, Q, R] = [10, 11, 12, 13];
  const term = [
    ...get(OUT), ...get(COLS), ...get(T), ...ADD, ...i32load, ...i32c(2), ...SHL, ...ADD,
    ...roundedProduct([...get(RESID), ...get(READS), ...get(T), ...ADD, ...i32load, ...i32c(2), ...SHL, ...ADD, ...F32_LOAD(0)], [...get(VALS), ...get(T), ...ADD, ...F32_LOAD(0)]),
    ...f32store(), ...bump(T, 4),
  ];
  // The three lists are read at the same byte offset T.
  const row = [...zeroRow(OUT, VO, P, T), ...overList(T, NR, term), ...addBiasRow(OUT, BIAS, VO, P, Q, R), ...nextRow(RESID, ROWB, OUT, VO, N)];
  return funcBody([[4, I32]], whileNonzero(N, row));
}

/**
 * project(resid, rowBytes, N, reads, nReads, rowPtr, colIdx, vals, out, W, bias):
 * per row, out[0 … W) = 0; then for each listed coordinate d (ascending)
 * whose x = resid[d] is not ±0, out[colIdx[p]] += x·vals[p] over d's CSR
 * entries p — the product exact and the sum rounded in float64, then to
 * float32, as a Float32Array's `+=` does; then + bias[j] where bias ≥ 0.
 * compact.ts's gatherListed and csrRow (prepare.ts) in float32.
 */
function projectBody(): number[] {
  const [RESID, ROWB, N, READS, NR, ROWPTR, COLIDX, VALS, OUT, W, BIAS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [T, D, P, P1, O, Q, R] = [11, 12, 13, 14, 15, 16, 17];
  const X = 18;
  const entry = [
    ...get(OUT), ...get(COLIDX), ...get(P), ...ADD, ...i32load, ...i32c(2), ...SHL, ...ADD, ...set(O),
    ...get(O), ...get(O), ...F32_LOAD(0), ...F64_PROMOTE, ...get(X), ...F64_PROMOTE, ...get(VALS), ...get(P), ...ADD, ...F32_LOAD(0), ...F64_PROMOTE, ...F64_MUL, ...F64_ADD,
    ...F32_DEMOTE, ...f32store(), ...bump(P, 4),
  ];
  const coordinate = [
    ...get(READS), ...get(T), ...ADD, ...i32load, ...set(D),
    ...get(RESID), ...get(D), ...i32c(2), ...SHL, ...ADD, ...F32_LOAD(0), ...set(X),
    ...get(X), ...f32c(0), ...F32_NE, ...IF,
    // P and P1: byte offsets of d's entries in colIdx and vals.
    ...get(ROWPTR), ...get(D), ...i32c(2), ...SHL, ...ADD, ...i32load, ...i32c(2), ...SHL, ...set(P),
    ...get(ROWPTR), ...get(D), ...i32c(2), ...SHL, ...ADD, ...I32_LOAD(4), ...i32c(2), ...SHL, ...set(P1),
    ...BLOCK, ...LOOP, ...get(P), ...get(P1), ...GE_S, ...brIf(1), ...entry, ...br(0), ...END, ...END,
    ...END,
    ...bump(T, 4),
  ];
  const row = [...zeroRow(OUT, W, O, R), ...overList(T, NR, coordinate), ...addBiasRow(OUT, BIAS, W, O, Q, R), ...nextRow(RESID, ROWB, OUT, W, N)];
  return funcBody([[7, I32], [1, F32]], whileNonzero(N, row));
}

/**
 * embedRows(keys, N, tResid, R, later, D, tQkv, W3, resid, qkv): row i of
 * resid and of qkv from row keys[i] of the first-layer table (compact.ts):
 * its W3 q/k/v values, and its R residual values — the whole row when R = D
 * (later < 0), else at the coordinates listed at `later`. Bytes are copied
 * as they are.
 */
function embedRowsBody(): number[] {
  const [KEYS, N, TRESID, R, LATER, D, TQKV, W3, RESID, QKV] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [KEY, T, SRC] = [10, 11, 12];
  const row = [
    ...get(KEYS), ...i32load, ...set(KEY),
    ...get(LATER), ...i32c(0), ...LT_S, ...IF,
    ...get(RESID), ...get(TRESID), ...get(KEY), ...get(R), ...MUL, ...i32c(2), ...SHL, ...ADD, ...get(D), ...i32c(2), ...SHL, ...MEMCPY,
    ...ELSE,
    ...get(TRESID), ...get(KEY), ...get(R), ...MUL, ...i32c(2), ...SHL, ...ADD, ...set(SRC),
    ...overList(T, R, [
      ...get(RESID), ...get(LATER), ...get(T), ...ADD, ...i32load, ...i32c(2), ...SHL, ...ADD,
      ...get(SRC), ...get(T), ...ADD, ...F32_LOAD(0), ...f32store(), ...bump(T, 4),
    ]),
    ...END,
    ...get(QKV), ...get(TQKV), ...get(KEY), ...get(W3), ...MUL, ...i32c(2), ...SHL, ...ADD, ...get(W3), ...i32c(2), ...SHL, ...MEMCPY,
    ...bump(KEYS, 4),
    ...get(RESID), ...get(D), ...i32c(2), ...SHL, ...ADD, ...set(RESID),
    ...get(QKV), ...get(W3), ...i32c(2), ...SHL, ...ADD, ...set(QKV),
    ...countDown(N),
  ];
  return funcBody([[3, I32]], whileNonzero(N, row));
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const scoresType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [F64], [I32]]), ...vec([[F64]])];
  const valuesType = [0x60, ...vec(Array.from({ length: 7 }, () => [I32])), 0];
  const unembedType = [0x60, ...vec(Array.from({ length: 10 }, () => [I32])), 0];
  const projectType = [0x60, ...vec(Array.from({ length: 11 }, () => [I32])), 0];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([scoresType, valuesType, unembedType, projectType])),
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0], [1], [1], [2], [3], [2]])),
    ...section(7, vec([
      [...name("scores"), 0x00, 0], [...name("values"), 0x00, 1], [...name("addDirect"), 0x00, 2], [...name("unembedDirect"), 0x00, 3], [...name("project"), 0x00, 4],
      [...name("embedRows"), 0x00, 5],
    ])),
    ...section(10, vec([scoresBody(), valuesBody(), addDirectBody(), unembedDirectBody(), projectBody(), embedRowsBody()])),
  ]);
}

/** The compiled module, or null where WebAssembly SIMD is off or unavailable. */
const compactModule = compiledOnce(moduleBytes);

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

/** The table whose copy the module's memory holds (at address 0), and its version then. */
let tableHeld: { source: TableSource; version: number } | null = null;

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
 * One float32 run's arrays in the module's memory: the first-layer
 * table's copy (first, so that it stays put from run to run) and one table
 * key per row; the residual, q/k/v rows, z rows and logits; the score row,
 * its live keys and the query's nonzero coordinates; room for one head's
 * kept pattern rows (compactAttention.ts copies a record there before the
 * rows that reuse it); and the model's q/k/v products and one-to-one W_O
 * and W_U products (compactModel.ts's CompactLayer and Direct), copied in
 * for the run. Views are valid until the next compactArena call (which may
 * grow the memory); the *At fields are byte addresses, which the kernels
 * take.
 */
export interface CompactArena {
  readonly resid: Float32Array;
  readonly qkv: Float32Array;
  readonly z: Float32Array;
  readonly out: Float32Array;
  readonly buf: Float32Array;
  readonly live: Int32Array;
  readonly qIdx: Int32Array;
  /** Pattern rows and their live keys, when the run keeps records. */
  readonly pattern: Float32Array;
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
}

let memory: WebAssembly.Memory | null = null;
let exports: Exports | null = null;

/** Switch for tests and benchmarks: the float32 narrowed forward's kernels in WebAssembly (results never depend on it). */
export const compactWasmSettings = { enabled: true };

/**
 * The arena of a float32 run of `cm` over N rows (maxKeys keys at most;
 * recordElements: room for a head's kept pattern rows), or null where
 * WebAssembly SIMD is unavailable or switched off.
 */
export function compactArena(cm: CompactModel, N: number, maxKeys: number, recordElements: number, table: TableSource | null): CompactArena | null {
  if (!compactWasmSettings.enabled || !wasmAvailable()) return null;
  if (!exports) {
    const module = compactModule();
    if (!module) return null;
    memory = new WebAssembly.Memory({ initial: 1 });
    exports = new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as Exports;
  }
  const mem = memory!;
  const { d_model: D, d_vocab_out: Vo } = cm.model.config;
  // Regions in element offsets, each on a 16-byte boundary.
  let end = 0;
  const region = (n: number): number => {
    const at = end;
    end += Math.ceil(n / 4) * 4;
    return at;
  };
  // The table first, so that its copy stays where it is from one run to the next.
  const tableResidAt = 4 * region(table ? table.resid.length : 0), tableQkvAt = 4 * region(table ? table.qkv.length : 0);
  const laterAt = 4 * region(table ? table.later.length : 0);
  const at = {
    keys: region(table ? N : 0),
    resid: region(N * D), qkv: region(N * cm.maxWidth), z: region(N * cm.maxWV), out: region(N * Vo),
    buf: region(maxKeys), live: region(maxKeys), qIdx: region(cm.maxS), pattern: region(recordElements), patternLive: region(recordElements),
  };
  const direct = (d: Direct | null, reads: Int32Array | null): { d: Direct; at: DirectAt } | null =>
    d && { d, at: { cols: 4 * region(d.cols.length), vals: 4 * region(d.vals.length), reads: reads ? 4 * region(reads.length) : -1 } };
  const oDirect = cm.layers.map((l) => direct(l.oDirect, null));
  const project = cm.layers.map((l): ProjectAt => ({
    reads: 4 * region(l.reads.length), rowPtr: 4 * region(l.qkv.rowPtr.length), colIdx: 4 * region(l.qkv.colIdx.length), vals: 4 * region(l.qkv.vals.length),
    bias: l.bqkv ? 4 * region(l.W3) : -1,
  }));
  const unembed = direct(cm.unembedDirect, cm.unembedReads);
  const biasAt = unembed && cm.bU ? 4 * region(Vo) : -1;
  // 16 bytes of slack: the value sum may read up to 12 bytes past the last row.
  const bytes = 4 * (end + 4);
  if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
  const b = mem.buffer;
  for (const x of [...oDirect, unembed]) {
    if (!x) continue;
    new Int32Array(b, x.at.cols, x.d.cols.length).set(x.d.cols);
    new Float32Array(b, x.at.vals, x.d.vals.length).set(x.d.vals);
  }
  if (unembed) new Int32Array(b, unembed.at.reads, cm.unembedReads.length).set(cm.unembedReads);
  if (table) new Int32Array(b, laterAt, table.later.length).set(table.later);
  if (tableHeld && tableHeld.source !== table) tableHeld = null;
  cm.layers.forEach((l, k) => {
    const p = project[k];
    new Int32Array(b, p.reads, l.reads.length).set(l.reads);
    new Int32Array(b, p.rowPtr, l.qkv.rowPtr.length).set(l.qkv.rowPtr);
    new Int32Array(b, p.colIdx, l.qkv.colIdx.length).set(l.qkv.colIdx);
    new Float32Array(b, p.vals, l.qkv.vals.length).set(l.qkv.vals);
    if (l.bqkv) new Float32Array(b, p.bias, l.W3).set(l.bqkv);
  });
  if (biasAt >= 0) new Float32Array(b, biasAt, Vo).set(cm.bU!);
  const f = (r: number, n: number): Float32Array => new Float32Array(b, 4 * r, n);
  const i = (r: number, n: number): Int32Array => new Int32Array(b, 4 * r, n);
  return {
    resid: f(at.resid, N * D), qkv: f(at.qkv, N * cm.maxWidth), z: f(at.z, N * cm.maxWV), out: f(at.out, N * Vo),
    buf: f(at.buf, maxKeys), live: i(at.live, maxKeys), qIdx: i(at.qIdx, cm.maxS),
    pattern: f(at.pattern, recordElements), patternLive: i(at.patternLive, recordElements),
    residAt: 4 * at.resid, qkvAt: 4 * at.qkv, zAt: 4 * at.z, outAt: 4 * at.out, bufAt: 4 * at.buf, liveAt: 4 * at.live, qIdxAt: 4 * at.qIdx,
    patternAt: 4 * at.pattern, patternLiveAt: 4 * at.patternLive,
    oDirect: oDirect.map((x) => x?.at ?? null), project, unembedDirect: unembed?.at ?? null, biasAt,
    tableResidAt, tableQkvAt, laterAt, keys: i(at.keys, table ? N : 0), keysAt: 4 * at.keys,
    ex: exports,
  };
}

/** Bring the arena's copy of `table` up to date (a copy of the whole table when it has rows the copy lacks). */
export function syncTable(a: CompactArena, table: TableSource): void {
  if (tableHeld && tableHeld.source === table && tableHeld.version === table.version) return;
  const b = memory!.buffer;
  new Float32Array(b, a.tableResidAt, table.resid.length).set(table.resid);
  new Float32Array(b, a.tableQkvAt, table.qkv.length).set(table.qkv);
  tableHeld = { source: table, version: table.version };
}

/** Fill the whole arena memory with float32 `value` (tests: a value a run reads before writing it shows up in the logits). */
export function fillArena(value: number): void {
  if (memory) new Float32Array(memory.buffer).fill(value);
  tableHeld = null;
}
