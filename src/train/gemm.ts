/**
 * The one matrix product the training passes are built on, on strided
 * operands in a shared workspace, as a WebAssembly SIMD kernel (f32x4 or
 * f64x2, assembled here byte by byte) with a JavaScript twin that gives the
 * same bits:
 *
 *   out[i, j] (= 0 or += out[i, j]) + Σ_k A[i, k] · B[k, j]     i < M, j < N, k < K
 *   A[i, k] = m[a + i·ars + k·aks]      (any strides: Aᵀ is just swapped strides)
 *   B[k, j] = m[b + k·bks + j]          (rows contiguous)
 *   out[i, j] = m[o + i·ors + j]
 *
 * Each output element is one lane's sum over k ascending (a rounded multiply
 * then a rounded add; WebAssembly has no fused multiply-add), so the
 * JavaScript path (Math.fround after each operation in float32) computes
 * exactly the same numbers, and which one runs never changes a result.
 *
 * Mode bits make the causal attention products cost half of a square one:
 * CAUSAL_N skips output columns right of the diagonal block (row i needs
 * j ≤ i only), K_UPTO sums k < i + 4 only (A zero right of its diagonal),
 * K_FROM sums k ≥ i only (A zero left of its diagonal). Rows go four at a
 * time against panels of 32 bytes of B (8 float32 or 4 float64 columns);
 * a partial last panel is stored through a 32-byte scratch (tmp) so no
 * column at or beyond N is ever written.
 *
 * The workspace is one region of the simulator's WebAssembly memory (above
 * its arena, see src/sim/wasm.ts), shared by every training engine, or a
 * plain array buffer where WebAssembly SIMD is off.
 */
import type { FloatArray } from "../model/weights.ts";
import { section, sleb, uleb, vec, wasmAvailable, wasmKernel } from "../sim/wasm.ts";
import type { TrainPrecision } from "./params.ts";

/** out += instead of out =. */
export const ACCUMULATE = 1;
/** Row i needs output columns j < (panel of i) + 1 only. */
export const CAUSAL_N = 2;
/** Row block i … i+3 sums k < i + 4 only (single rows: k ≤ i). */
export const K_UPTO = 4;
/** Row block i … sums k ≥ i only. */
export const K_FROM = 8;

// ------------------------------------------------------------ assembling
const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const I32 = 0x7f, V128 = 0x7b;
const get = (l: number) => [0x20, ...uleb(l)];
const set = (l: number) => [0x21, ...uleb(l)];
const i32 = (n: number) => [0x41, ...sleb(n)];
const ADD = [0x6a], SUB = [0x6b], MUL = [0x6c], AND = [0x71], SHR_U = [0x76];
const GT_S = [0x4a], LE_S = [0x4c], LT_S = [0x48], SELECT = [0x1b];
const IF = [0x04, 0x40], ELSE = [0x05], END = [0x0b];
const simd = (code: number, ...rest: number[]) => [0xfd, ...uleb(code), ...rest];
const V_LOAD = (off: number) => simd(0x00, 0, ...uleb(off));
const V_STORE = (off: number) => simd(0x0b, 0, ...uleb(off));
const V_ZERO = simd(0x0c, ...new Array<number>(16).fill(0));
const MEMCPY = [0xfc, ...uleb(10), 0, 0];

// params
const [A, B, OUT, M, K, N, ARS, AKS, BKS, ORS, MODE, TMP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
// i32 locals
const [NP, PN, I, KS, KE, KK, X0, X1, X2, X3, WP, OP, BP, OC, REMB] = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26];
const N_I32 = 15;
// v128 locals
const ACC = [27, 28, 29, 30, 31, 32, 33, 34];
const [W0, W1, AV] = [35, 36, 37];
const N_V128 = 11;

/** while (cond) body — cond leaves an i32 that is nonzero to continue. */
const whileLoop = (cond: number[], body: number[]): number[] => [0x02, 0x40, 0x03, 0x40, ...cond, 0x45, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b];
const addTo = (l: number, by: number[]) => [...get(l), ...by, ...ADD, ...set(l)];
const mode = (bit: number) => [...get(MODE), ...i32(bit), ...AND];

function kernelBody(es: 4 | 8): number[] {
  const PE = 32 / es; // elements per panel
  const LOG_PE = es === 4 ? 3 : 2;
  const splat = es === 4 ? simd(0x09, 0, 0) : simd(0x0a, 0, 0);
  const vadd = es === 4 ? simd(0xe4) : simd(0xf0);
  const vmul = es === 4 ? simd(0xe6) : simd(0xf2);
  const xs = [X0, X1, X2, X3];

  /** One block of `rows` rows at row I of panel PN. */
  const block = (rows: number): number[] => {
    const c: number[] = [];
    // KS = K_FROM ? I : 0;  KE = K_UPTO ? min(K, I + rows) : K
    c.push(...get(I), ...i32(0), ...mode(K_FROM), ...SELECT, ...set(KS));
    c.push(...get(K), ...get(I), ...i32(rows), ...ADD, ...get(K), ...get(I), ...i32(rows), ...ADD, ...LT_S, ...SELECT, ...set(KE));
    c.push(...get(KE), ...get(K), ...mode(K_UPTO), ...SELECT, ...set(KE));
    // row pointers and the panel pointer at k = KS
    c.push(...get(A), ...get(I), ...get(ARS), ...MUL, ...ADD, ...get(KS), ...get(AKS), ...MUL, ...ADD, ...set(X0));
    for (let r = 1; r < rows; r++) c.push(...get(xs[r - 1]!), ...get(ARS), ...ADD, ...set(xs[r]!));
    c.push(...get(BP), ...get(KS), ...get(BKS), ...MUL, ...ADD, ...set(WP));
    c.push(...get(OC), ...get(I), ...get(ORS), ...MUL, ...ADD, ...set(OP));
    // accumulators: from out, or zero
    c.push(...mode(ACCUMULATE), ...IF);
    for (let r = 0; r < rows; r++) {
      c.push(...get(OP), ...get(ORS), ...i32(r), ...MUL, ...ADD, ...V_LOAD(0), ...set(ACC[2 * r]!));
      c.push(...get(OP), ...get(ORS), ...i32(r), ...MUL, ...ADD, ...V_LOAD(16), ...set(ACC[2 * r + 1]!));
    }
    c.push(...ELSE);
    for (let a = 0; a < 2 * rows; a++) c.push(...V_ZERO, ...set(ACC[a]!));
    c.push(...END);
    // the k loop
    c.push(...get(KE), ...get(KS), ...SUB, ...set(KK));
    const body: number[] = [...get(WP), ...V_LOAD(0), ...set(W0), ...get(WP), ...V_LOAD(16), ...set(W1)];
    for (let r = 0; r < rows; r++) {
      body.push(...get(xs[r]!), ...splat, ...set(AV));
      body.push(...get(ACC[2 * r]!), ...get(AV), ...get(W0), ...vmul, ...vadd, ...set(ACC[2 * r]!));
      body.push(...get(ACC[2 * r + 1]!), ...get(AV), ...get(W1), ...vmul, ...vadd, ...set(ACC[2 * r + 1]!));
    }
    for (let r = 0; r < rows; r++) body.push(...addTo(xs[r]!, get(AKS)));
    body.push(...addTo(WP, get(BKS)), ...get(KK), ...i32(1), ...SUB, ...set(KK));
    c.push(...whileLoop([...get(KK), ...i32(0), ...GT_S], body));
    // store: whole panels, or the first REMB bytes through tmp
    c.push(...get(REMB), 0x45, ...IF);
    for (let r = 0; r < rows; r++) {
      c.push(...get(OP), ...get(ACC[2 * r]!), ...V_STORE(0), ...get(OP), ...get(ACC[2 * r + 1]!), ...V_STORE(16));
      if (r + 1 < rows) c.push(...addTo(OP, get(ORS)));
    }
    c.push(...ELSE);
    for (let r = 0; r < rows; r++) {
      c.push(...get(TMP), ...get(ACC[2 * r]!), ...V_STORE(0), ...get(TMP), ...get(ACC[2 * r + 1]!), ...V_STORE(16));
      c.push(...get(OP), ...get(TMP), ...get(REMB), ...MEMCPY);
      if (r + 1 < rows) c.push(...addTo(OP, get(ORS)));
    }
    c.push(...END);
    c.push(...addTo(I, i32(rows)));
    return c;
  };

  const code: number[] = [];
  code.push(...get(N), ...i32(PE - 1), ...ADD, ...i32(LOG_PE), ...SHR_U, ...set(NP));
  code.push(...i32(0), ...set(PN));
  const panel: number[] = [
    ...get(B), ...get(PN), ...i32(32), ...MUL, ...ADD, ...set(BP),
    ...get(OUT), ...get(PN), ...i32(32), ...MUL, ...ADD, ...set(OC),
    // REMB = (PN + 1)·PE > N ? (N − PN·PE)·es : 0
    ...get(N), ...get(PN), ...i32(PE), ...MUL, ...SUB, ...i32(es), ...MUL, ...i32(0),
    ...get(PN), ...i32(1), ...ADD, ...i32(PE), ...MUL, ...get(N), ...GT_S, ...SELECT, ...set(REMB),
    // I = CAUSAL_N ? PN·PE : 0
    ...get(PN), ...i32(PE), ...MUL, ...i32(0), ...mode(CAUSAL_N), ...SELECT, ...set(I),
    ...whileLoop([...get(I), ...i32(4), ...ADD, ...get(M), ...LE_S], block(4)),
    ...whileLoop([...get(I), ...get(M), ...LT_S], block(1)),
    ...addTo(PN, i32(1)),
  ];
  code.push(...whileLoop([...get(PN), ...get(NP), ...LT_S], panel));
  const b = [...vec([[N_I32, I32], [N_V128, V128]]), ...code, 0x0b];
  return [...uleb(b.length), ...b];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const fnType = [0x60, ...vec(new Array<number[]>(12).fill([I32])), 0];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([fnType])),
    ...section(2, vec([[...str("env"), ...str("mem"), 0x02, 0x03, ...uleb(1), ...uleb(MAX_PAGES)]])),
    ...section(3, vec([[0], [0]])),
    ...section(7, vec([[...str("gemm32"), 0x00, 0], [...str("gemm64"), 0x00, 1]])),
    ...section(10, vec([kernelBody(4), kernelBody(8)])),
  ]);
}

// ------------------------------------------------------------ runtime
type GemmFn = (a: number, b: number, out: number, M: number, K: number, N: number, ars: number, aks: number, bks: number, ors: number, mode: number, tmp: number) => void;

interface Kernels {
  readonly gemm32: GemmFn;
  readonly gemm64: GemmFn;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
}

/** src/sim/wasm.ts's memory limit (pages of 64 KiB): 1 GiB. */
const MAX_PAGES = 16384;
/** The workspace region: above the simulator's arena (≤ 256 MiB) and its scratch. */
const REGION_START = 640 * 2 ** 20;
const REGION_END = 1024 * 2 ** 20;
/** 32 bytes for partial panels, then the workspace proper. */
const TMP_ADDR = REGION_START;
const WORK_START = REGION_START + 64;

let kernels: Kernels | null | undefined;

/** The compiled kernels, or null without WebAssembly SIMD (or with wasmSettings.enabled off). */
export function gemmKernels(): Kernels | null {
  if (!wasmAvailable()) return null;
  if (kernels !== undefined) return kernels;
  kernels = null;
  const k = wasmKernel();
  if (!k) return null;
  try {
    const bytes = moduleBytes();
    if (!WebAssembly.validate(bytes)) return null;
    const module = new WebAssembly.Module(bytes);
    const e = new WebAssembly.Instance(module, { env: { mem: k.memory } }).exports as unknown as Record<"gemm32" | "gemm64", GemmFn>;
    kernels = { gemm32: e.gemm32, gemm64: e.gemm64, memory: k.memory, module };
  } catch {
    kernels = null;
  }
  return kernels;
}

/** A view of the whole workspace (element offsets index it) and how products run on it. */
export interface Workspace {
  readonly m: FloatArray;
  /** Byte address of m[0] in the kernels' memory, or −1 for a plain (JavaScript) workspace. */
  readonly base: number;
  readonly precision: TrainPrecision;
}

let current: Workspace | null = null;
let plainBuffer: ArrayBuffer | null = null;

/**
 * A workspace of at least n elements. Every engine shares it (passes never
 * interleave), so it is only as big as the biggest engine needs; the same
 * object is returned until something changes (size, precision, WebAssembly
 * on or off), and a caller that sees a new one must treat its contents as
 * garbage.
 */
export function workspace(precision: TrainPrecision, n: number): Workspace {
  const es = precision === "float32" ? 4 : 8;
  const ks = gemmKernels();
  const bytes = Math.ceil((n * es + 64) / 64) * 64; // slack: whole-panel reads past the last element
  if (ks && WORK_START + bytes <= REGION_END) {
    const buf = ks.memory.buffer;
    if (current && current.base >= 0 && current.precision === precision && current.m.buffer === buf && current.m.length >= n) return current;
    const have = buf.byteLength;
    if (WORK_START + bytes > have) ks.memory.grow(Math.ceil((WORK_START + bytes - have) / 65536));
    const b2 = ks.memory.buffer;
    const len = Math.floor((b2.byteLength - WORK_START) / es);
    current = { m: es === 4 ? new Float32Array(b2, WORK_START, len) : new Float64Array(b2, WORK_START, len), base: WORK_START, precision };
    return current;
  }
  if (current && current.base < 0 && current.precision === precision && current.m.length >= n) return current;
  if (!plainBuffer || plainBuffer.byteLength < bytes) plainBuffer = new ArrayBuffer(Math.max(bytes, (plainBuffer?.byteLength ?? 0) * 2));
  const len = Math.floor(plainBuffer.byteLength / es);
  current = { m: es === 4 ? new Float32Array(plainBuffer, 0, len) : new Float64Array(plainBuffer, 0, len), base: -1, precision };
  return current;
}

/**
 * out = (mode & ACCUMULATE ? out : 0) + A·B on the workspace (see the module
 * comment for the operands, strides in elements, and the mode bits).
 * Requirements: B's rows may be read up to ⌈N/P⌉·P columns (the workspace
 * has slack for the last row).
 */
export function gemm(
  ws: Workspace, M: number, N: number, K: number,
  a: number, ars: number, aks: number, b: number, bks: number, o: number, ors: number, mode: number,
): void {
  if (M <= 0 || N <= 0) return;
  if (ws.base >= 0) {
    const ks = kernels!;
    const es = ws.precision === "float32" ? 4 : 8;
    const f = es === 4 ? ks.gemm32 : ks.gemm64;
    f(ws.base + a * es, ws.base + b * es, ws.base + o * es, M, K, N, ars * es, aks * es, bks * es, ors * es, mode, TMP_ADDR);
    return;
  }
  if (ws.precision === "float32") plainGemm32(ws.m, M, N, K, a, ars, aks, b, bks, o, ors, mode);
  else plainGemm64(ws.m, M, N, K, a, ars, aks, b, bks, o, ors, mode);
}

/** The k range the kernel sums for row i (in a block starting at i0 of `rows` rows). */
function kRange(K: number, i0: number, rows: number, mode: number): [number, number] {
  const ks = mode & K_FROM ? i0 : 0;
  const ke = mode & K_UPTO ? Math.min(K, i0 + rows) : K;
  return [ks, ke];
}

/** The rows and panels the kernel visits, calling visit(i, kStart, kEnd, j0, j1) per row and panel. */
function walk(M: number, N: number, K: number, mode: number, PE: number, visit: (i: number, ks: number, ke: number, j0: number, j1: number) => void): void {
  const panels = Math.ceil(N / PE);
  for (let p = 0; p < panels; p++) {
    const j0 = p * PE, j1 = Math.min(N, j0 + PE);
    let i = mode & CAUSAL_N ? j0 : 0;
    for (; i + 4 <= M; i += 4) {
      const [ks, ke] = kRange(K, i, 4, mode);
      for (let r = 0; r < 4; r++) visit(i + r, ks, ke, j0, j1);
    }
    for (; i < M; i++) {
      const [ks, ke] = kRange(K, i, 1, mode);
      visit(i, ks, ke, j0, j1);
    }
  }
}

function plainGemm32(m: FloatArray, M: number, N: number, K: number, a: number, ars: number, aks: number, b: number, bks: number, o: number, ors: number, mode: number): void {
  const fr = Math.fround;
  walk(M, N, K, mode, 8, (i, ks, ke, j0, j1) => {
    for (let j = j0; j < j1; j++) {
      let s = mode & ACCUMULATE ? m[o + i * ors + j] : 0;
      for (let k = ks; k < ke; k++) s = fr(s + fr(m[a + i * ars + k * aks] * m[b + k * bks + j]));
      m[o + i * ors + j] = s;
    }
  });
}

function plainGemm64(m: FloatArray, M: number, N: number, K: number, a: number, ars: number, aks: number, b: number, bks: number, o: number, ors: number, mode: number): void {
  walk(M, N, K, mode, 4, (i, ks, ke, j0, j1) => {
    for (let j = j0; j < j1; j++) {
      let s = mode & ACCUMULATE ? m[o + i * ors + j] : 0;
      for (let k = ks; k < ke; k++) s += m[a + i * ars + k * aks] * m[b + k * bks + j];
      m[o + i * ors + j] = s;
    }
  });
}
