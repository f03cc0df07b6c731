/**
 * Matrix products for the training passes, with either operand read in
 * place from a strided (and possibly transposed) slice of a bigger array:
 *
 *   out[M, N] (=, or += with accumulate) op(A)[M, K] · op(B)[K, N]
 *   op(X)[r, c] = X.data[X.off + r·X.ld + c], or X.data[X.off + c·X.ld + r] when X.trans
 *
 * The backward pass needs all three shapes of product (A·B, A·Bᵀ, Aᵀ·B) on
 * per-head column slices of [N, H·E] activations; this gathers A into a
 * contiguous block and packs B into panels straight from the slice, then runs
 * the project's WebAssembly SIMD kernel (src/sim/wasm.ts: float32 f32x4, or
 * float64 f64x2), so no product ever materialises a transposed copy of a
 * whole tensor. Scratch buffers are kept and grown, so steady-state training
 * allocates nothing here but two small views per call. Without WebAssembly
 * SIMD a plain loop computes the same sums.
 */
import type { FloatArray } from "../model/weights.ts";
import { matmulWasm, panelWidth, wasmAvailable } from "../sim/wasm.ts";
import { allocFloat, type TrainPrecision } from "./params.ts";

/** One operand: a strided matrix view, optionally transposed. */
export interface Operand {
  readonly data: FloatArray;
  readonly off: number;
  readonly ld: number;
  readonly trans: boolean;
}

/** Shorthand for an operand. */
export function operand(data: FloatArray, off: number, ld: number, trans = false): Operand {
  return { data, off, ld, trans };
}

/** Below this many multiply-adds a plain loop beats the copies into WebAssembly memory. */
const WASM_MIN_MACS = 4096;

/** A product engine with its own scratch (one per training engine). */
export class Products {
  private x: FloatArray;
  private packed: FloatArray;
  private o: FloatArray;
  readonly precision: TrainPrecision;

  constructor(precision: TrainPrecision) {
    this.precision = precision;
    this.x = allocFloat(precision, 1024);
    this.packed = allocFloat(precision, 1024);
    this.o = allocFloat(precision, 1024);
  }

  private grow(which: "x" | "packed" | "o", n: number): FloatArray {
    if (this[which].length < n) this[which] = allocFloat(this.precision, Math.max(n, this[which].length * 2));
    return this[which];
  }

  /** out[outOff + i·ldo + j] (=, or += when accumulate) Σ_k op(A)[i,k]·op(B)[k,j]. */
  mm(M: number, N: number, K: number, A: Operand, B: Operand, out: FloatArray, outOff: number, ldo: number, accumulate: boolean): void {
    if (M === 0 || N === 0) return;
    if (K === 0 || M * N * K < WASM_MIN_MACS || !wasmAvailable()) {
      plainProduct(M, N, K, A, B, out, outOff, ldo, accumulate);
      return;
    }
    // x: op(A) as a contiguous [M, K] block (used in place when it already is one).
    let x: FloatArray;
    let xOff: number;
    if (!A.trans && A.ld === K) {
      x = A.data;
      xOff = A.off;
    } else {
      x = this.grow("x", M * K);
      xOff = 0;
      gather(A, M, K, x);
    }
    const P = panelWidth(x);
    const panels = Math.ceil(N / P);
    const size = panels * K * P;
    const packed = this.grow("packed", size);
    packPanels(B, K, N, P, packed);
    if (ldo === N && !accumulate) {
      matmulWasm(x, xOff, M, K, packed.subarray(0, size), N, out, outOff, false);
      return;
    }
    const o = this.grow("o", M * N);
    matmulWasm(x, xOff, M, K, packed.subarray(0, size), N, o, 0, false);
    if (accumulate) {
      for (let i = 0; i < M; i++) {
        const r = outOff + i * ldo;
        const s = i * N;
        for (let j = 0; j < N; j++) out[r + j] += o[s + j];
      }
    } else {
      for (let i = 0; i < M; i++) {
        const r = outOff + i * ldo;
        const s = i * N;
        for (let j = 0; j < N; j++) out[r + j] = o[s + j];
      }
    }
  }
}

/** dst[i·K + k] = op(A)[i, k]. */
function gather(A: Operand, M: number, K: number, dst: FloatArray): void {
  const { data, off, ld } = A;
  if (A.trans) {
    // op(A)[i, k] = data[off + k·ld + i]: walk the source rows contiguously.
    for (let k = 0; k < K; k++) {
      const s = off + k * ld;
      for (let i = 0; i < M; i++) dst[i * K + k] = data[s + i];
    }
  } else {
    for (let i = 0; i < M; i++) {
      const s = off + i * ld;
      const d = i * K;
      for (let k = 0; k < K; k++) dst[d + k] = data[s + k];
    }
  }
}

/** op(B) [K, N] in the kernel's panel form (src/sim/wasm.ts packPanels), zero-padded to whole panels. */
function packPanels(B: Operand, K: number, N: number, P: number, dst: FloatArray): void {
  const { data, off, ld } = B;
  const panels = Math.ceil(N / P);
  for (let p = 0; p < panels; p++) {
    const n0 = p * P;
    const w = Math.min(P, N - n0);
    const base = p * K * P;
    if (B.trans) {
      // op(B)[k, n] = data[off + n·ld + k]
      for (let c = 0; c < w; c++) {
        const s = off + (n0 + c) * ld;
        for (let k = 0; k < K; k++) dst[base + k * P + c] = data[s + k];
      }
    } else {
      for (let k = 0; k < K; k++) {
        const s = off + k * ld + n0;
        const d = base + k * P;
        for (let c = 0; c < w; c++) dst[d + c] = data[s + c];
      }
    }
    if (w < P) for (let k = 0; k < K; k++) dst.fill(0, base + k * P + w, base + k * P + P);
  }
}

/** The same product as plain loops (small products, or no WebAssembly SIMD). */
function plainProduct(M: number, N: number, K: number, A: Operand, B: Operand, out: FloatArray, outOff: number, ldo: number, accumulate: boolean): void {
  const a = A.data, b = B.data;
  const aI = A.trans ? 1 : A.ld, aK = A.trans ? A.ld : 1;
  const bK = B.trans ? 1 : B.ld, bJ = B.trans ? B.ld : 1;
  for (let i = 0; i < M; i++) {
    const r = outOff + i * ldo;
    const ai = A.off + i * aI;
    for (let j = 0; j < N; j++) {
      const bj = B.off + j * bJ;
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ai + k * aK] * b[bj + k * bK];
      out[r + j] = accumulate ? out[r + j] + s : s;
    }
  }
}
