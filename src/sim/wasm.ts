/**
 * The simulator's dense product out = x · W (+ bias) on the kernel module
 * (src/kernels/): WebAssembly SIMD in float32 (f32x4) and float64 (f64x2),
 * shared with the helper thread when big.
 *
 * W is packed once in panels of 32 bytes of columns (packPanels) and kept
 * resident in the module's memory (a bounded arena, refilled when full), so
 * the inner loop streams one panel (≤ 16 KiB for K = 512: it stays in L1).
 * Operands that already live in the module's memory (kernelBuffer) are used
 * where they are; others are copied in and out per call. A bias is added in
 * the product's epilogue, after the sum, as out + bias would be.
 *
 * With the plain multiply-add each output element is one lane summing
 * x[i, k]·W[k, j] for k ascending from +0, a rounded multiply then a rounded
 * add — exactly the arithmetic of the JavaScript kernels (see matmulDense),
 * so either may serve any call. With the fused one (relaxed SIMD, where the
 * runtime has it: src/kernels/module.ts) every term is rounded once, and the
 * two differ in the last bits.
 */
import type { FloatArray } from "../model/weights.ts";
import { ARENA_END, ARENA_START, OPERANDS_END } from "../kernels/exports.ts";
import { BIAS, CAUSAL_N, K_UPTO, PANEL_BYTES } from "../kernels/gemmCode.ts";
import { threadSettings } from "../kernels/helper.ts";
import { ensureMemory, kernelModule, type Kernels } from "../kernels/module.ts";
import { cacheTiles, productCall, productTiles, tileCount } from "../kernels/product.ts";

export { section, sleb, uleb, vec } from "../kernels/assembler.ts";

/** Products of at least this many multiply-adds are shared with the helper thread. */
export const PARALLEL_MIN_MACS = 1 << 20;

/** Switches for benchmarks and experiments (results do not depend on them, only speed). */
export const wasmSettings = {
  /** Use the WebAssembly kernel at all (else the JavaScript kernels run everywhere). */
  enabled: true,
  /** Share big products with the helper thread. */
  get threads(): boolean {
    return threadSettings.enabled;
  },
  set threads(on: boolean) {
    threadSettings.enabled = on;
  },
};

/** Whether the WebAssembly kernel is in use. */
export function wasmAvailable(): boolean {
  return wasmSettings.enabled && kernelModule() !== null;
}

/** Panel width in elements for arrays like `a`. */
export function panelWidth(a: FloatArray): number {
  return PANEL_BYTES / a.BYTES_PER_ELEMENT;
}

/** Panel form of a row-major [K, N] matrix: ⌈N / (32 / es)⌉ panels of [K, 32 / es], zero-padded. */
export function packPanels(w: FloatArray, K: number, N: number): FloatArray {
  const P = PANEL_BYTES / w.BYTES_PER_ELEMENT;
  const panels = Math.ceil(N / P);
  const out = w instanceof Float32Array ? new Float32Array(panels * K * P) : new Float64Array(panels * K * P);
  for (let p = 0, j0 = 0; p < panels; p++, j0 += P) {
    const n = Math.min(P, N - j0);
    for (let k = 0, dst = p * K * P, src = j0; k < K; k++, dst += P, src += N) {
      for (let c = 0; c < n; c++) out[dst + c] = w[src + c]!;
    }
  }
  return out;
}

// ------------------------------------------------------------ the module's memory

/**
 * Weights stay in the module's memory between calls (they never change once
 * prepared), in an arena filled from ARENA_START; when it would pass
 * ARENA_END it is emptied and refilled on demand.
 */
const resident = new Map<FloatArray, number>();
let arenaTop = ARENA_START;

/** Byte offset of `w` in the module's memory, copying it there (padded to whole panels: a bias is read by the panel) if needed. */
function residentOffset(k: Kernels, w: FloatArray): number {
  let off = resident.get(w);
  if (off !== undefined) return off;
  const bytes = Math.ceil((w.length * w.BYTES_PER_ELEMENT) / PANEL_BYTES) * PANEL_BYTES;
  if (arenaTop + bytes > ARENA_END) {
    resident.clear();
    arenaTop = ARENA_START;
  }
  off = arenaTop;
  arenaTop += bytes;
  ensureMemory(k, arenaTop);
  const View = w instanceof Float32Array ? Float32Array : Float64Array;
  new View(k.memory.buffer, off, w.length).set(w);
  resident.set(w, off);
  return off;
}

/**
 * Operand memory: [ARENA_END, BUFFERS) is per-call scratch (operands copied
 * in, results copied out); [BUFFERS, OPERANDS_END) holds kernelBuffer's arrays.
 */
const BUFFERS = ARENA_END + 256 * 2 ** 20;
const buffers = new Map<string, { off: number; bytes: number }>();
let buffersTop = BUFFERS;

/**
 * A zero-filled array of n elements that lives in the module's memory under
 * `name`, so products read and write it where it is (no copy). The same
 * name returns the same memory while n fits; a bigger n moves it (the old
 * view then no longer aliases it). Null where the kernel is unavailable or
 * the region is full: the caller then uses an ordinary array.
 */
export function kernelBuffer(name: string, n: number, precision: "float32" | "float64"): FloatArray | null {
  const k = wasmAvailable() ? kernelModule() : null;
  if (!k) return null;
  const es = precision === "float32" ? 4 : 8;
  const bytes = Math.ceil((n * es) / 64) * 64 + 64; // slack: whole-panel reads past the end
  let slot = buffers.get(name);
  if (!slot || slot.bytes < bytes) {
    if (buffersTop + bytes > OPERANDS_END) return null;
    slot = { off: buffersTop, bytes };
    buffersTop += bytes;
    buffers.set(name, slot);
  }
  ensureMemory(k, slot.off + slot.bytes);
  const view = es === 4 ? new Float32Array(k.memory.buffer, slot.off, n) : new Float64Array(k.memory.buffer, slot.off, n);
  return view.fill(0);
}

/** Whether `a` is a view of the module's memory (products use it in place). */
function inModule(k: Kernels, a: FloatArray): boolean {
  return a.buffer === k.memory.buffer;
}

/** Rows per call into the module when x is copied in: bounds the scratch (x and out live there during a call). */
const CHUNK_ROWS = 512;

/**
 * out[M, N] = x[M, K] · W (+ bias[N]) with W given in panel form
 * (packPanels), through the WebAssembly kernel (out is overwritten). x,
 * packed, out and bias share one element type. keep: leave W resident for
 * later calls (weights); a matrix used once (one sequence's keys) is copied
 * next to the operands instead. The bias, when given, is kept resident.
 */
export function matmulWasm(
  x: FloatArray, xOff: number, M: number, K: number,
  packed: FloatArray, N: number,
  out: FloatArray, outOff: number,
  keep = true,
  bias: FloatArray | null = null,
): void {
  const k = kernelModule();
  if (!k) throw new Error("matmulWasm: WebAssembly SIMD is not available");
  if (M <= 0 || N <= 0) return;
  const es = x.BYTES_PER_ELEMENT as 4 | 8;
  const View = es === 4 ? Float32Array : Float64Array;
  let biasOff = bias ? residentOffset(k, bias) : 0;
  const wOffBase = keep ? residentOffset(k, packed) : -1;
  if (bias && resident.get(bias) !== biasOff) biasOff = residentOffset(k, bias); // W's copy refilled the arena

  let top = ARENA_END;
  const wOff = keep ? wOffBase : top;
  if (!keep) {
    top += Math.ceil((packed.length * es) / 64) * 64;
    ensureMemory(k, top);
    new View(k.memory.buffer, wOff, packed.length).set(packed);
  }
  const xIn = inModule(k, x), oIn = inModule(k, out);
  const rows = xIn && oIn ? M : Math.min(M, CHUNK_ROWS);
  const xBase = top;
  if (!xIn) top += Math.ceil((rows * K * es) / 64) * 64;
  const oBase = top;
  if (!oIn) top += Math.ceil((rows * N * es) / 64) * 64;
  if (top > BUFFERS) throw new Error(`matmulWasm: operands of ${rows} × ${K} and ${K} × ${N} do not fit the module's scratch`);
  ensureMemory(k, top);
  const buf = k.memory.buffer;
  const tiles = cacheTiles(rows, N, K, es);
  for (let i0 = 0; i0 < M; i0 += rows) {
    const m = Math.min(rows, M - i0);
    let xAddr: number, oAddr: number;
    if (xIn) xAddr = x.byteOffset + (xOff + i0 * K) * es;
    else {
      new View(buf, xBase, m * K).set(x.subarray(xOff + i0 * K, xOff + (i0 + m) * K));
      xAddr = xBase;
    }
    oAddr = oIn ? out.byteOffset + (outOff + i0 * N) * es : oBase;
    const p = {
      a: xAddr, b: wOff, out: oAddr, M: m, K, N, ars: K * es, aks: es, bks: PANEL_BYTES, bps: K * PANEL_BYTES,
      ors: N * es, mode: bias ? BIAS : 0, bias: biasOff,
    };
    const share = m * K * N >= PARALLEL_MIN_MACS && tileCount(p, es, tiles) >= 2;
    productTiles(k, es, p, tiles, share);
    if (!oIn) out.set(new View(buf, oBase, m * N), outOff + i0 * N);
  }
}

/** Options of matmulWasmRows. */
export interface RowsOptions {
  /** Only out[i, j ≤ i] is wanted (attention scores): panels wholly right of the diagonal are skipped, not written. */
  readonly causalOut?: boolean;
  /** A is zero right of its diagonal (a causal pattern): the sum stops at the diagonal block — the same bits. */
  readonly causalA?: boolean;
  /** Added to every row after the sum (bias[N]). */
  readonly bias?: FloatArray | null;
}

/**
 * out[i, j] = Σ_k A[i, k] · B[k, j] (+ bias[j]) on strided, unpacked
 * operands: A[i, k] = a[aOff + i·lda + k], B[k, j] = b[bOff + k·ldb + j],
 * out[i, j] = out[outOff + i·ldo + j] (only columns j < N of each row are
 * written). Operands in the module's memory (kernelBuffer) are used where
 * they are; others are copied in (the rows spanned) and out. The causal
 * options halve an attention product; they run on this thread (a tile's
 * diagonal would shift), the rest is shared like matmulWasm's.
 */
export function matmulWasmRows(
  a: FloatArray, aOff: number, lda: number, M: number, K: number,
  b: FloatArray, bOff: number, ldb: number, N: number,
  out: FloatArray, outOff: number, ldo: number,
  opts: RowsOptions = {},
): void {
  const k = kernelModule();
  if (!k) throw new Error("matmulWasmRows: WebAssembly SIMD is not available");
  if (M <= 0 || N <= 0) return;
  const es = a.BYTES_PER_ELEMENT as 4 | 8;
  const View = es === 4 ? Float32Array : Float64Array;
  const bias = opts.bias ?? null;
  const biasOff = bias ? residentOffset(k, bias) : 0;
  let top = ARENA_END;
  /** Address of element `off` of x, copying the `n` elements from there into scratch when x is not in the module. */
  const place = (x: FloatArray, off: number, n: number, copy: boolean): number => {
    if (inModule(k, x)) return x.byteOffset + off * es;
    const at = top;
    top += Math.ceil((n * es) / 64) * 64 + 64; // slack: whole-panel reads past the end
    if (top > BUFFERS) throw new Error(`matmulWasmRows: operands of ${M} × ${K} and ${K} × ${N} do not fit the module's scratch`);
    ensureMemory(k, top);
    if (copy) new View(k.memory.buffer, at, n).set(x.subarray(off, off + n));
    return at;
  };
  const aSpan = (M - 1) * lda + K, bSpan = (K - 1) * ldb + N, oSpan = (M - 1) * ldo + N;
  const aAddr = place(a, aOff, aSpan, true);
  const bAddr = K > 0 ? place(b, bOff, bSpan, true) : 0;
  const oIn = inModule(k, out);
  // a copied out keeps what is not written (columns beyond N, panels a causal product skips): copied in, written back unchanged
  const oAddr = place(out, outOff, oSpan, !oIn && (ldo !== N || opts.causalOut === true));
  const mode = (bias ? BIAS : 0) | (opts.causalOut ? CAUSAL_N : 0) | (opts.causalA ? K_UPTO : 0);
  const p = { a: aAddr, b: bAddr, out: oAddr, M, K, N, ars: lda * es, aks: es, bks: ldb * es, bps: PANEL_BYTES, ors: ldo * es, mode, bias: biasOff };
  if (mode & (CAUSAL_N | K_UPTO)) productCall(k, es, p);
  else {
    const tiles = cacheTiles(M, N, K, es);
    productTiles(k, es, p, tiles, M * K * N >= PARALLEL_MIN_MACS && tileCount(p, es, tiles) >= 2);
  }
  if (!oIn) out.set(new View(k.memory.buffer, oAddr, oSpan), outOff);
}
