/**
 * The KV cache's attention products in WebAssembly SIMD: the scores of one
 * query against every cached key, and the value sum over the keys of nonzero
 * weight, for float32 (f32x4) and float64 (f64x2), assembled byte by byte
 * with the assembler of the dense product (src/kernels/).
 *
 * A run that uses it keeps its values, a second copy of its keys, and its
 * score row in one WebAssembly memory of fixed size (it never grows, so the
 * typed-array views on it stay valid). The key copy is in blocks of W = 64
 * bytes of keys (8 float64 or 16 float32): block b holds keys bW … bW+W−1
 * as [E][W], so one vector load gives one coordinate of several keys and a
 * score lane sums q[e]·k[j, e] for e ascending from +0 with a rounded
 * multiply then a rounded add — the arithmetic of the JavaScript loops
 * (attentionScores.ts) and of the whole-sequence product, so the bits are
 * the same. Values stay rows of Ep (E rounded up to whole vectors, padding
 * 0): a value lane sums p_j·v[j, e] over the listed keys in list order, as
 * attentionValues.ts does (a listed key of weight 0 adds an exact 0).
 * Between the two, the scores are scaled and, when every key's exponent is
 * in expNeg's polynomial range, turned into the pattern here too
 * (softmaxWasmCode.ts); other rows go to softmaxLive. Cost per push is a
 * contiguous stream over the context, so it grows linearly with the context.
 */
import type { FloatArray } from "../model/weights.ts";
import type { AttentionJob } from "./attention.ts";
import type { Precision } from "./prepare.ts";
import {
  ADD, BLOCK, br, brIf, bump, compiledOnce, countDown, END, EQZ, get, i32 as i32c, I32, LOOP, MUL, section, set, SHL, simd, SUB, uleb, V128, V_LOAD, V_STORE, V_ZERO, vec,
} from "../kernels/assembler.ts";
import { wasmAvailable } from "./wasm.ts";
import { EXP_NEG, softmaxCut } from "./softmax.ts";
import { EXP_TYPE, SCALE_TYPE, expNormBody, scaleBody } from "./softmaxWasmCode.ts";

/** Bytes of one key block row (one coordinate of W keys): four 128-bit vectors. */
const BLOCK_BYTES = 64;

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

const fnBody = (locals: number[][], code: number[]): number[] => {
  const body = [...vec(locals), ...code, ...END];
  return [...uleb(body.length), ...body];
};

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
  return fnBody([[2, I32], [5, V128]], c);
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
  return fnBody([[2, I32], [nv + 1, V128]], c);
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
const NAMES = ["dots32", "dots64", ...VSUM_NAMES, "scale32", "scale64", "expNorm32", "expNorm64"];

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const type = (n: number): number[] => [0x60, ...vec(Array.from({ length: n }, () => [I32])), 0];
  const a32 = arith(4), a64 = arith(8);
  const vsums = [false, true].flatMap((all) => VSUM_WIDTHS.flatMap((nv) => [vsumBody(a32, nv, all), vsumBody(a64, nv, all)]));
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type(5), type(6), SCALE_TYPE, EXP_TYPE])),
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, 0x00, ...uleb(1)]])), // memory, min 1 page, no maximum
    ...section(3, vec([[0], [0], ...vsums.map(() => [1]), [2], [2], [3], [3]])),
    ...section(7, vec(NAMES.map((n, i) => [...name(n), 0x00, ...uleb(i)]))),
    ...section(10, vec([dotsBody(a32), dotsBody(a64), ...vsums, scaleBody(4), scaleBody(8), expNormBody(4), expNormBody(8)])),
  ];
  return new Uint8Array(bytes);
}

type Dots = (q: number, keys: number, blocks: number, E: number, out: number) => void;
type Vsum = (p: number, live: number, nLive: number, v: number, rowBytes: number, z: number) => void;
type Scale = (buf: number, vectors: number, sqrtE: number, out: number) => void;
type ExpNorm = (buf: number, vectors: number, n: number, max: number, scratch: number, frac: number, live: number) => number;

/** The compiled module, or null where WebAssembly SIMD is off or unavailable. */
const attentionModule = compiledOnce(moduleBytes);

// ------------------------------------------------------------ runtime

/**
 * A KV cache's attention storage in WebAssembly memory: per layer and head,
 * the keys in blocks and the values as rows of Ep, plus the query, score,
 * live-key and output scratch the kernels read and write. The caller points
 * `head` at the (layer, head) it attends before each attend().
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
  /** The score row (then the pattern), ⌈C/W⌉·W long. */
  readonly buf: FloatArray;
  /** Keys of nonzero weight, C long. */
  readonly live: Int32Array;
  /** Which layer·H + head the next attend() reads. */
  head: number;
  readonly blocksPerHead: number;
  readonly C: number;
  readonly q: FloatArray; // [Ep] the query, copied in
  readonly z: FloatArray; // [Ep] the value sum, copied out
  readonly dots: Dots;
  /** The passes of a value sum over a row: [byte offset in the row, listed-keys form, every-key form]. */
  readonly vsumPasses: readonly (readonly [number, Vsum, Vsum])[];
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
}

/** Storage and kernels for L·H heads of width E over C positions, or null without WebAssembly SIMD. */
export function attentionWasm(precision: Precision, heads: number, E: number, C: number): AttentionWasm | null {
  const module = wasmAvailable() ? attentionModule() : null;
  if (module === null) return null;
  const f32 = precision === "float32";
  const es = f32 ? 4 : 8;
  const W = BLOCK_BYTES / es;
  const lanes = 16 / es;
  const Ep = Math.ceil(E / lanes) * lanes;
  const blocksPerHead = Math.ceil(C / W);
  const sizes = { kBlocks: heads * blocksPerHead * E * W, v: heads * C * Ep, buf: blocksPerHead * W, q: Ep, z: Ep, stats: 32 / es };
  let bytes = 0;
  const at: Record<string, number> = {};
  for (const [k, n] of Object.entries(sizes)) {
    at[k] = bytes;
    bytes += Math.ceil((n * es) / 16) * 16;
  }
  at.exps = bytes;
  bytes += blocksPerHead * W * 8;
  at.frac = bytes;
  bytes += EXP_NEG.FRAC.length * 8;
  at.live = bytes;
  bytes += C * 4;
  const pages = Math.ceil(bytes / 65536) + 1;
  const memory = new WebAssembly.Memory({ initial: pages });
  const ex = new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as Record<string, Dots & Vsum & Scale & ExpNorm>;
  const frac = new Float64Array(memory.buffer, at.frac, EXP_NEG.FRAC.length);
  frac.set(EXP_NEG.FRAC);
  const View = f32 ? Float32Array : Float64Array;
  const view = (k: keyof typeof sizes): FloatArray => new View(memory.buffer, at[k], sizes[k]);
  return {
    f32, E, Ep, W, C, blocksPerHead, head: 0,
    kBlocks: view("kBlocks"), v: view("v"), buf: view("buf"), q: view("q"), z: view("z"),
    live: new Int32Array(memory.buffer, at.live, C),
    dots: f32 ? ex.dots32 : ex.dots64,
    vsumPasses: vsumPasses(Ep / lanes, es * 8, ex),
    scale: f32 ? ex.scale32 : ex.scale64,
    expNorm: f32 ? ex.expNorm32 : ex.expNorm64,
    exps: new Float64Array(memory.buffer, at.exps, blocksPerHead * W),
    frac,
    stats: view("stats"),
    lowest: NaN,
  };
}

/** A row of `vectors` vectors cut into passes of the widest vsum that fits the rest. */
function vsumPasses(vectors: number, bits: number, ex: Record<string, Vsum>): [number, Vsum, Vsum][] {
  const passes: [number, Vsum, Vsum][] = [];
  for (let c = 0; c < vectors; ) {
    const nv = VSUM_WIDTHS.find((w) => w <= vectors - c)!;
    passes.push([16 * c, ex[`vsum${nv}_${bits}`], ex[`vsumAll${nv}_${bits}`]]);
    c += nv;
  }
  return passes;
}

/** Store key row `key` (E elements at key[kOff …]) as position t of head `head` in the block copy. */
export function storeKey(w: AttentionWasm, head: number, t: number, key: FloatArray, kOff: number): void {
  const { E, W } = w;
  const base = (head * w.blocksPerHead + Math.floor(t / W)) * E * W + (t % W);
  const kb = w.kBlocks;
  for (let e = 0; e < E; e++) kb[base + e * W] = key[kOff + e];
}

/**
 * Raw dot products of job's query with keys 0 … nKeys−1 of w.head into
 * job.buf (which must be w.buf); false, having done nothing, when there
 * are too few keys to repay the call (the JavaScript loops then run).
 */
export function attentionWasmScores(w: AttentionWasm, job: AttentionJob): boolean {
  const n = job.nKeys;
  if (n < WASM_MIN_KEYS) return false;
  const { E, W } = w;
  const es = w.f32 ? 4 : 8;
  w.q.set(job.q.subarray(job.qOff, job.qOff + E));
  const blocks = Math.ceil(n / W);
  w.dots(w.q.byteOffset, w.kBlocks.byteOffset + w.head * w.blocksPerHead * E * W * es, blocks, E, w.buf.byteOffset);
  return true;
}

/**
 * job.z[zOff, zOff+E) = Σ_t buf[live[t]] · v[live[t]] of w.head over the
 * first nLive listed keys (job.buf, job.live and job.v must be w's); false
 * when few keys are listed (the JavaScript loops then run).
 */
export function attentionWasmValues(w: AttentionWasm, job: AttentionJob, nLive: number): boolean {
  if (nLive < WASM_MIN_LIVE) return false;
  const es = w.f32 ? 4 : 8;
  const rowBytes = w.Ep * es;
  const v0 = w.v.byteOffset + w.head * w.C * rowBytes;
  const p = w.buf.byteOffset, live = w.live.byteOffset, z = w.z.byteOffset;
  // Every key listed (soft attention): stream them in order without the list.
  const all = nLive === job.nKeys;
  const passes = w.vsumPasses;
  for (let i = 0; i < passes.length; i++) {
    const [c, listed, every] = passes[i];
    (all ? every : listed)(p, live, nLive, v0 + c, rowBytes, z + c);
  }
  job.z.set(w.z.subarray(0, w.E), job.zOff);
  return true;
}

/**
 * Scale the raw dot products attentionWasmScores left in job.buf by 1/√E
 * (scaleScores's arithmetic) and return their maximum; records their
 * minimum in w.lowest for attentionWasmSoftmax.
 */
export function attentionWasmScale(w: AttentionWasm, job: AttentionJob): number {
  const n = job.nKeys;
  const lanes = w.f32 ? 4 : 2;
  const vectors = Math.ceil(n / lanes);
  const buf = w.buf;
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
 * softmaxLive over the scores attentionWasmScale just scaled, in
 * WebAssembly, when every key's exponent lies in expNeg's polynomial range
 * and above the cut (then every key is listed): returns the count of listed
 * keys, or −1, having done nothing, for the JavaScript softmax to run.
 */
export function attentionWasmSoftmax(w: AttentionWasm, job: AttentionJob, max: number): number {
  const n = job.nKeys;
  const floor = Math.max(softmaxCut(w.buf), EXP_NEG.MIN);
  if (!(w.lowest - max >= floor)) return -1;
  const lanes = w.f32 ? 4 : 2;
  w.expNorm(w.buf.byteOffset, Math.ceil(n / lanes), n, max, w.exps.byteOffset, w.frac.byteOffset, w.live.byteOffset);
  return n;
}
