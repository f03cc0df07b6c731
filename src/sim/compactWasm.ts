/**
 * The float32 attention of the narrowed forward (compact.ts) in WebAssembly:
 * one query's sparse scores, and one query's value sum. In JavaScript every
 * float32 product and partial sum is a float64 operation followed by a
 * Math.fround (two conversions), and those roundings were most of the
 * float32 narrowed forward's time; here they are float32 instructions, and
 * the value sum takes four columns per SIMD lane group.
 *
 * The bits are attentionScores.ts's and attentionValues.ts's:
 * - a score sums q[e]·k[j, e] over the query's nonzero coordinates, e
 *   ascending, from +0, each product and each partial sum rounded to
 *   float32; the sum is divided by √E in float64 and rounded to float32;
 *   the maximum keeps a key only if it is greater (as `x > max`);
 * - a value lane sums p_j·v[j, e] over the listed keys in list order, from
 *   +0, each product and partial sum rounded to float32, and skips a key of
 *   weight exactly 0, as allColumnsF32 does.
 *
 * The narrowed forward's q/k/v and z arrays, and the score row, live in this
 * module's memory during a float32 run (compactArena), so the kernels read
 * them in place.
 */
import {
  ADD, BLOCK, br, brIf, bump, compiledOnce, countDown, END, EQZ, get, i32 as i32c, I32, IF, LOOP, LT_S, MUL, section, set, SHL, simd, uleb, V128, V_LOAD, V_STORE, V_ZERO, vec,
} from "../kernels/assembler.ts";
import type { AttentionJob } from "./attention.ts";
import { wasmAvailable } from "./wasm.ts";

const F32 = 0x7d, F64 = 0x7c;
const f32load = (off = 0): number[] => [0x2a, 2, ...uleb(off)];
const f32store = (off = 0): number[] => [0x38, 2, ...uleb(off)];
const i32load = [0x28, 2, 0];
const F32_ADD = [0x92], F32_MUL = [0x94], F32_NE = [0x5c], F32_GT = [0x5e], F32_DEMOTE = [0xb6], F64_PROMOTE = [0xbb], F64_DIV = [0xa3];
const F32_CONST = (x: number): number[] => [0x43, ...new Uint8Array(Float32Array.of(x).buffer)];
const SELECT = [0x1b];
const F32X4_SPLAT = simd(0x13), F32X4_ADD = simd(0xe4), F32X4_MUL = simd(0xe6);
const F32X4_EXTRACT = (lane: number): number[] => simd(0x1f, lane);
// v rows start at any float: unaligned loads.
const vload = (off: number): number[] => V_LOAD(off, 0);
const vstore = (off: number): number[] => V_STORE(off, 0);
/** while (local l ≠ 0) { body } */
const whileNonzero = (l: number, body: number[]): number[] => [...BLOCK, ...LOOP, ...get(l), ...EQZ, ...brIf(1), ...body, ...br(0), ...END, ...END];

const fnBody = (locals: [number, number][], code: number[]): number[] => {
  const body = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code, ...END];
  return [...uleb(body.length), ...body];
};

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
    ...get(S), ...get(Q), ...get(EB), ...ADD, ...f32load(), ...get(K), ...get(EB), ...ADD, ...f32load(), ...F32_MUL, ...F32_ADD, ...set(S),
    ...bump(IP, 4), ...countDown(T),
  ];
  const key = [
    ...F32_CONST(0), ...set(S), ...get(QIDX), ...set(IP), ...get(NQ), ...set(T),
    ...whileNonzero(T, term),
    ...get(S), ...F64_PROMOTE, ...get(SQ), ...F64_DIV, ...F32_DEMOTE, ...set(X),
    ...get(BUF), ...get(X), ...f32store(),
    ...get(X), ...get(MAX), ...get(X), ...get(MAX), ...F32_GT, ...SELECT, ...set(MAX),
    ...get(K), ...get(ROW), ...ADD, ...set(K), ...bump(BUF, 4), ...countDown(NK),
  ];
  const c = [...F32_CONST(-Infinity), ...set(MAX), ...whileNonzero(NK, key), ...get(MAX), ...F64_PROMOTE];
  return fnBody([[3, I32], [3, F32]], c);
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
      ...get(BUF), ...get(J), ...i32c(2), ...SHL, ...ADD, ...f32load(), ...set(P),
      ...get(P), ...F32_CONST(0), ...F32_NE, ...IF,
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
  return fnBody([[4, I32], [1, F32], [3, V128]], c);
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const scoresType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [F64], [I32]]), ...vec([[F64]])];
  const valuesType = [0x60, ...vec(Array.from({ length: 7 }, () => [I32])), 0];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([scoresType, valuesType])),
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([[...name("scores"), 0x00, 0], [...name("values"), 0x00, 1]])),
    ...section(10, vec([scoresBody(), valuesBody()])),
  ]);
}

/** The compiled module, or null where WebAssembly SIMD is off or unavailable. */
const compactModule = compiledOnce(moduleBytes);

// ------------------------------------------------------------ runtime

interface Exports {
  scores(q: number, qIdx: number, nq: number, k: number, rowBytes: number, nKeys: number, sqrtE: number, buf: number): number;
  values(buf: number, live: number, n: number, v: number, rowBytes: number, z: number, cols: number): void;
}

/**
 * One float32 run's arrays in the module's memory: q/k/v rows, z rows, the
 * score row, its live keys and the query's nonzero coordinates, and room for
 * one head's kept pattern rows (compactAttention.ts copies a record there
 * before the rows that reuse it). Views are valid until the next
 * compactArena call (which may grow the memory); the *At fields are their
 * byte addresses, which the kernels take.
 */
export interface CompactArena {
  readonly qkv: Float32Array;
  readonly z: Float32Array;
  readonly buf: Float32Array;
  readonly live: Int32Array;
  readonly qIdx: Int32Array;
  /** [maxKeys, maxKeys] pattern rows and their live keys, when the run keeps records. */
  readonly pattern: Float32Array;
  readonly patternLive: Int32Array;
  readonly qkvAt: number;
  readonly zAt: number;
  readonly bufAt: number;
  readonly liveAt: number;
  readonly qIdxAt: number;
  readonly patternAt: number;
  readonly patternLiveAt: number;
  readonly ex: Exports;
}

let memory: WebAssembly.Memory | null = null;
let exports: Exports | null = null;

/** Switch for tests and benchmarks: the float32 narrowed forward's attention in WebAssembly (results never depend on it). */
export const compactWasmSettings = { enabled: true };

/**
 * The arena of a float32 run of N rows (q/k/v rows W3 wide, z rows WV wide,
 * maxKeys keys, query widths up to maxS, recordElements: room for a head's
 * kept pattern rows), or null where WebAssembly SIMD is unavailable or switched off.
 */
export function compactArena(N: number, W3: number, WV: number, maxKeys: number, maxS: number, recordElements: number): CompactArena | null {
  if (!compactWasmSettings.enabled || !wasmAvailable()) return null;
  if (!exports) {
    const module = compactModule();
    if (!module) return null;
    memory = new WebAssembly.Memory({ initial: 1 });
    exports = new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as Exports;
  }
  const mem = memory!;
  // Element offsets, each region on a 16-byte boundary.
  const sizes = [N * W3, N * WV, maxKeys, maxKeys, maxS, recordElements, recordElements];
  const at: number[] = [];
  let end = 0;
  for (const n of sizes) {
    at.push(end);
    end += Math.ceil(n / 4) * 4;
  }
  // 16 bytes of slack: the value sum may read up to 12 bytes past the last row.
  const bytes = 4 * (end + 4);
  if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
  const b = mem.buffer;
  const f = (r: number): Float32Array => new Float32Array(b, 4 * at[r], sizes[r]);
  const i = (r: number): Int32Array => new Int32Array(b, 4 * at[r], sizes[r]);
  return {
    qkv: f(0), z: f(1), buf: f(2), live: i(3), qIdx: i(4), pattern: f(5), patternLive: i(6),
    qkvAt: 4 * at[0], zAt: 4 * at[1], bufAt: 4 * at[2], liveAt: 4 * at[3], qIdxAt: 4 * at[4], patternAt: 4 * at[5], patternLiveAt: 4 * at[6],
    ex: exports,
  };
}
