/**
 * Seeded random attention-only models, for tests and benchmarks.
 *
 * A fixed small PRNG (mulberry32) rather than Math.random, so that a failing
 * property test's seed reproduces the same weights on any machine.
 */

import type { ModelConfig, Tensor, Weights, LayerWeights } from "../model/weights.ts";

/** The shape parameters of a model; the constant attention-only fields are filled in. */
export interface ModelShape {
  readonly d_model: number;
  readonly d_head: number;
  readonly n_heads: number;
  readonly n_layers: number;
  readonly n_ctx: number;
  readonly d_vocab: number;
  readonly d_vocab_out?: number; // default d_vocab
}

/** How random weights are drawn. */
export interface RandomWeightOptions {
  /** Probability that an entry is nonzero (compiled models: ~0.01–0.05); default 1. */
  readonly density?: number;
  /** Nonzero entries are uniform in [-scale, scale]; default 1. */
  readonly scale?: number;
  /** Storage type of the tensors; default "float64". */
  readonly dtype?: "float64" | "float32";
}

/** A full ModelConfig for an attention-only model of the given shape. */
export function attnOnlyConfig(shape: ModelShape): ModelConfig {
  return {
    d_model: shape.d_model,
    d_head: shape.d_head,
    n_heads: shape.n_heads,
    n_layers: shape.n_layers,
    n_ctx: shape.n_ctx,
    d_vocab: shape.d_vocab,
    d_vocab_out: shape.d_vocab_out ?? shape.d_vocab,
    attn_only: true,
    normalization_type: null,
    positional_embedding_type: "standard",
    act_fn: null,
    d_mlp: null,
    use_attn_result: true,
  };
}

/** A deterministic PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random weights of the given shape, reproducible from `seed`. */
export function randomWeights(shape: ModelShape, seed: number, opts: RandomWeightOptions = {}): Weights {
  const config = attnOnlyConfig(shape);
  const rand = mulberry32(seed);
  const density = opts.density ?? 1;
  const scale = opts.scale ?? 1;
  const make = (dims: number[]): Tensor => {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = opts.dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) {
      // Draw both numbers every time so density does not shift the stream of values.
      const keep = rand() < density;
      const value = (2 * rand() - 1) * scale;
      data[i] = keep ? value : 0;
    }
    return { shape: dims, data };
  };
  const { d_model: D, d_head: E, n_heads: H, n_layers: L, n_ctx: C, d_vocab: V, d_vocab_out: Vo } = config;
  const blocks: LayerWeights[] = Array.from({ length: L }, () => ({
    W_Q: make([H, D, E]),
    W_K: make([H, D, E]),
    W_V: make([H, D, E]),
    W_O: make([H, E, D]),
    b_Q: make([H, E]),
    b_K: make([H, E]),
    b_V: make([H, E]),
    b_O: make([D]),
  }));
  return {
    config,
    W_E: make([V, D]),
    W_pos: make([C, D]),
    blocks,
    W_U: make([D, Vo]),
    b_U: make([Vo]),
  };
}

/** A random token sequence of length T (tokens uniform over the vocabulary; position 0 is whatever is drawn). */
export function randomTokens(d_vocab: number, T: number, seed: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: T }, () => Math.floor(rand() * d_vocab));
}
