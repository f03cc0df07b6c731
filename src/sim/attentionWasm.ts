/**
 * The KV cache's attention products in WebAssembly SIMD: the scores of one
 * query against every cached key, and the value sum over the keys of nonzero
 * weight, for float32 (f32x4) and float64 (f64x2), assembled byte by byte
 * with the assembler of the dense product (src/kernels/).
 *
 * A run that uses it keeps its values, a second copy of its keys, and its
 * score rows in one shared WebAssembly memory of fixed size (it never grows,
 * so the typed-array views on it stay valid; shared, so that the KV helper
 * thread runs the same functions on it through a call table). The key copy
 * is in blocks of W = 64 bytes of keys (8 float64 or 16 float32): block b
 * holds keys bW … bW+W−1 as [E][W], so one vector load gives one coordinate
 * of several keys and a score lane sums q[e]·k[j, e] for e ascending from
 * +0 with a rounded multiply then a rounded add — the arithmetic of the
 * JavaScript loops
 * (attentionScores.ts) and of the whole-sequence product, so the bits are
 * the same. Values stay rows of Ep (E rounded up to whole vectors, padding
 * 0): a value lane sums p_j·v[j, e] over the listed keys in list order, as
 * attentionValues.ts does (a listed key of weight 0 adds an exact 0).
 * Between the two, the scores are scaled and, when every key's exponent is
 * in expNeg's polynomial range, turned into the pattern here too
 * (softmaxWasmCode.ts; softmaxRow does the scaling, the check and the
 * softmax of a row in one call, for a helper thread); other rows go to
 * softmaxLive. Cost per push is a contiguous stream over the context, so it
 * grows linearly with the context.
 */
import type { FloatArray } from "../model/weights.ts";
import type { AttentionJob } from "./attention.ts";
import type { Precision } from "./prepare.ts";
import {
  ADD, BLOCK, br, brIf, bump, call, compiledOnce, countDown, END, EQ, EQZ, funcBody, get, i32 as i32c, I32, I32_LOAD, IF, LOOP, MUL, section, set, SHL, simd, str, uleb, V128,
  V_LOAD, V_STORE, V_ZERO, vec,
} from "../kernels/assembler.ts";
import { wasmAvailable } from "./wasm.ts";
import { EXP_NEG, softmaxCut } from "./softmax.ts";
import { EXP_TYPE, ROW, ROW_BYTES, ROW_TYPE, SCALE_TYPE, expNormBody, scaleBody, softmaxRowBody } from "./softmaxWasmCode.ts";

/** Bytes of one key block row (one coordinate of W keys): four 128-bit vectors. */
const BLOCK_BYTES = 64;
/** The module's memory limit: 4 GiB, WebAssembly's 32-bit address space. */
const MAX_PAGES = 65536;

/** Fewer keys than this are scored in JavaScript (the call costs more than it saves). */
export const WASM_MIN_KEYS = 32;
/** Fewer keys of nonzero weight than this are summed in JavaScript. */
export const WASM_MIN_LIVE = 16;

// ------------------------------------------------------------ assembly

const i32load = [0x28, 2, 0];
// The key blocks are 16-byte aligned: loads and stores say so.
const vload = (offset: number): number[] => V_LOAD(offset, 4);
const vstore = (offset: number): number[] => V_STORE(offset, 4);

interface Arith {
  readonly es: 4 | 8;
  readonly splat: number[];
  readonly add: number[];
  readonly mul: number[];
}
const arith = (es: 4 | 8): Arith => ({
  es,
  splat: es === 4 ? simd(0x09, 2, 0) : simd(0x0a, 3, 0), // v128.load32_splat / load64_splat
  add: es === 4 ? simd(0xe4) : simd(0xf0), // f32x4.add / f64x2.add
  mul: es === 4 ? simd(0xe6) : simd(0xf2), // f32x4.mul / f64x2.mul
});

/**
 * dots(q, keys, blocks, E, out): for each of `blocks` key blocks ([E][W],
 * consecutive), out gets the W dot products with q (E elements), each lane
 * e ascending from +0.
 */
function dotsBody(a: Arith): number[] {
  const [Q, KP, NB, E, OUT] = [0, 1, 2, 3, 4];
  const [QP, EE] = [5, 6];
  const ACC = [7, 8, 9, 10], S = 11;
  const c: number[] = [];
  c.push(...BLOCK, ...LOOP, ...get(NB), ...EQZ, ...brIf(1));
  for (const r of ACC) c.push(...V_ZERO, ...set(r));
  c.push(...get(Q), ...set(QP), ...get(E), ...set(EE));
  c.push(...BLOCK, ...LOOP, ...get(EE), ...EQZ, ...brIf(1));
  c.push(...get(QP), ...a.splat, ...set(S));
  ACC.forEach((r, i) => c.push(...get(r), ...get(S), ...get(KP), ...vload(16 * i), ...a.mul, ...a.add, ...set(r)));
  c.push(...bump(QP, a.es), ...bump(KP, BLOCK_BYTES), ...countDown(EE), ...br(0), ...END, ...END);
  ACC.forEach((r, i) => c.push(...get(OUT), ...get(r), ...vstore(16 * i)));
  c.push(...bump(OUT, BLOCK_BYTES), ...countDown(NB), ...br(0), ...END, ...END);
  return funcBody([[2, I32], [5, V128]], c);
}

/**
 * vsum(p, live, n, v, rowBytes, z): z (nv vectors) = Σ_t p[j_t] · v[j_t·rowBytes …]
 * over the keys j_t in order, each lane from +0: the listed keys live[0 … n)
 * or, for the `all` form (live unused), every key 0 … n−1 — a plain stream
 * over p and v, without the list's indirection.
 */
function vsumBody(a: Arith, nv: number, all: boolean): number[] {
  const [P, LIVE, N, V, ROW, Z] = [0, 1, 2, 3, 4, 5];
  const [J, RP] = [6, 7];
  const ACC = Array.from({ length: nv }, (_, i) => 8 + i), S = 8 + nv;
  const c: number[] = [];
  for (const r of ACC) c.push(...V_ZERO, ...set(r));
  if (all) c.push(...get(V), ...set(RP));
  c.push(...BLOCK, ...LOOP, ...get(N), ...EQZ, ...brIf(1));
  if (all) {
    c.push(...get(P), ...a.splat, ...set(S));
  } else {
    c.push(...get(LIVE), ...i32load, ...set(J));
    c.push(...get(P), ...get(J), ...i32c(a.es === 4 ? 2 : 3), ...SHL, ...ADD, ...a.splat, ...set(S));
    c.push(...get(V), ...get(J), ...get(ROW), ...MUL, ...ADD, ...set(RP));
  }
  ACC.forEach((r, i) => c.push(...get(r), ...get(S), ...get(RP), ...vload(16 * i), ...a.mul, ...a.add, ...set(r)));
  if (all) c.push(...bump(P, a.es), ...get(RP), ...get(ROW), ...ADD, ...set(RP));
  else c.push(...bump(LIVE, 4));
  c.push(...countDown(N), ...br(0), ...END, ...END);
  ACC.forEach((r, i) => c.push(...get(Z), ...get(r), ...vstore(16 * i)));
  return funcBody([[2, I32], [nv + 1, V128]], c);
}

/**
 * Widths (in vectors) of the vsum bodies: a row of Ep is summed in passes of
 * the widest that fits what is left of it, so a float32 row of 32 (8
 * vectors) is one pass over the keys, not eight passes of one that would
 * each re-read p and a sliver of every value row. Passes of 16 keep their
 * accumulators, the weight and the load near x64's 16 vector registers.
 */
const VSUM_WIDTHS = [16, 8, 4, 2, 1] as const;

const VSUM_NAMES = [false, true].flatMap((all) =>
  VSUM_WIDTHS.flatMap((nv) => [32, 64].map((bits) => `vsum${all ? "All" : ""}${nv}_${bits}`)),
);
const TAKEN_NAMES = VSUM_WIDTHS.flatMap((nv) => [32, 64].map((bits) => `vsumTaken${nv}_${bits}`));
/** The module's exports, in the numbering of its call table. */
export const KERNEL_NAMES = [
  "dots32", "dots64", ...VSUM_NAMES, "scale32", "scale64", "expNorm32", "expNorm64", "softmaxRow32", "softmaxRow64", ...TAKEN_NAMES,
];

/** The number of export `name` (its function index: the module defines them in KERNEL_NAMES order and imports none). */
const fn = (name: string): number => KERNEL_NAMES.indexOf(name);

/**
 * vsumTaken(row, v, rowBytes, z): when the softmaxRow of descriptor `row`
 * took its row (every key listed), the every-key value sum `vsumAll` over
 * it; else nothing (the calling thread finishes that head in JavaScript).
 */
function vsumTakenBody(vsumAll: number): number[] {
  const [ROWD, V, RB, Z] = [0, 1, 2, 3];
  const load = (off: number): number[] => [...get(ROWD), ...I32_LOAD(off)];
  const c = [...load(ROW.RESULT), ...load(ROW.N), ...EQ, ...IF];
  c.push(...load(ROW.BUF), ...i32c(0), ...load(ROW.N), ...get(V), ...get(RB), ...get(Z), ...call(vsumAll), ...END);
  return funcBody([], c);
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const type = (n: number): number[] => [0x60, ...vec(Array.from({ length: n }, () => [I32])), 0];
  const types = [type(5), type(6), SCALE_TYPE, EXP_TYPE, ROW_TYPE, type(4)];
  // Each export: its type (an index into types) and its body.
  const bodies = new Map<string, [number, number[]]>();
  for (const es of [4, 8] as const) {
    const bits = es * 8, a = arith(es);
    bodies.set(`dots${bits}`, [0, dotsBody(a)]);
    for (const nv of VSUM_WIDTHS) {
      bodies.set(`vsum${nv}_${bits}`, [1, vsumBody(a, nv, false)]);
      bodies.set(`vsumAll${nv}_${bits}`, [1, vsumBody(a, nv, true)]);
      bodies.set(`vsumTaken${nv}_${bits}`, [5, vsumTakenBody(fn(`vsumAll${nv}_${bits}`))]);
    }
    bodies.set(`scale${bits}`, [2, scaleBody(es)]);
    bodies.set(`expNorm${bits}`, [3, expNormBody(es)]);
    bodies.set(`softmaxRow${bits}`, [4, softmaxRowBody(es, fn(`scale${bits}`), fn(`expNorm${bits}`))]);
  }
  const fns = KERNEL_NAMES.map((n) => bodies.get(n)!);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    // Shared memory (min 1 page, any maximum), so that the KV helper thread (attentionHelper.ts) runs these on the same cache.
    ...section(2, vec([[...str("env"), ...str("mem"), 0x02, 0x03, ...uleb(1), ...uleb(MAX_PAGES)]])),
    ...section(3, vec(fns.map(([t]) => [t]))),
    ...section(7, vec(KERNEL_NAMES.map((n, i) => [...str(n), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map(([, body]) => body))),
  ];
  return new Uint8Array(bytes);
}

type Scale = (buf: number, vectors: number, sqrtE: number, out: number) => void;
type ExpNorm = (buf: number, vectors: number, n: number, max: number, scratch: number, frac: number, live: number) => number;

/** The compiled module, or null where WebAssembly SIMD is off or unavailable. */
const attentionModule = compiledOnce(moduleBytes);

// ------------------------------------------------------------ runtime

/** An export of the module, called by its number in KERNEL_NAMES (the call table's numbering). */
type WasmFn = (a0: number, a1: number, a2: number, a3: number, a4: number, a5: number) => number;

/** Int32 words of one call-table entry: the function's number, then six arguments (unused ones ignored). */
export const CALL_WORDS = 7;

/** One head's scratch in the module's memory. */
export interface WasmSlot {
  /** [Ep] the query, copied in. */
  readonly q: FloatArray;
  /** The score row (then the pattern), ⌈C/W⌉·W long. */
  readonly buf: FloatArray;
  /** Keys of nonzero weight, C long. */
  readonly live: Int32Array;
  /** [Ep] the value sum. */
  readonly z: FloatArray;
  /** Its softmaxRow descriptor (softmaxWasmCode.ts ROW): the row, live list and scratch filled in, n and the result per call. */
  readonly row: number;
  readonly rowI32: Int32Array;
  readonly rowF64: Float64Array;
}

/** One pass of a value sum over a row's columns: its byte offset in the row, and the numbers of its listed-keys, every-key and if-taken forms. */
export interface VsumPass {
  readonly at: number;
  readonly listed: number;
  readonly every: number;
  readonly taken: number;
}

/**
 * A KV cache's attention storage in a shared WebAssembly memory: per layer
 * and head, the keys in blocks and the values as rows of Ep, plus scratch
 * per head of a layer (its query, score row, live keys and value sum) and a
 * call table. The caller points `head` at the (layer, head) it attends
 * before each attend(), which uses slot 0; attentionSplit.ts attends every
 * head of a row at once, one slot each, its products shared with a helper
 * thread that runs entries of the call table on its own instance.
 */
export interface AttentionWasm {
  readonly f32: boolean;
  readonly E: number;
  /** Row length of the values (E rounded up to whole vectors). */
  readonly Ep: number;
  /** Keys per block. */
  readonly W: number;
  /** Block-layout keys, L × H × ⌈C/W⌉ blocks of [E, W]. */
  readonly kBlocks: FloatArray;
  /** Values, L × H × [C, Ep] (padding columns 0). */
  readonly v: FloatArray;
  /** Per-head scratch; slots[0] is the one attend() uses. */
  readonly slots: readonly WasmSlot[];
  /** slots[0]'s score row, live keys, query and value sum. */
  readonly buf: FloatArray;
  readonly live: Int32Array;
  readonly q: FloatArray;
  readonly z: FloatArray;
  /** Which layer·H + head the next attend() reads. */
  head: number;
  readonly blocksPerHead: number;
  readonly C: number;
  /** The exports by number (KERNEL_NAMES order). */
  readonly fns: readonly WasmFn[];
  /** Number of the score product of this precision. */
  readonly dots: number;
  /** A value sum over a whole row, as passes of the widest vsum that fits. */
  readonly vsumPasses: readonly VsumPass[];
  /** The same row cut in two column ranges (the second empty for a one-vector row), for two threads. */
  readonly vsumHalves: readonly (readonly VsumPass[])[];
  readonly scale: Scale;
  readonly expNorm: ExpNorm;
  /** Float64 scratch of the softmax's exponents (as long as buf). */
  readonly exps: Float64Array;
  /** expNeg's table of 2^(i/256), copied in. */
  readonly frac: Float64Array;
  /** scale's lane maxima and minima (two vectors), as float64 or float32 lanes. */
  readonly stats: FloatArray;
  /** The smallest scaled score of the last attentionWasmScale (NaN when one was NaN). */
  lowest: number;
  /** Number of softmaxRow of this precision. */
  readonly softmaxRow: number;
  /** The call table: entries of CALL_WORDS words that a helper thread can run as well. */
  readonly calls: Int32Array;
  /** The table's chunks (what one thread runs in a row): chunk k is entries chunks[k] … chunks[k+1]−1. */
  readonly chunks: Int32Array;
  /** The memory and the compiled module, for the helper's own instance. */
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
}

/**
 * Storage and kernels for L·H heads of width E over C positions, with
 * scratch for `slots` heads at once, or null without WebAssembly SIMD.
 */
export function attentionWasm(precision: Precision, heads: number, E: number, C: number, slots = 1): AttentionWasm | null {
  const module = wasmAvailable() ? attentionModule() : null;
  if (module === null) return null;
  const f32 = precision === "float32";
  const es = f32 ? 4 : 8;
  const W = BLOCK_BYTES / es;
  const lanes = 16 / es;
  const Ep = Math.ceil(E / lanes) * lanes;
  const blocksPerHead = Math.ceil(C / W);
  const row = blocksPerHead * W;
  // A split row posts per head at most SPLIT_PARTS score parts and a softmax, or two halves of value passes.
  const maxCalls = slots * (SPLIT_PARTS + 1 + 2 * VSUM_WIDTHS.length);
  let bytes = 0;
  const take = (n: number, size: number): number => {
    const at = bytes;
    bytes += Math.ceil((n * size) / 16) * 16;
    return at;
  };
  const at = {
    kBlocks: take(heads * blocksPerHead * E * W, es), v: take(heads * C * Ep, es), stats: take(32 / es, es),
    exps: take(row, 8), frac: take(EXP_NEG.FRAC.length, 8),
    calls: take(maxCalls * CALL_WORDS, 4), chunks: take(maxCalls + 1, 4),
    slots: Array.from({ length: slots }, () => ({
      q: take(Ep, es), buf: take(row, es), z: take(Ep, es), live: take(C, 4), row: take(ROW_BYTES, 1), stats: take(32, 1), exps: take(row, 8),
    })),
  };
  const pages = Math.ceil(bytes / 65536) + 1;
  let memory: WebAssembly.Memory, ex: Record<string, WasmFn>;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    ex = new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as Record<string, WasmFn>;
  } catch {
    return null; // no shared memory here
  }
  const frac = new Float64Array(memory.buffer, at.frac, EXP_NEG.FRAC.length);
  frac.set(EXP_NEG.FRAC);
  const View = f32 ? Float32Array : Float64Array;
  const view = (offset: number, n: number): FloatArray => new View(memory.buffer, offset, n);
  const slotViews = at.slots.map((s) => {
    const buf = view(s.buf, row);
    const rowI32 = new Int32Array(memory.buffer, s.row, ROW_BYTES / 4), rowF64 = new Float64Array(memory.buffer, s.row, ROW_BYTES / 8);
    rowI32[ROW.BUF / 4] = s.buf;
    rowI32[ROW.LIVE / 4] = s.live;
    rowI32[ROW.EXPS / 4] = s.exps;
    rowI32[ROW.STATS / 4] = s.stats;
    rowI32[ROW.FRAC / 4] = at.frac;
    rowF64[ROW.SQRT_E / 8] = Math.sqrt(E);
    rowF64[ROW.FLOOR / 8] = softmaxFloor(buf);
    return { q: view(s.q, Ep), buf, z: view(s.z, Ep), live: new Int32Array(memory.buffer, s.live, C), row: s.row, rowI32, rowF64 };
  });
  const bits = es * 8;
  const vectors = Ep / lanes;
  const half = Math.ceil(vectors / 2);
  return {
    f32, E, Ep, W, C, blocksPerHead, head: 0,
    kBlocks: view(at.kBlocks, heads * blocksPerHead * E * W), v: view(at.v, heads * C * Ep),
    slots: slotViews, ...slotViews[0],
    fns: KERNEL_NAMES.map((n) => ex[n]),
    dots: fn(f32 ? "dots32" : "dots64"),
    vsumPasses: vsumPasses(0, vectors, bits),
    vsumHalves: [vsumPasses(0, half, bits), vsumPasses(half, vectors, bits)],
    scale: ex[f32 ? "scale32" : "scale64"] as unknown as Scale,
    expNorm: ex[f32 ? "expNorm32" : "expNorm64"] as unknown as ExpNorm,
    exps: new Float64Array(memory.buffer, at.exps, row),
    frac,
    stats: view(at.stats, 32 / es),
    lowest: NaN,
    softmaxRow: fn(f32 ? "softmaxRow32" : "softmaxRow64"),
    calls: new Int32Array(memory.buffer, at.calls, maxCalls * CALL_WORDS),
    chunks: new Int32Array(memory.buffer, at.chunks, maxCalls + 1),
    memory, module,
  };
}

/** Most parts one head's score product is cut into for two threads. */
export const SPLIT_PARTS = 4;

/** Vectors from … to−1 of a row, cut into passes of the widest vsum that fits the rest. */
function vsumPasses(from: number, to: number, bits: number): VsumPass[] {
  const passes: VsumPass[] = [];
  for (let c = from; c < to; ) {
    const nv = VSUM_WIDTHS.find((w) => w <= to - c)!;
    passes.push({ at: 16 * c, listed: fn(`vsum${nv}_${bits}`), every: fn(`vsumAll${nv}_${bits}`), taken: fn(`vsumTaken${nv}_${bits}`) });
    c += nv;
  }
  return passes;
}

/** The least key exponent (score − max) the WebAssembly softmax takes for rows like `buf`: its cut, and expNeg's polynomial range. */
function softmaxFloor(buf: FloatArray): number {
  return Math.max(softmaxCut(buf), EXP_NEG.MIN);
}

/** Store key row `key` (E elements at key[kOff …]) as position t of head `head` in the block copy. */
export function storeKey(w: AttentionWasm, head: number, t: number, key: FloatArray, kOff: number): void {
  const { E, W } = w;
  const base = (head * w.blocksPerHead + Math.floor(t / W)) * E * W + (t % W);
  const kb = w.kBlocks;
  for (let e = 0; e < E; e++) kb[base + e * W] = key[kOff + e];
}

/** Byte address of block `block` of head `head`'s keys. */
export function keyBlockAddress(w: AttentionWasm, head: number, block: number): number {
  return w.kBlocks.byteOffset + (head * w.blocksPerHead + block) * w.E * w.W * (w.f32 ? 4 : 8);
}

/** Byte address of head `head`'s first value row. */
export function valueAddress(w: AttentionWasm, head: number): number {
  const es = w.f32 ? 4 : 8;
  return w.v.byteOffset + head * w.C * w.Ep * es;
}

/**
 * Raw dot products of job's query with keys 0 … nKeys−1 of w.head into
 * slot s's score row; false, having done nothing, when there are too few
 * keys to repay the call (the JavaScript loops then run).
 */
export function attentionWasmScores(w: AttentionWasm, job: AttentionJob, s: WasmSlot = w.slots[0]): boolean {
  const n = job.nKeys;
  if (n < WASM_MIN_KEYS) return false;
  s.q.set(job.q.subarray(job.qOff, job.qOff + w.E));
  w.fns[w.dots](s.q.byteOffset, keyBlockAddress(w, w.head, 0), Math.ceil(n / w.W), w.E, s.buf.byteOffset, 0);
  return true;
}

/**
 * job.z[zOff, zOff+E) = Σ_t buf[live[t]] · v[live[t]] of w.head over the
 * first nLive listed keys of slot s; false when few keys are listed (the
 * JavaScript loops then run).
 */
export function attentionWasmValues(w: AttentionWasm, job: AttentionJob, nLive: number, s: WasmSlot = w.slots[0]): boolean {
  if (nLive < WASM_MIN_LIVE) return false;
  const rowBytes = w.Ep * (w.f32 ? 4 : 8);
  const v0 = valueAddress(w, w.head);
  const p = s.buf.byteOffset, live = s.live.byteOffset, z = s.z.byteOffset;
  // Every key listed (soft attention): stream them in order without the list.
  const all = nLive === job.nKeys;
  const passes = w.vsumPasses;
  for (let i = 0; i < passes.length; i++) {
    const pass = passes[i];
    w.fns[all ? pass.every : pass.listed](p, live, nLive, v0 + pass.at, rowBytes, z + pass.at);
  }
  job.z.set(s.z.subarray(0, w.E), job.zOff);
  return true;
}

/**
 * Scale the raw dot products in slot s's score row by 1/√E (scaleScores's
 * arithmetic) and return their maximum; records their minimum in w.lowest
 * for attentionWasmSoftmax.
 */
export function attentionWasmScale(w: AttentionWasm, job: AttentionJob, s: WasmSlot = w.slots[0]): number {
  const n = job.nKeys;
  const lanes = w.f32 ? 4 : 2;
  const vectors = Math.ceil(n / lanes);
  const buf = s.buf;
  // The last vector's lanes past n repeat key n−1 (what lies there is a stale
  // block's product, possibly NaN): they change neither the maximum nor the minimum.
  for (let j = n; j < vectors * lanes; j++) buf[j] = buf[n - 1];
  w.scale(buf.byteOffset, vectors, job.sqrtE, w.stats.byteOffset);
  const st = w.stats;
  let max = -Infinity, lowest = Infinity;
  for (let i = 0; i < lanes; i++) {
    if (st[i] > max) max = st[i];
    const m = st[lanes + i];
    if (m !== m || m < lowest) lowest = m; // once NaN, it stays NaN (nothing is less)
  }
  w.lowest = lowest;
  return max;
}

/**
 * softmaxLive over the scores attentionWasmScale just scaled in slot s, in
 * WebAssembly, when every key's exponent lies in expNeg's polynomial range
 * and above the cut (then every key is listed): returns the count of listed
 * keys, or −1, having done nothing, for the JavaScript softmax to run.
 */
export function attentionWasmSoftmax(w: AttentionWasm, job: AttentionJob, max: number, s: WasmSlot = w.slots[0]): number {
  const n = job.nKeys;
  if (!(w.lowest - max >= softmaxFloor(s.buf))) return -1;
  const lanes = w.f32 ? 4 : 2;
  w.expNorm(s.buf.byteOffset, Math.ceil(n / lanes), n, max, w.exps.byteOffset, w.frac.byteOffset, s.live.byteOffset);
  return n;
}
