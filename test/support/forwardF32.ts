/**
 * An independent float32 forward for checking the compiler's float32 bound:
 * every product, sum, exp and quotient is rounded to float32 (Math.fround)
 * as it happens, sums run in index order over nonzero terms only, and
 * nothing is shared with src/sim (different kernels, different summation
 * order). It is slow-ish but fine for the few-head models compiled in tests.
 */
import type { Weights } from "../../src/model/weights.ts";

const f = Math.fround;

/** Attention patterns ([H, T, T] per layer) and logits ([T, Vo]) of one sequence, in float32 throughout. */
export function forwardF32(w: Weights, ids: readonly number[]): { patterns: Float32Array[]; logits: Float32Array } {
  const { d_model: D, d_head: E, n_heads: H, d_vocab_out: Vo } = w.config;
  const T = ids.length;
  const resid = Array.from({ length: T }, (_, t) => {
    const r = new Float32Array(D);
    for (let d = 0; d < D; d++) r[d] = f(w.W_E.data[ids[t]! * D + d]! + w.W_pos.data[t * D + d]!);
    return r;
  });
  const nonzeros = (x: ArrayLike<number>, n: number, off = 0) => {
    const idx: number[] = [];
    for (let d = 0; d < n; d++) if (x[off + d] !== 0) idx.push(d);
    return idx;
  };
  // x · W for W [rows, cols] at offset `off`, summing over x's nonzeros in order.
  const project = (x: Float32Array, W: ArrayLike<number>, off: number, rows: number, cols: number, bias?: ArrayLike<number>, boff = 0) => {
    const out = new Float32Array(cols);
    for (const d of nonzeros(x, rows)) {
      const xd = x[d]!;
      for (let c = 0; c < cols; c++) {
        const wv = W[off + d * cols + c]!;
        if (wv !== 0) out[c] = f(out[c]! + f(xd * wv));
      }
    }
    if (bias) for (let c = 0; c < cols; c++) out[c] = f(out[c]! + bias[boff + c]!);
    return out;
  };
  const patterns: Float32Array[] = [];
  const scale = f(Math.sqrt(E));
  for (const layer of w.blocks) {
    const pattern = new Float32Array(H * T * T);
    const add = Array.from({ length: T }, () => new Float32Array(D));
    for (let h = 0; h < H; h++) {
      const q = resid.map((x) => project(x, layer.W_Q.data, h * D * E, D, E, layer.b_Q.data, h * E));
      const k = resid.map((x) => project(x, layer.W_K.data, h * D * E, D, E, layer.b_K.data, h * E));
      const v = resid.map((x) => project(x, layer.W_V.data, h * D * E, D, E, layer.b_V.data, h * E));
      for (let i = 0; i < T; i++) {
        const qi = q[i]!;
        const live = nonzeros(qi, E);
        const s = new Float32Array(i + 1);
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          let acc = 0;
          for (const e of live) acc = f(acc + f(qi[e]! * k[j]![e]!));
          s[j] = f(acc / scale);
          if (s[j]! > max) max = s[j]!;
        }
        let z = 0;
        for (let j = 0; j <= i; j++) z = f(z + (s[j] = f(Math.exp(f(s[j]! - max)))));
        const row = (h * T + i) * T;
        const zi = new Float32Array(E);
        for (let j = 0; j <= i; j++) {
          const a = (pattern[row + j] = f(s[j]! / z));
          if (a === 0) continue;
          for (let e = 0; e < E; e++) if (v[j]![e] !== 0) zi[e] = f(zi[e]! + f(a * v[j]![e]!));
        }
        const o = project(zi, layer.W_O.data, h * E * D, E, D);
        for (let d = 0; d < D; d++) add[i]![d] = f(add[i]![d]! + o[d]!);
      }
    }
    for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) resid[t]![d] = f(f(resid[t]![d]! + add[t]![d]!) + layer.b_O.data[d]!);
    patterns.push(pattern);
  }
  const logits = new Float32Array(T * Vo);
  resid.forEach((x, t) => logits.set(project(x, w.W_U.data, 0, D, Vo, w.b_U.data), t * Vo));
  return { patterns, logits };
}
