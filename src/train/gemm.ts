/**
 * The training passes' products, on strided operands in a shared workspace:
 * the kernel module's product (src/kernels/gemmCode.ts) on a workspace in
 * the module's memory, with a JavaScript twin that gives the plain
 * variant's bits where WebAssembly SIMD is off:
 *
 *   out[i, j] (= 0 or += out[i, j]) + Σ_k A[i, k] · B[k, j]     i < M, j < N, k < K
 *   A[i, k] = m[a + i·ars + k·aks]      (any strides: Aᵀ is just swapped strides)
 *   B[k, j] = m[b + k·bks + j]          (rows contiguous)
 *   out[i, j] = m[o + i·ors + j]
 *
 * Big products are cut in tiles that the helper thread (src/kernels/helper.ts,
 * the same one the simulator uses) shares; the per-sequence attention and
 * layer jobs of trainKernels.ts go through it too.
 *
 * The workspace is one region of the kernel module's memory (above the
 * simulator's arena and operands, see src/kernels/exports.ts), shared by
 * every training engine, or a plain array buffer where WebAssembly SIMD is
 * off.
 */
import type { FloatArray } from "../model/weights.ts";
import { DESC_ADDR, type ExportName, MEMORY_END, TMP0, WORK_START } from "../kernels/exports.ts";
import { ACCUMULATE, CAUSAL_N, K_FROM, K_UPTO, ROWS } from "../kernels/gemmCode.ts";
import { jobThreads, runJob as runKernelJob, threadSettings } from "../kernels/helper.ts";
import { activeInstance, kernelModule, type Kernels } from "../kernels/module.ts";
import { productCall, productTiles } from "../kernels/product.ts";
import { wasmAvailable } from "../sim/wasm.ts";
import type { TrainPrecision } from "./params.ts";

export { ACCUMULATE, CAUSAL_N, DESC_ADDR, jobThreads, K_FROM, K_UPTO };

/** For tests: the helper runs every chunk (this thread only waits), and how many chunks it has run. */
export const jobSettings = threadSettings;

/** The module's memory and the functions of the variant in use. */
export interface TrainKernels {
  readonly memory: WebAssembly.Memory;
  readonly jobs: Record<ExportName, (...args: number[]) => void>;
}

/** The compiled kernels, or null without WebAssembly SIMD (or with wasmSettings.enabled off). */
export function gemmKernels(): TrainKernels | null {
  const k = wasmAvailable() ? kernelModule() : null;
  return k ? { memory: k.memory, jobs: activeInstance(k).fns } : null;
}

/**
 * Run chunks 0 … n−1 of a job (an exported job function on a descriptor at
 * `desc`), shared with the helper thread when there is one; `scratch0` and
 * `scratch1` are this thread's and the helper's own scratch addresses.
 */
export function runJob(name: ExportName, desc: number, n: number, scratch0: number, scratch1: number): void {
  runKernelJob(kernelModule()!, name, desc, n, scratch0, scratch1);
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
  const ks = wasmAvailable() ? kernelModule() : null;
  const bytes = Math.ceil((n * es + 64) / 64) * 64; // slack: whole-panel reads past the last element
  if (ks && WORK_START + bytes <= MEMORY_END) {
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
    const es = ws.precision === "float32" ? 4 : 8;
    productCall(kernelModule()!, es, {
      a: ws.base + a * es, b: ws.base + b * es, out: ws.base + o * es, M, K, N,
      ars: ars * es, aks: aks * es, bks: bks * es, bps: 32, ors: ors * es, mode, bias: 0,
    }, TMP0);
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
  const panels = Math.ceil(N / (32 / es));
  const tiles = split === "rows"
    ? { rper: ROWS_PER_CHUNK, pper: panels, kblock: K }
    : { rper: M, pper: Math.ceil(panels / PANEL_CHUNKS), kblock: K_BLOCK };
  const at = (x: number) => ws.base + x * es;
  productTiles(kernelModule()!, es, {
    a: at(a), b: at(b), out: at(o), M, K, N, ars: ars * es, aks: aks * es, bks: bks * es, bps: 32, ors: ors * es, mode, bias: 0,
  }, tiles, true, [at(scratch[0]), at(scratch[1])]);
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
