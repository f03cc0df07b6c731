/**
 * Make compiled weights look learned without changing what they compute:
 * a random orthogonal rotation R of the residual stream, and per head a
 * random invertible map A on the QK space and B on the OV space,
 *
 *   W_E, W_pos, b_O → ·R        W_U → Rᵀ·        W_O[h] → B⁻¹ W_O[h] R
 *   W_Q[h] → Rᵀ W_Q[h] A        W_K[h] → Rᵀ W_K[h] A⁻ᵀ    W_V[h] → Rᵀ W_V[h] B
 *   b_Q → b_Q A,  b_K → b_K A⁻ᵀ,  b_V → b_V B
 *
 * so every score q·k = (qA)(kA⁻ᵀ)ᵀ, every head output and the logits are
 * unchanged up to rounding while no weight is one-hot any more; then small
 * Gaussian noise (relative to each tensor's RMS) if asked. The maps are
 * A = Q₁ diag(s) Q₂ with s in [½, 2], so they are well conditioned and
 * their inverses exact products. Seeded: the same seed, the same weights.
 */
import type { LayerWeights, Tensor, Weights } from "../model/weights.ts";
import { mulberry32 } from "../sim/random.ts";

/** Options of {@link disguiseWeights}. */
export interface DisguiseOptions {
  readonly seed?: number;
  /** Noise standard deviation as a fraction of each weight tensor's RMS (default 0: function unchanged). */
  readonly noise?: number;
}

type Mat = { readonly n: number; readonly m: number; readonly a: Float64Array };

function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-300);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

/** A random orthogonal n×n matrix: Gram–Schmidt (twice, for accuracy) on Gaussian columns. */
function orthogonal(n: number, g: () => number): Mat {
  const a = new Float64Array(n * n);
  for (let k = 0; k < n * n; k++) a[k] = g();
  for (let c = 0; c < n; c++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let d = 0; d < c; d++) {
        let dot = 0;
        for (let r = 0; r < n; r++) dot += a[r * n + c]! * a[r * n + d]!;
        for (let r = 0; r < n; r++) a[r * n + c]! -= dot * a[r * n + d]!;
      }
    }
    let norm = 0;
    for (let r = 0; r < n; r++) norm += a[r * n + c]! ** 2;
    norm = Math.sqrt(norm);
    for (let r = 0; r < n; r++) a[r * n + c]! /= norm;
  }
  return { n, m: n, a };
}

/** x·y, skipping the zeros of whichever operand has more (compiled weights are mostly zeros). */
function mul(x: Mat, y: Mat): Mat {
  const out = new Float64Array(x.n * y.m);
  const zeros = (a: Float64Array) => a.reduce((n, v) => (v === 0 ? n + 1 : n), 0);
  if (zeros(x.a) / x.a.length >= zeros(y.a) / y.a.length) {
    for (let i = 0; i < x.n; i++) {
      for (let k = 0; k < x.m; k++) {
        const v = x.a[i * x.m + k]!;
        if (v === 0) continue;
        for (let j = 0; j < y.m; j++) out[i * y.m + j]! += v * y.a[k * y.m + j]!;
      }
    }
  } else {
    for (let k = 0; k < y.n; k++) {
      for (let j = 0; j < y.m; j++) {
        const v = y.a[k * y.m + j]!;
        if (v === 0) continue;
        for (let i = 0; i < x.n; i++) out[i * y.m + j]! += x.a[i * x.m + k]! * v;
      }
    }
  }
  return { n: x.n, m: y.m, a: out };
}

function transpose(x: Mat): Mat {
  const out = new Float64Array(x.n * x.m);
  for (let i = 0; i < x.n; i++) for (let j = 0; j < x.m; j++) out[j * x.n + i] = x.a[i * x.m + j]!;
  return { n: x.m, m: x.n, a: out };
}

function diag(s: readonly number[]): Mat {
  const n = s.length;
  const a = new Float64Array(n * n);
  s.forEach((v, k) => (a[k * n + k] = v));
  return { n, m: n, a };
}

/** A random invertible map and its inverse: Q₁ diag(s) Q₂ and Q₂ᵀ diag(1/s) Q₁ᵀ. */
function invertible(n: number, g: () => number, rand: () => number): { map: Mat; inverse: Mat } {
  const q1 = orthogonal(n, g);
  const q2 = orthogonal(n, g);
  const s = Array.from({ length: n }, () => 2 ** (2 * rand() - 1));
  return { map: mul(mul(q1, diag(s)), q2), inverse: mul(mul(transpose(q2), diag(s.map((v) => 1 / v))), transpose(q1)) };
}

const asMat = (t: Tensor, offset: number, n: number, m: number): Mat => ({ n, m, a: Float64Array.from(t.data.subarray(offset, offset + n * m)) });

/** Stack per-head matrices back into one tensor of the given shape. */
function stack(shape: readonly number[], parts: readonly Mat[]): Tensor {
  const data = new Float64Array(shape.reduce((a, b) => a * b, 1));
  let o = 0;
  for (const p of parts) {
    data.set(p.a, o);
    o += p.a.length;
  }
  return { shape: [...shape], data };
}

/** The same function under a random change of basis of the residual stream and of every head's spaces. */
export function disguiseWeights(w: Weights, opts: DisguiseOptions = {}): Weights {
  const rand = mulberry32(opts.seed ?? 1);
  const g = gaussian(rand);
  const { d_model: D, d_head: E, n_heads: H, d_vocab: V, n_ctx: C, d_vocab_out: Vo } = w.config;
  const R = orthogonal(D, g);
  const Rt = transpose(R);
  const blocks: LayerWeights[] = w.blocks.map((b) => {
    const parts = { Q: [] as Mat[], K: [] as Mat[], V: [] as Mat[], O: [] as Mat[], bQ: [] as Mat[], bK: [] as Mat[], bV: [] as Mat[] };
    for (let h = 0; h < H; h++) {
      const qk = invertible(E, g, rand);
      const ov = invertible(E, g, rand);
      const invT = transpose(qk.inverse);
      parts.Q.push(mul(mul(Rt, asMat(b.W_Q, h * D * E, D, E)), qk.map));
      parts.K.push(mul(mul(Rt, asMat(b.W_K, h * D * E, D, E)), invT));
      parts.V.push(mul(mul(Rt, asMat(b.W_V, h * D * E, D, E)), ov.map));
      parts.O.push(mul(mul(ov.inverse, asMat(b.W_O, h * E * D, E, D)), R));
      parts.bQ.push(mul(asMat(b.b_Q, h * E, 1, E), qk.map));
      parts.bK.push(mul(asMat(b.b_K, h * E, 1, E), invT));
      parts.bV.push(mul(asMat(b.b_V, h * E, 1, E), ov.map));
    }
    return {
      W_Q: stack([H, D, E], parts.Q),
      W_K: stack([H, D, E], parts.K),
      W_V: stack([H, D, E], parts.V),
      W_O: stack([H, E, D], parts.O),
      b_Q: stack([H, E], parts.bQ),
      b_K: stack([H, E], parts.bK),
      b_V: stack([H, E], parts.bV),
      b_O: stack([D], [mul(asMat(b.b_O, 0, 1, D), R)]),
    };
  });
  const out: Weights = {
    config: w.config,
    W_E: stack([V, D], [mul(asMat(w.W_E, 0, V, D), R)]),
    W_pos: stack([C, D], [mul(asMat(w.W_pos, 0, C, D), R)]),
    blocks,
    W_U: stack([D, Vo], [mul(Rt, asMat(w.W_U, 0, D, Vo))]),
    b_U: { shape: [Vo], data: Float64Array.from(w.b_U.data) },
  };
  const noise = opts.noise ?? 0;
  if (noise > 0) {
    const jitter = (t: Tensor) => {
      let ss = 0;
      for (const v of t.data) ss += v * v;
      const sd = noise * Math.sqrt(ss / Math.max(1, t.data.length));
      for (let k = 0; k < t.data.length; k++) t.data[k]! += sd * g();
    };
    [out.W_E, out.W_pos, out.W_U].forEach(jitter);
    for (const b of out.blocks) [b.W_Q, b.W_K, b.W_V, b.W_O].forEach(jitter);
  }
  return out;
}
