/**
 * Dense real matrices on typed arrays: the few products, traces and norms the
 * analyses need, kept apart so that every analysis file reads as mathematics.
 * Row-major throughout, like the weight tensors (src/model/weights.ts), and
 * in TransformerLens's row-vector convention: a residual vector x is a row,
 * a layer applies x·W.
 */
import type { Tensor } from "../model/weights.ts";

/** A dense row-major matrix. */
export interface Mat {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** A zero matrix. */
export function zerosMat(rows: number, cols: number): Mat {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** A matrix from nested arrays (tests and hand-built examples). */
export function fromRows(rows: readonly (readonly number[])[]): Mat {
  const r = rows.length;
  const c = r ? rows[0]!.length : 0;
  const m = zerosMat(r, c);
  rows.forEach((row, i) => {
    if (row.length !== c) throw new Error(`fromRows: row ${i} has ${row.length} entries, expected ${c}`);
    row.forEach((x, j) => (m.data[i * c + j] = x));
  });
  return m;
}

/** Element (i, j). */
export const at = (m: Mat, i: number, j: number): number => m.data[i * m.cols + j]!;

/** A 2-D tensor as a matrix (copied to float64). */
export function tensorToMat(t: Tensor): Mat {
  if (t.shape.length !== 2) throw new Error(`tensorToMat: expected a 2-D tensor, got shape [${t.shape.join(",")}]`);
  return { rows: t.shape[0]!, cols: t.shape[1]!, data: Float64Array.from(t.data) };
}

/** Slice `index` of a 3-D tensor [N, R, C] as an [R, C] matrix (e.g. one head of W_Q). */
export function sliceMat(t: Tensor, index: number): Mat {
  const [, r, c] = t.shape as [number, number, number];
  return { rows: r, cols: c, data: Float64Array.from(t.data.subarray(index * r * c, (index + 1) * r * c)) };
}

/** A·B. Skips zero entries of A, so the sparse compiled weights cost little. */
export function matmul(a: Mat, b: Mat): Mat {
  if (a.cols !== b.rows) throw new Error(`matmul: [${a.rows},${a.cols}]·[${b.rows},${b.cols}]`);
  const out = zerosMat(a.rows, b.cols);
  const n = b.cols;
  for (let i = 0; i < a.rows; i++) {
    const o = i * n;
    for (let k = 0; k < a.cols; k++) {
      const x = a.data[i * a.cols + k]!;
      if (x === 0) continue;
      const r = k * n;
      for (let j = 0; j < n; j++) out.data[o + j]! += x * b.data[r + j]!;
    }
  }
  return out;
}

/** Aᵀ. */
export function transpose(a: Mat): Mat {
  const out = zerosMat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j]!;
  return out;
}

/** A·Bᵀ (both given with the shared dimension as columns, e.g. W_Q W_Kᵀ). */
export function matmulT(a: Mat, b: Mat): Mat {
  return matmul(a, transpose(b));
}

/** AᵀA: the Gram matrix of A's columns. */
export function gram(a: Mat): Mat {
  return matmul(transpose(a), a);
}

/** x·A for a scalar x. */
export function scale(a: Mat, x: number): Mat {
  return { rows: a.rows, cols: a.cols, data: a.data.map((v) => v * x) };
}

/** Frobenius norm ‖A‖_F. */
export function frobenius(a: Mat): number {
  let s = 0;
  for (const x of a.data) s += x * x;
  return Math.sqrt(s);
}

/** tr(A·B) for A [n,m], B [m,n], without forming the product. */
export function traceOfProduct(a: Mat, b: Mat): number {
  if (a.cols !== b.rows || a.rows !== b.cols) throw new Error(`traceOfProduct: [${a.rows},${a.cols}]·[${b.rows},${b.cols}]`);
  let s = 0;
  for (let i = 0; i < a.rows; i++) for (let k = 0; k < a.cols; k++) s += a.data[i * a.cols + k]! * b.data[k * b.cols + i]!;
  return s;
}

/** The columns of A in [from, from+count), others zeroed (restrict an output map to one block). */
export function keepColumns(a: Mat, from: number, count: number): Mat {
  const out = zerosMat(a.rows, a.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = from; j < from + count; j++) out.data[i * a.cols + j] = a.data[i * a.cols + j]!;
  }
  return out;
}

/** Largest |entry|, 0 for an empty matrix. */
export function maxAbs(a: Mat): number {
  let m = 0;
  for (const x of a.data) m = Math.max(m, Math.abs(x));
  return m;
}

/** Whether every entry is exactly zero (padding heads of a layer with fewer heads). */
export function isZero(a: Mat): boolean {
  return a.data.every((x) => x === 0);
}

/** 2^e as a double for any e where the result is normal or subnormal (Math.pow(2, e) alone overflows past ±1023 steps). */
function pow2(e: number): number {
  let x = 1;
  let k = e;
  while (k > 1000) (x *= 2 ** 1000), (k -= 1000);
  while (k < -1000) (x *= 2 ** -1000), (k += 1000);
  return x * 2 ** k;
}

/**
 * A scaled by the power of two that brings its largest |entry| into [0.5, 1),
 * and that power's exponent (A = result · 2^exponent). Scaling by a power of
 * two is exact (barring underflow of tiny entries), so every scale-invariant
 * quantity — a normalised score, a ratio of eigenvalue sums — comes out the
 * same, while products of the scaled factors can no longer overflow.
 * Zero matrices and matrices with non-finite entries come back unchanged.
 */
export function normalizePow2(a: Mat): { readonly mat: Mat; readonly exponent: number } {
  const m = maxAbs(a);
  if (m === 0 || !Number.isFinite(m)) return { mat: a, exponent: 0 };
  const exponent = Math.floor(Math.log2(m)) + 1;
  if (exponent === 0) return { mat: a, exponent: 0 };
  // Two steps, so that neither factor is itself out of range.
  const half = Math.trunc(exponent / 2);
  const s1 = pow2(-half);
  const s2 = pow2(half - exponent);
  return { mat: { rows: a.rows, cols: a.cols, data: a.data.map((v) => v * s1 * s2) }, exponent };
}
