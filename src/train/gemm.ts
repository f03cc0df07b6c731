/**
 * The one matrix product the training passes are built on, on strided
 * operands in a shared workspace, as a WebAssembly SIMD kernel (f32x4 or
 * f64x2, assembled in trainKernels.ts) with a JavaScript twin that gives the
 * same bits, and the helper thread that shares big products and the
 * per-sequence attention jobs:
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
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { FloatArray } from "../model/weights.ts";
import { wasmAvailable, wasmKernel, wasmSettings } from "../sim/wasm.ts";
import type { TrainPrecision } from "./params.ts";
import { ACCUMULATE, CAUSAL_N, EXPORTS, GEMM_JOB, K_FROM, K_UPTO, moduleBytes, ROWS } from "./trainKernels.ts";

export { ACCUMULATE, CAUSAL_N, K_FROM, K_UPTO };

type ExportName = (typeof EXPORTS)[number];
type GemmFn = (a: number, b: number, out: number, M: number, K: number, N: number, ars: number, aks: number, bks: number, ors: number, mode: number, tmp: number) => void;
type JobFn = (desc: number, chunk: number, scratch: number) => void;

/** The instantiated module. */
export interface Kernels {
  readonly gemm32: GemmFn;
  readonly gemm64: GemmFn;
  readonly jobs: Record<ExportName, JobFn>;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
}

/** The region of the kernels' memory the training passes use: above the simulator's arena (≤ 256 MiB) and its scratch. */
const REGION_START = 640 * 2 ** 20;
const REGION_END = 1024 * 2 ** 20;
/** 64 bytes of partial-panel scratch for products this thread runs outside jobs. */
const TMP_ADDR = REGION_START;
/** Job descriptors (1 KiB), then the workspace proper. */
export const DESC_ADDR = REGION_START + 64;
const WORK_START = REGION_START + 64 + 1024;

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
    const e = new WebAssembly.Instance(module, { env: { mem: k.memory } }).exports as unknown as Record<ExportName, JobFn & GemmFn>;
    kernels = { gemm32: e.gemm32, gemm64: e.gemm64, jobs: e, memory: k.memory, module };
  } catch {
    kernels = null;
  }
  return kernels;
}

// ------------------------------------------------------------ the helper thread

/**
 * A helper thread runs the module's job functions on the same (shared)
 * memory: a job is a function, a descriptor address and a number of chunks,
 * and both threads claim chunks from a counter until none is left, so a
 * helper that is slow to wake (a loaded machine) just takes fewer, and one
 * that never wakes costs nothing but the notify. Chunks write disjoint
 * outputs with the same code, so the bits never depend on who ran which.
 *
 * Control words (Int32 on a SharedArrayBuffer): [0] job number (−1: stop),
 * [1] function index, [2] descriptor, [3] chunks, [4] the helper's scratch,
 * [5] claim counter: (job number mod 2¹⁶) << 16 | next chunk, [6] chunks the
 * helper finished. A claim is a compare-and-swap on [5] that also checks the
 * job number, and the counter is closed (next chunk 0xffff) before any word
 * of a later job is written, so a helper that read a half-written job never
 * claims anything from it.
 */
interface Helper {
  readonly control: Int32Array;
  seq: number;
}

let helper: Helper | null | undefined;

const HELPER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, control, names } = workerData;
const e = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
const fns = names.map((n) => e[n]);
const c = new Int32Array(control);
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  if (seen < 0) break;
  const f = fns[c[1]], desc = c[2], n = c[3], scratch = c[4];
  if (Atomics.load(c, 0) !== seen) continue;
  const tag = (seen & 0xffff) << 16;
  for (;;) {
    const cur = Atomics.load(c, 5);
    if ((cur & 0xffff0000) !== tag || (cur & 0xffff) >= n) break;
    if (Atomics.compareExchange(c, 5, cur, cur + 1) !== cur) continue;
    f(desc, cur & 0xffff, scratch);
    Atomics.add(c, 6, 1);
    Atomics.notify(c, 6);
  }
}
`;

function helperThread(k: Kernels): Helper | null {
  if (helper !== undefined) return helper;
  helper = null;
  // (Unlike the simulator's helper, this one also starts inside a worker thread: the test runner's.)
  if (process.env.CIRCUITS_WASM_THREADS === "0" || (availableParallelism() < 2 && !jobSettings.helperOnly)) return helper;
  try {
    const control = new Int32Array(new SharedArrayBuffer(8 * 4));
    const w = new Worker(HELPER_SOURCE, { eval: true, workerData: { module: k.module, memory: k.memory, control: control.buffer, names: [...EXPORTS] } });
    w.unref(); // never keeps the process alive; it only ever waits on the control word
    w.on("error", () => {
      helper = null;
    });
    helper = { control, seq: 0 };
  } catch {
    helper = null;
  }
  return helper;
}

/** Threads the training jobs have run on so far: 2 once the helper thread has started, else 1. */
export function jobThreads(): number {
  return helper ? 2 : 1;
}

/** For tests: the helper runs every chunk (this thread only waits), and how many chunks it has run. */
export const jobSettings = { helperOnly: false, helperChunks: 0 };

/**
 * Run chunks 0 … n−1 of a job (an exported job function on a descriptor at
 * `desc`), shared with the helper thread when there is one; `scratch0` and
 * `scratch1` are this thread's and the helper's own scratch addresses.
 */
export function runJob(name: ExportName, desc: number, n: number, scratch0: number, scratch1: number): void {
  const k = kernels!;
  const f = k.jobs[name];
  const h = (n >= 2 || jobSettings.helperOnly) && wasmSettings.threads ? helperThread(k) : null;
  if (!h) {
    for (let i = 0; i < n; i++) f(desc, i, scratch0);
    return;
  }
  if (n >= 0xffff) throw new Error(`runJob: ${n} chunks is too many`);
  const c = h.control;
  h.seq = (h.seq + 1) & 0x7fffffff;
  const seq = h.seq, tag = (seq & 0xffff) << 16;
  c[1] = EXPORTS.indexOf(name);
  c[2] = desc;
  c[3] = n;
  c[4] = scratch1;
  Atomics.store(c, 6, 0);
  Atomics.store(c, 5, tag);
  Atomics.store(c, 0, seq);
  Atomics.notify(c, 0);
  let mine = 0;
  for (; !jobSettings.helperOnly;) {
    const cur = Atomics.load(c, 5);
    if ((cur & 0xffff) >= n) break;
    if (Atomics.compareExchange(c, 5, cur, cur + 1) !== cur) continue;
    f(desc, cur & 0xffff, scratch0);
    mine++;
  }
  for (;;) {
    const d = Atomics.load(c, 6);
    if (mine + d >= n) break;
    if (Atomics.wait(c, 6, d, 60_000) === "timed-out") throw new Error("runJob: the helper thread did not finish its chunks");
  }
  Atomics.store(c, 5, tag | 0xffff);
  jobSettings.helperChunks += n - mine;
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

/** How a product is cut into chunks for two threads: by rows of out, or by panels (groups of columns). */
export type Split = "rows" | "panels";

/** Rows per chunk of a product cut by rows (a multiple of 4: whole row blocks). */
const ROWS_PER_CHUNK = 64;
/** k block of a product cut by panels: 256 rows of A and of B stay in L2 across a chunk. */
const K_BLOCK = 256;
/** A product cut by panels goes in about this many chunks. */
const PANEL_CHUNKS = 8;

/**
 * gemm, shared with the helper thread (in chunks of rows or of panels, the
 * same bits as one call) on a WebAssembly workspace, else one call.
 * `scratch` holds this thread's and the helper's 64-byte scratch (element
 * offsets). The mode must not depend on the row or k (no causal bits).
 */
export function product(
  ws: Workspace, M: number, N: number, K: number,
  a: number, ars: number, aks: number, b: number, bks: number, o: number, ors: number, mode: number,
  split: Split, scratch: readonly [number, number],
): void {
  if (ws.base < 0 || M <= 0 || N <= 0) {
    gemm(ws, M, N, K, a, ars, aks, b, bks, o, ors, mode);
    return;
  }
  if ((mode & ~ACCUMULATE) !== 0) throw new Error("product: causal products are not cut in chunks");
  const es = ws.precision === "float32" ? 4 : 8;
  const PE = 32 / es;
  const panels = Math.ceil(N / PE);
  const per = split === "rows" ? ROWS_PER_CHUNK : Math.ceil(panels / PANEL_CHUNKS);
  const n = split === "rows" ? Math.ceil(M / per) : Math.ceil(panels / per);
  const d = new Int32Array(kernels!.memory.buffer, DESC_ADDR, GEMM_JOB.bytes / 4);
  const G = GEMM_JOB;
  const at = (x: number) => ws.base + x * es;
  d[G.a / 4] = at(a);
  d[G.b / 4] = at(b);
  d[G.out / 4] = at(o);
  d[G.M / 4] = M;
  d[G.K / 4] = K;
  d[G.N / 4] = N;
  d[G.ars / 4] = ars * es;
  d[G.aks / 4] = aks * es;
  d[G.bks / 4] = bks * es;
  d[G.ors / 4] = ors * es;
  d[G.mode / 4] = mode;
  d[G.split / 4] = split === "rows" ? 0 : 1;
  d[G.per / 4] = per;
  d[G.kblock / 4] = K_BLOCK;
  runJob(es === 4 ? "gemmJob32" : "gemmJob64", DESC_ADDR, n, at(scratch[0]), at(scratch[1]));
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
    for (; i + ROWS <= M; i += ROWS) {
      const [ks, ke] = kRange(K, i, ROWS, mode);
      for (let r = 0; r < ROWS; r++) visit(i + r, ks, ke, j0, j1);
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
