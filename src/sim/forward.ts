/**
 * The forward pass of an attention-only transformer, exactly as
 * TransformerLens computes it (no LayerNorm, no MLP):
 *
 *   resid = W_E[tok] + W_pos[p]
 *   per layer: resid = resid + Σ_h softmax(mask(q_h k_hᵀ / √E)) v_h W_O[h] + b_O
 *   logits = resid W_U + b_U
 *
 * Position 0 is BOS like any other token: the caller puts it in the list.
 * Shape letters: see src/model/weights.ts.
 */

import type { FloatArray, Tensor, Weights } from "../model/weights.ts";
import { attendRow, type AttentionTrace } from "./kernels.ts";
import { applyLinear, prepare, type PreparedModel, type Precision, type SparseMode } from "./prepare.ts";

/** Activations keyed by TransformerLens hook name (no batch dimension). */
export type ActivationCache = Map<string, Tensor>;

/** Options shared by forward, forwardBatch and IncrementalRun. */
export interface ForwardOptions {
  /** Storage precision of every intermediate array; default "float64". */
  readonly precision?: Precision;
  /** Record TransformerLens activations (costs [H, T, T] per layer); default false. */
  readonly cache?: boolean;
  /** Product path; default "auto" (sparse below 10% density). */
  readonly sparse?: SparseMode;
}

/** Logits of one sequence, and its activations if asked for. */
export interface ForwardResult {
  readonly logits: Float64Array; // [T, Vo]
  readonly cache?: ActivationCache;
}

/** Run one sequence (tokens[0] is BOS) and return its logits at every position. */
export function forward(weights: Weights, tokens: readonly number[], opts: ForwardOptions = {}): ForwardResult {
  const model = prepare(weights, opts.precision ?? "float64");
  checkTokens(model, tokens, "forward");
  const cache: ActivationCache | undefined = opts.cache ? new Map() : undefined;
  const logits = run(model, tokens, [0], [tokens.length], opts.sparse ?? "auto", cache);
  return cache ? { logits, cache } : { logits };
}

/**
 * Run many sequences of possibly different lengths. Without a cache they are
 * stacked into one [ΣT, D] residual so every projection is one product over
 * all rows (each weight tile is loaded once per batch, not once per sequence);
 * attention stays per sequence. Results equal forward() on each sequence.
 */
export function forwardBatch(
  weights: Weights, batch: readonly (readonly number[])[], opts: ForwardOptions = {},
): ForwardResult[] {
  if (opts.cache) return batch.map((tokens) => forward(weights, tokens, opts));
  const model = prepare(weights, opts.precision ?? "float64");
  const starts: number[] = [];
  const lengths: number[] = [];
  const all: number[] = [];
  for (const tokens of batch) {
    checkTokens(model, tokens, "forwardBatch");
    starts.push(all.length);
    lengths.push(tokens.length);
    for (const t of tokens) all.push(t);
  }
  const logits = run(model, all, starts, lengths, opts.sparse ?? "auto", undefined);
  const Vo = model.config.d_vocab_out;
  return starts.map((s, b) => ({ logits: logits.slice(s * Vo, (s + lengths[b]) * Vo) }));
}

/** Throw a message naming the caller if `tokens` cannot be run. */
export function checkTokens(model: PreparedModel, tokens: readonly number[], caller: string): void {
  const { d_vocab: V, n_ctx: C } = model.config;
  if (tokens.length === 0) throw new Error(`${caller}: empty sequence (position 0 must hold BOS)`);
  if (tokens.length > C) throw new Error(`${caller}: sequence of length ${tokens.length} exceeds n_ctx = ${C}`);
  tokens.forEach((t, p) => {
    if (!Number.isInteger(t) || t < 0 || t >= V) {
      throw new Error(`${caller}: token ${t} at position ${p} is not in the vocabulary [0, ${V})`);
    }
  });
}

/**
 * The forward pass over stacked sequences: sequence b occupies rows
 * starts[b] .. starts[b]+lengths[b]-1 of every [N, ·] array. With a cache
 * there is exactly one sequence (forwardBatch guarantees it).
 */
function run(
  model: PreparedModel, tokens: readonly number[], starts: readonly number[], lengths: readonly number[],
  mode: SparseMode, cache: ActivationCache | undefined,
): Float64Array {
  const { d_model: D, d_head: E, n_heads: H, d_vocab_out: Vo } = model.config;
  const HE = H * E;
  const N = tokens.length;
  const sqrtE = Math.sqrt(E);
  const alloc = model.alloc;

  const resid = alloc(N * D); // [N, D]
  for (let b = 0; b < starts.length; b++) {
    for (let p = 0; p < lengths[b]; p++) {
      const row = (starts[b] + p) * D;
      const e = tokens[starts[b] + p] * D;
      const pos = p * D;
      for (let d = 0; d < D; d++) resid[row + d] = model.W_E[e + d] + model.W_pos[pos + d];
    }
  }
  if (cache) recordEmbeddings(model, tokens, cache);

  const q = alloc(N * HE); // [N, H, E]
  const k = alloc(N * HE); // [N, H, E]
  const v = alloc(N * HE); // [N, H, E]
  const z = alloc(N * HE); // [N, H, E]
  const attnOut = alloc(N * D); // [N, D]
  const buf = alloc(lengths.reduce((a, b) => Math.max(a, b), 0)); // one row of scores, reused for every query and head

  model.layers.forEach((layer, l) => {
    if (cache) cache.set(`blocks.${l}.hook_resid_pre`, tensor([N, D], resid.slice()));
    applyLinear(layer.q, resid, 0, N, q, 0, layer.bq, mode);
    applyLinear(layer.k, resid, 0, N, k, 0, layer.bk, mode);
    applyLinear(layer.v, resid, 0, N, v, 0, layer.bv, mode);

    const trace = cache ? newTrace(alloc, H, N) : null;
    for (let b = 0; b < starts.length; b++) {
      for (let i = 0; i < lengths[b]; i++) attendRow(q, k, v, z, starts[b] * HE, i, H, E, sqrtE, buf, trace);
    }

    // One [N, H*E]·[H*E, D] product sums the heads; per-head results are only
    // materialised for the cache, so logits do not depend on whether one was asked for.
    applyLinear(layer.o, z, 0, N, attnOut, 0, layer.bo, mode);
    for (let i = 0; i < N * D; i++) resid[i] = resid[i] + attnOut[i];

    if (cache && trace) {
      const a = `blocks.${l}.attn.`;
      cache.set(a + "hook_q", tensor([N, H, E], q.slice()));
      cache.set(a + "hook_k", tensor([N, H, E], k.slice()));
      cache.set(a + "hook_v", tensor([N, H, E], v.slice()));
      cache.set(a + "hook_attn_scores", tensor([H, N, N], trace.scores));
      cache.set(a + "hook_pattern", tensor([H, N, N], trace.pattern));
      cache.set(a + "hook_z", tensor([N, H, E], z.slice()));
      cache.set(a + "hook_result", tensor([N, H, D], perHeadResult(model, l, z, N)));
      cache.set(`blocks.${l}.hook_attn_out`, tensor([N, D], attnOut.slice()));
      cache.set(`blocks.${l}.hook_resid_post`, tensor([N, D], resid.slice()));
    }
  });

  const out = alloc(N * Vo); // [N, Vo]
  applyLinear(model.unembed, resid, 0, N, out, 0, model.b_U, mode);
  return out instanceof Float64Array ? out : Float64Array.from(out);
}

function recordEmbeddings(model: PreparedModel, tokens: readonly number[], cache: ActivationCache): void {
  const D = model.config.d_model;
  const T = tokens.length;
  const embed = model.alloc(T * D); // [T, D]
  const pos = model.alloc(T * D); // [T, D]
  for (let p = 0; p < T; p++) {
    embed.set(model.W_E.subarray(tokens[p] * D, (tokens[p] + 1) * D), p * D);
    pos.set(model.W_pos.subarray(p * D, (p + 1) * D), p * D);
  }
  cache.set("hook_embed", tensor([T, D], embed));
  cache.set("hook_pos_embed", tensor([T, D], pos));
}

function newTrace(alloc: (n: number) => FloatArray, H: number, T: number): AttentionTrace {
  const scores = alloc(H * T * T).fill(-Infinity); // [H, T, T]
  const pattern = alloc(H * T * T); // [H, T, T]
  return { scores, pattern, T };
}

/** result[t, h, :] = z[t, h, :] · W_O[h] — TransformerLens's hook_result (use_attn_result). */
function perHeadResult(model: PreparedModel, l: number, z: FloatArray, T: number): FloatArray {
  const { d_model: D, d_head: E, n_heads: H } = model.config;
  const Wo = model.layers[l].o.dense; // [H, E, D]
  const result = model.alloc(T * H * D); // [T, H, D]
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      const r = (t * H + h) * D;
      for (let e = 0; e < E; e++) {
        const a = z[(t * H + h) * E + e];
        const w = (h * E + e) * D;
        for (let d = 0; d < D; d++) result[r + d] += a * Wo[w + d];
      }
    }
  }
  return result;
}

function tensor(shape: number[], data: FloatArray): Tensor {
  return { shape, data };
}
