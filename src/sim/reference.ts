/**
 * The reference forward pass: the TransformerLens equations written out with
 * mathjs matrices, one head at a time, with no sparsity, stacking, blocking or
 * fusing. It is slow on purpose — its only job is to be obviously right, so
 * that tests can hold the fast simulator against it.
 * Shape letters: see src/model/weights.ts.
 */

import { add, divide, exp, map, matrix, max, multiply, subtract, sum, transpose, type Matrix } from "mathjs";
import type { Tensor, Weights } from "../model/weights.ts";
import type { ActivationCache } from "./forward.ts";

/** Logits ([T, Vo], flat) and every activation of one sequence, computed the plain way in float64. */
export function referenceForward(weights: Weights, tokens: readonly number[]): { logits: Float64Array; cache: ActivationCache } {
  const { d_head: E, n_heads: H, d_vocab: V } = weights.config;
  for (const t of tokens) if (!(Number.isInteger(t) && t >= 0 && t < V)) throw new Error(`referenceForward: bad token ${t}`);
  const cache: ActivationCache = new Map();

  const embed = matrix(tokens.map((tok) => row(weights.W_E, tok))); // [T, D]
  const posEmbed = matrix(tokens.map((_, p) => row(weights.W_pos, p))); // [T, D]
  cache.set("hook_embed", toTensor(embed));
  cache.set("hook_pos_embed", toTensor(posEmbed));
  let resid = add(embed, posEmbed) as Matrix; // [T, D]

  weights.blocks.forEach((block, l) => {
    cache.set(`blocks.${l}.hook_resid_pre`, toTensor(resid));
    const qs: Matrix[] = [], ks: Matrix[] = [], vs: Matrix[] = [];
    const scores: Matrix[] = [], patterns: Matrix[] = [], zs: Matrix[] = [], results: Matrix[] = [];

    for (let h = 0; h < H; h++) {
      const q = addRowVector(multiply(resid, slice(block.W_Q, h)), row(block.b_Q, h)); // [T, E]
      const k = addRowVector(multiply(resid, slice(block.W_K, h)), row(block.b_K, h)); // [T, E]
      const v = addRowVector(multiply(resid, slice(block.W_V, h)), row(block.b_V, h)); // [T, E]
      const raw = divide(multiply(q, transpose(k)), Math.sqrt(E)) as Matrix; // [T, T]
      // Causal mask: query i may only see keys j <= i.
      const masked = map(raw, (s: number, [i, j]: number[]) => (j <= i ? s : -Infinity)) as Matrix;
      const pattern = matrix(rows(masked).map(softmax)); // [T, T]
      const z = multiply(pattern, v); // [T, E]
      const result = multiply(z, slice(block.W_O, h)); // [T, D]
      qs.push(q); ks.push(k); vs.push(v);
      scores.push(masked); patterns.push(pattern); zs.push(z); results.push(result);
    }

    let attnOut = addRowVector(results[0], Array.from(block.b_O.data)); // [T, D]
    for (let h = 1; h < H; h++) attnOut = add(attnOut, results[h]) as Matrix;
    resid = add(resid, attnOut) as Matrix;

    const a = `blocks.${l}.attn.`;
    cache.set(a + "hook_q", stackAxis1(qs));
    cache.set(a + "hook_k", stackAxis1(ks));
    cache.set(a + "hook_v", stackAxis1(vs));
    cache.set(a + "hook_attn_scores", stackAxis0(scores));
    cache.set(a + "hook_pattern", stackAxis0(patterns));
    cache.set(a + "hook_z", stackAxis1(zs));
    cache.set(a + "hook_result", stackAxis1(results));
    cache.set(`blocks.${l}.hook_attn_out`, toTensor(attnOut));
    cache.set(`blocks.${l}.hook_resid_post`, toTensor(resid));
  });

  const logits = addRowVector(multiply(resid, toMatrix(weights.W_U)), Array.from(weights.b_U.data)); // [T, Vo]
  return { logits: toTensor(logits).data as Float64Array, cache };
}

/** softmax(x)_j = exp(x_j - max x) / Σ exp(x_k - max x); the shift keeps exp ≤ 1. */
function softmax(x: number[]): number[] {
  const shifted = subtract(x, max(x)) as number[];
  const e = shifted.map((s) => exp(s));
  return divide(e, sum(e)) as number[];
}

/** Row r of a tensor whose first axis is indexed, as a plain array (e.g. W_E[tok], b_Q[h]). */
function row(t: Tensor, r: number): number[] {
  const width = t.data.length / t.shape[0];
  return Array.from(t.data.subarray(r * width, (r + 1) * width));
}

/** Head h of an [H, A, B] tensor as an [A, B] matrix. */
function slice(t: Tensor, h: number): Matrix {
  const [, A, B] = t.shape;
  return matrix(Array.from({ length: A }, (_, a) => Array.from(t.data.subarray((h * A + a) * B, (h * A + a + 1) * B))));
}

/** A 2-D tensor as a matrix. */
function toMatrix(t: Tensor): Matrix {
  const [A, B] = t.shape;
  return matrix(Array.from({ length: A }, (_, a) => Array.from(t.data.subarray(a * B, (a + 1) * B))));
}

/** m[T, N] + b[N] broadcast over rows. */
function addRowVector(m: Matrix, b: number[]): Matrix {
  return matrix(rows(m).map((r) => add(r, b) as number[]));
}

function rows(m: Matrix): number[][] {
  return m.toArray() as number[][];
}

function toTensor(m: Matrix): Tensor {
  const r = rows(m);
  return { shape: [r.length, r[0]?.length ?? 0], data: Float64Array.from(r.flat()) };
}

/** H matrices [T, X] → tensor [H, T, X] (for [H, T, T] scores and patterns). */
function stackAxis0(ms: Matrix[]): Tensor {
  const rs = ms.map(rows);
  return { shape: [ms.length, rs[0].length, rs[0][0].length], data: Float64Array.from(rs.flat(2)) };
}

/** H matrices [T, X] → tensor [T, H, X] (TransformerLens puts heads after positions). */
function stackAxis1(ms: Matrix[]): Tensor {
  const rs = ms.map(rows);
  const T = rs[0].length, X = rs[0][0].length;
  const data = new Float64Array(T * ms.length * X);
  rs.forEach((r, h) => r.forEach((vals, t) => data.set(vals, (t * ms.length + h) * X)));
  return { shape: [T, ms.length, X], data };
}
