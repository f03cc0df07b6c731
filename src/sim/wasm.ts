/**
 * A WebAssembly SIMD (128-bit) kernel for the dense product out = x · W, in
 * float32 (f32x4) and float64 (f64x2), assembled here byte by byte (no
 * toolchain, no binary in the repository).
 *
 * W is packed in panels of P = 32 bytes of columns (8 float32 or 4 float64):
 * panel p holds W[k, p·P .. p·P+P) for k = 0 … K-1 contiguously, so the inner
 * loop streams one panel (≤ 16 KiB for K = 512: it stays in L1) while four
 * rows of x are broadcast against it into 8 vector accumulators. Each output
 * element is one lane summing x[i, k]·W[k, j] for k ascending from +0, with a
 * rounded multiply then a rounded add (WebAssembly has no fused multiply-add)
 * — exactly the arithmetic of the JavaScript kernels (see matmulDense), so
 * the WebAssembly and JavaScript paths give the same bits and either may
 * serve any call.
 *
 * Packed weights are copied into the module's memory on first use and stay
 * there (a bounded arena, refilled when full); x and out are copied in and
 * out per call, which is cheap next to the product.
 */
import { availableParallelism } from "node:os";
import { isMainThread, Worker } from "node:worker_threads";
import type { FloatArray } from "../model/weights.ts";

/** Panel width in bytes: two 128-bit vectors. */
const PANEL_BYTES = 32;

/** Largest memory (64 KiB pages): 1 GiB, reserved, not committed. */
const MAX_PAGES = 16384;

// ------------------------------------------------------------ a tiny assembler

/** Unsigned LEB128, as WebAssembly encodes sizes and indices. */
export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
/** Signed LEB128, as WebAssembly encodes integer constants. */
export const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
/** A WebAssembly vector: its length, then its items. */
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
/** A module section: id, byte length, body. */
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

const I32 = 0x7f, V128 = 0x7b;
const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  i32: (n: number) => [0x41, ...sleb(n)],
  add: [0x6a], mul: [0x6c], sub: [0x6b],
  geU: [0x4f], gtU: [0x4b], eqz: [0x45],
  block: [0x02, 0x40], loop: [0x03, 0x40], end: [0x0b],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  simd: (code: number, ...rest: number[]) => [0xfd, ...uleb(code), ...rest],
};
const v128load = (offset: number) => op.simd(0x00, 4, ...uleb(offset));
const v128store = (offset: number) => op.simd(0x0b, 4, ...uleb(offset));
const v128zero = op.simd(0x0c, ...new Array(16).fill(0));

/** The body of mm(x, w, out, M, K, panels, outStride) for one element type: panels 0 … panels-1 of W into out (rows outStride bytes apart). */
function kernelBody(es: 4 | 8): number[] {
  const splat = es === 4 ? op.simd(0x09, 2, 0) : op.simd(0x0a, 3, 0); // v128.load32_splat / load64_splat
  const vadd = es === 4 ? op.simd(0xe4) : op.simd(0xf0); // f32x4.add / f64x2.add
  const vmul = es === 4 ? op.simd(0xe6) : op.simd(0xf2); // f32x4.mul / f64x2.mul
  // params: 0 x, 1 w, 2 out, 3 M, 4 K, 5 panels, 6 out row stride in bytes
  const [X, W, OUT, M, K, NP, OSTRIDE] = [0, 1, 2, 3, 4, 5, 6];
  // i32 locals 7…18, v128 locals 19…29
  const [P, I, KK, X0, X1, X2, X3, WP, OP, ROW, OROW, WPAN] = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const ACC = [19, 20, 21, 22, 23, 24, 25, 26];
  const [W0, W1, A] = [27, 28, 29];
  const code: number[] = [];
  const emit = (...parts: number[][]) => parts.forEach((p) => code.push(...p));

  // acc[2r], acc[2r+1] += splat(x_r) · (w0, w1)
  const fma = (xr: number, a0: number, a1: number) =>
    emit(op.get(xr), splat, op.set(A),
      op.get(a0), op.get(A), op.get(W0), vmul, vadd, op.set(a0),
      op.get(a1), op.get(A), op.get(W1), vmul, vadd, op.set(a1));
  const bump = (l: number, by: number) => emit(op.get(l), op.i32(by), op.add, op.set(l));
  /** The k loop over `rows` rows (pointers X0…X3), panel pointer WP. */
  const kLoop = (rows: number) => {
    emit(op.get(K), op.set(KK), op.block, op.loop, op.get(KK), op.eqz, op.brIf(1));
    emit(op.get(WP), v128load(0), op.set(W0), op.get(WP), v128load(16), op.set(W1));
    const xs = [X0, X1, X2, X3];
    for (let r = 0; r < rows; r++) fma(xs[r]!, ACC[2 * r]!, ACC[2 * r + 1]!);
    for (let r = 0; r < rows; r++) bump(xs[r]!, es);
    bump(WP, PANEL_BYTES);
    emit(op.get(KK), op.i32(1), op.sub, op.set(KK), op.br(0), op.end, op.end);
  };
  /** Store `rows` rows of accumulators at out + i·OROW + p·32. */
  const store = (rows: number) => {
    emit(op.get(OUT), op.get(I), op.get(OROW), op.mul, op.add, op.get(P), op.i32(PANEL_BYTES), op.mul, op.add, op.set(OP));
    for (let r = 0; r < rows; r++) {
      emit(op.get(OP), op.get(ACC[2 * r]!), v128store(0), op.get(OP), op.get(ACC[2 * r + 1]!), v128store(16));
      if (r + 1 < rows) bump(OP, 0), emit(op.get(OP), op.get(OROW), op.add, op.set(OP));
    }
  };
  const zeroAcc = (rows: number) => {
    for (let a = 0; a < 2 * rows; a++) emit(v128zero, op.set(ACC[a]!));
  };
  const rowPtr = (dst: number) => emit(op.get(X), op.get(I), op.get(ROW), op.mul, op.add, op.set(dst));

  emit(op.get(K), op.i32(es), op.mul, op.set(ROW));
  emit(op.get(OSTRIDE), op.set(OROW));
  emit(op.i32(0), op.set(P));
  emit(op.block, op.loop, op.get(P), op.get(NP), op.geU, op.brIf(1)); // panels
  emit(op.get(W), op.get(P), op.get(K), op.mul, op.i32(PANEL_BYTES), op.mul, op.add, op.set(WPAN));
  emit(op.i32(0), op.set(I));
  // four rows at a time
  emit(op.block, op.loop, op.get(I), op.i32(4), op.add, op.get(M), op.gtU, op.brIf(1));
  rowPtr(X0);
  emit(op.get(X0), op.get(ROW), op.add, op.set(X1), op.get(X1), op.get(ROW), op.add, op.set(X2), op.get(X2), op.get(ROW), op.add, op.set(X3));
  emit(op.get(WPAN), op.set(WP));
  zeroAcc(4);
  kLoop(4);
  store(4);
  bump(I, 4);
  emit(op.br(0), op.end, op.end);
  // the remaining rows one at a time
  emit(op.block, op.loop, op.get(I), op.get(M), op.geU, op.brIf(1));
  rowPtr(X0);
  emit(op.get(WPAN), op.set(WP));
  zeroAcc(1);
  kLoop(1);
  store(1);
  bump(I, 1);
  emit(op.br(0), op.end, op.end);
  bump(P, 1);
  emit(op.br(0), op.end, op.end);
  emit(op.end);
  const locals = vec([[12, I32], [11, V128]]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const fnType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32]]), 0];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([fnType])),
    // memory imported as env.mem: shared (flag 3) so a helper thread can run the same kernel on it
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, 0x03, ...uleb(1), ...uleb(MAX_PAGES)]])),
    ...section(3, vec([[0], [0]])),
    ...section(7, vec([[...name("mm32"), 0x00, 0], [...name("mm64"), 0x00, 1]])),
    ...section(10, vec([kernelBody(4), kernelBody(8)])),
  ];
  return new Uint8Array(bytes);
}

// ------------------------------------------------------------ runtime

type MmFn = (x: number, w: number, out: number, M: number, K: number, panels: number, outStride: number) => void;

interface Kernel {
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly mm32: MmFn;
  readonly mm64: MmFn;
}

let kernel: Kernel | null | undefined;

/** The compiled kernel, or null where WebAssembly SIMD is unavailable (or CIRCUITS_NO_WASM is set). */
export function wasmKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  if (process.env.CIRCUITS_NO_WASM) return kernel;
  try {
    const bytes = moduleBytes();
    if (!WebAssembly.validate(bytes)) return kernel;
    const module = new WebAssembly.Module(bytes);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const e = new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as { mm32: MmFn; mm64: MmFn };
    kernel = { memory, module, mm32: e.mm32, mm64: e.mm64 };
  } catch {
    kernel = null;
  }
  return kernel;
}

// ------------------------------------------------------------ a helper thread

/**
 * One helper thread runs the same kernel on the same (shared) memory, so a
 * big product is shared between it and this thread: the rows and panels
 * (groups of output columns) are cut into chunks that both threads claim
 * from a shared counter until none is left, so a late or slow thread just
 * takes fewer.
 * Each output element is still one lane's k-ascending sum, whichever thread
 * computes it, so sharing changes no bit. Control words (Int32 on a
 * SharedArrayBuffer): [0] request number (-1: stop), [1] last request the
 * helper finished, [2] element size, [3] x, [4] w, [5] out, [6] M, [7] K,
 * [8] out row stride, [9] next chunk, [10] chunks, [11] panels per group,
 * [12] panels, [13] rows per block, [15] panel groups per row block.
 */
interface Helper {
  readonly control: Int32Array;
  seq: number;
}

let helper: Helper | null | undefined;

/** Products of at least this many multiply-adds are shared with the helper thread. */
export const PARALLEL_MIN_MACS = 1 << 21;

const HELPER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, control } = workerData;
const e = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
const c = new Int32Array(control);
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  if (seen < 0) break;
  const mm = c[2] === 4 ? e.mm32 : e.mm64;
  for (let i = Atomics.add(c, 9, 1); i < c[10]; i = Atomics.add(c, 9, 1)) {
    const r0 = Math.floor(i / c[15]) * c[13], p0 = (i % c[15]) * c[11];
    mm(c[3] + r0 * c[7] * c[2], c[4] + p0 * c[7] * 32, c[5] + r0 * c[8] + p0 * 32,
      Math.min(c[13], c[6] - r0), c[7], Math.min(c[11], c[12] - p0), c[8]);
  }
  Atomics.store(c, 1, seen);
  Atomics.notify(c, 1);
}
`;

/** The helper thread, started on first use; null when threads are off or unavailable. */
function helperThread(k: Kernel): Helper | null {
  if (helper !== undefined) return helper;
  helper = null;
  if (process.env.CIRCUITS_WASM_THREADS === "0" || availableParallelism() < 2 || !isMainThread) return helper;
  try {
    const control = new Int32Array(new SharedArrayBuffer(16 * 4));
    const w = new Worker(HELPER_SOURCE, { eval: true, workerData: { module: k.module, memory: k.memory, control: control.buffer } });
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

/** Bytes of x (a row block) and of W (a panel group) that one chunk works on: both stay in L2. */
const BLOCK_BYTES = 96 * 1024;

/**
 * out = x · W for m rows, in chunks of (row block × panel group) whose x and
 * W parts both fit in L2 (the kernel alone walks every row for each panel,
 * which for big x or W streams from memory), row-block-major so consecutive
 * chunks share x; big products share the chunks with the helper thread.
 */
function runSplit(k: Kernel, es: number, xBase: number, wOff: number, oBase: number, m: number, K: number, panels: number): void {
  const mm = es === 4 ? k.mm32 : k.mm64;
  const oStride = panels * PANEL_BYTES;
  const MB = Math.max(4, Math.min(256, Math.floor(BLOCK_BYTES / (K * es) / 4) * 4));
  const rowBlocks = Math.ceil(m / MB);
  const per = Math.max(1, Math.min(panels, Math.floor(BLOCK_BYTES / (K * PANEL_BYTES))));
  const groups = Math.ceil(panels / per);
  const chunks = rowBlocks * groups;
  const big = chunks >= 2 && m * K * panels * (PANEL_BYTES / es) >= PARALLEL_MIN_MACS;
  const h = big && wasmSettings.threads ? helperThread(k) : null;
  const run = (i: number) => {
    const r0 = Math.floor(i / groups) * MB, p0 = (i % groups) * per;
    mm(xBase + r0 * K * es, wOff + p0 * K * PANEL_BYTES, oBase + r0 * oStride + p0 * PANEL_BYTES,
      Math.min(MB, m - r0), K, Math.min(per, panels - p0), oStride);
  };
  if (!h) {
    for (let i = 0; i < chunks; i++) run(i);
    return;
  }
  const c = h.control;
  const seq = ++h.seq;
  c[2] = es;
  c[3] = xBase;
  c[4] = wOff;
  c[5] = oBase;
  c[6] = m;
  c[7] = K;
  c[8] = oStride;
  c[10] = chunks;
  c[11] = per;
  c[12] = panels;
  c[13] = MB;
  c[15] = groups;
  Atomics.store(c, 9, 0);
  Atomics.store(c, 0, seq);
  Atomics.notify(c, 0);
  for (let i = Atomics.add(c, 9, 1); i < chunks; i = Atomics.add(c, 9, 1)) run(i);
  while (Atomics.load(c, 1) !== seq) {
    if (Atomics.wait(c, 1, seq - 1, 60_000) === "timed-out") throw new Error("matmulWasm: the helper thread did not answer");
  }
}

/** Switches for benchmarks and experiments (results do not depend on them, only speed). */
export const wasmSettings = {
  /** Use the WebAssembly kernel at all (else the JavaScript kernels run everywhere). */
  enabled: true,
  /** Share big products with the helper thread. */
  threads: true,
};

/** Whether the WebAssembly kernel is in use. */
export function wasmAvailable(): boolean {
  return wasmSettings.enabled && wasmKernel() !== null;
}

/** Panel form of a row-major [K, N] matrix: ⌈N / (32 / es)⌉ panels of [K, 32 / es], zero-padded. */
export function packPanels(w: FloatArray, K: number, N: number): FloatArray {
  const P = PANEL_BYTES / w.BYTES_PER_ELEMENT;
  const panels = Math.ceil(N / P);
  const out = w instanceof Float32Array ? new Float32Array(panels * K * P) : new Float64Array(panels * K * P);
  for (let p = 0; p < panels; p++) {
    for (let k = 0; k < K; k++) {
      const dst = (p * K + k) * P;
      const src = k * N + p * P;
      const n = Math.min(P, N - p * P);
      for (let c = 0; c < n; c++) out[dst + c] = w[src + c];
    }
  }
  return out;
}

/** Rows per call into the module: bounds the scratch memory (x and out live there during a call). */
const CHUNK_ROWS = 512;

/**
 * Packed weights stay in the module's memory between calls (they never
 * change once prepared), in an arena filled from address 0; when it would
 * pass ARENA_BYTES it is emptied and refilled on demand. Scratch for x and
 * out sits above the arena's top.
 */
const ARENA_BYTES = 256 * 2 ** 20;
const resident = new Map<FloatArray, number>();
let arenaTop = 0;

function ensureMemory(k: Kernel, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
}

/** Byte offset of `packed` in the module's memory, copying it there if needed. */
function residentOffset(k: Kernel, packed: FloatArray): number {
  let off = resident.get(packed);
  if (off !== undefined) return off;
  const bytes = packed.length * packed.BYTES_PER_ELEMENT;
  if (arenaTop + bytes > ARENA_BYTES) {
    resident.clear();
    arenaTop = 0;
  }
  off = arenaTop;
  arenaTop += Math.ceil(bytes / 16) * 16;
  ensureMemory(k, arenaTop);
  const View = packed instanceof Float32Array ? Float32Array : Float64Array;
  new View(k.memory.buffer, off, packed.length).set(packed);
  resident.set(packed, off);
  return off;
}

/**
 * out[M, N] = x[M, K] · W with W given in panel form (packPanels), through
 * the WebAssembly kernel (out is overwritten). x, packed and out share one
 * element type. keep: leave W resident for later calls (weights).
 */
export function matmulWasm(
  x: FloatArray, xOff: number, M: number, K: number,
  packed: FloatArray, N: number,
  out: FloatArray, outOff: number,
  keep = true,
): void {
  const k = wasmKernel();
  if (!k) throw new Error("matmulWasm: WebAssembly SIMD is not available");
  const es = x.BYTES_PER_ELEMENT;
  const P = PANEL_BYTES / es;
  const panels = Math.ceil(N / P);
  const rows = Math.min(M, CHUNK_ROWS);
  // A matrix used once (keep = false, e.g. one sequence's keys) is copied
  // above the arena instead of into it.
  let wOff: number;
  let top = arenaTop;
  if (keep) {
    wOff = residentOffset(k, packed);
    top = arenaTop;
  } else {
    wOff = top;
    top += Math.ceil((packed.length * es) / 16) * 16;
    ensureMemory(k, top);
    new (es === 4 ? Float32Array : Float64Array)(k.memory.buffer, wOff, packed.length).set(packed);
  }
  const xBase = top;
  const oBase = xBase + Math.ceil((rows * K * es) / 16) * 16;
  ensureMemory(k, oBase + rows * panels * PANEL_BYTES);
  const buf = k.memory.buffer;
  const View = es === 4 ? Float32Array : Float64Array;
  const xView = new View(buf, xBase, rows * K);
  const oView = new View(buf, oBase, rows * panels * P);
  const stride = panels * P;
  for (let i0 = 0; i0 < M; i0 += rows) {
    const m = Math.min(rows, M - i0);
    xView.set(x.subarray(xOff + i0 * K, xOff + (i0 + m) * K));
    runSplit(k, es, xBase, wOff, oBase, m, K, panels);
    if (N === stride) out.set(oView.subarray(0, m * N), outOff + i0 * N);
    else for (let i = 0; i < m; i++) out.set(oView.subarray(i * stride, i * stride + N), outOff + (i0 + i) * N);
  }
}

/** Panel width in elements for arrays like `a`. */
export function panelWidth(a: FloatArray): number {
  return PANEL_BYTES / a.BYTES_PER_ELEMENT;
}
