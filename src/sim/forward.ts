/**
 * The forward pass of an attention-only transformer, exactly as
 * TransformerLens computes it (no LayerNorm, no MLP):
 *
 *   resid = W_E[tok] + W_pos[p]
 *   per layer: resid = resid + Σ_h softmax(mask(q_h k_hᵀ / √E)) v_h W_O[h] + b_O
 *   logits = resid W_U + b_U
 *
 * Position 0 is BOS like any other token: the caller puts it in the list.
 *
 * Where the time goes: products run on CSR rows for sparse (compiled)
 * weights, and on the WebAssembly SIMD kernel (src/sim/wasm.ts, split with a
 * helper thread when big) for dense ones; dense heads attend whole
 * sequences at once as two lists of such products on q, k, v and z in the
 * kernel module's memory (attentionSequences.ts), sparse heads row by row
 * with sparse queries. When every product is sparse (compiled weights) and no
 * cache is asked for, compact.ts runs the layers on arrays narrowed to the
 * columns the heads use. Every path adds the same terms in the same order, so the
 * choice never changes a bit. Intermediates live in a per-model workspace
 * (fresh large arrays cost more in page faults than the arithmetic).
 * Shape letters: see src/model/weights.ts.
 */

import type { FloatArray, Tensor, Weights } from "../model/weights.ts";
import { attendRow, attentionJob, reserveKeys, type AttentionJob, type AttentionTrace } from "./attention.ts";
import { embed } from "./embed.ts";
import { attendSequenceCopying, attendSequences, inKernelMemory, moduleArray } from "./attentionSequences.ts";
import { wasmAvailable } from "./wasm.ts";
import { workspace } from "./workspace.ts";
import { allSparse, compactModel, runCompact } from "./compact.ts";
import { runCompactShared } from "./compactThreads.ts";
import {
  applyLinearRows, applyLinearRowsAdd, applyQkvRows, prepare, type PreparedLayer, type PreparedModel, type Precision, type SparseMode, usesSparse,
} from "./prepare.ts";

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
  /** [T, Vo]; forwardBatch's are disjoint views of one array its results share (writing one changes no other). */
  readonly logits: Float64Array;
  readonly cache?: ActivationCache;
}

/** Run one sequence (tokens[0] is BOS) and return its logits at every position. */
export function forward(weights: Weights, tokens: readonly number[], opts: ForwardOptions = {}): ForwardResult {
  const model = prepare(weights, opts.precision ?? "float64");
  checkTokens(model, tokens, "forward");
  const cache: ActivationCache | undefined = opts.cache ? new Map() : undefined;
  const logits = new Float64Array(run(model, Int32Array.from(tokens), [0], [tokens.length], opts.sparse ?? "auto", cache));
  return cache ? { logits, cache } : { logits };
}

/**
 * Run many sequences of possibly different lengths. Without a cache they are
 * stacked into one [ΣT, D] residual so every projection is one product over
 * all rows (each weight tile is loaded once per batch, not once per sequence);
 * attention stays per sequence. On compiled weights a big batch is shared
 * with a helper thread, whole sequences each (compactThreads.ts). Results
 * equal forward() on each sequence.
 */
export function forwardBatch(
  weights: Weights, batch: readonly (readonly number[])[], opts: ForwardOptions = {},
): ForwardResult[] {
  if (opts.cache) return batch.map((tokens) => forward(weights, tokens, opts));
  const model = prepare(weights, opts.precision ?? "float64");
  for (const tokens of batch) checkTokens(model, tokens, "forwardBatch");
  const { d_model: D, d_head: E, n_heads: H, d_vocab_out: Vo } = model.config;
  // Runs of at most RUN_ELEMENTS per [rows, ·] intermediate (one sequence at least), so
  // they stay in the kernel module's buffer region; rows are independent: the same bits.
  const rowsPerRun = Math.max(1, Math.floor(RUN_ELEMENTS / Math.max(D, H * E)));
  const results: ForwardResult[] = [];
  for (let b0 = 0; b0 < batch.length;) {
    const starts: number[] = [];
    const lengths: number[] = [];
    let rows = 0, b1 = b0;
    for (; b1 < batch.length && (b1 === b0 || rows + batch[b1]!.length <= rowsPerRun); b1++) {
      starts.push(rows);
      lengths.push(batch[b1]!.length);
      rows += batch[b1]!.length;
    }
    // Tokens reach every kernel as an Int32Array, as the helper's chunks hand them over: with plain arrays
    // here the token reads turned polymorphic, and previous-token float32 on one thread took 3.1 ms a call
    // instead of 1.9 in a process that had also shared batches.
    const all = new Int32Array(rows);
    for (let b = b0; b < b1; b++) all.set(batch[b]!, starts[b - b0]!);
    const mode = opts.sparse ?? "auto";
    const logits = runCompactShared(model, weights, mode, all, starts, lengths) ?? run(model, all, starts, lengths, mode, undefined);
    // One array for the run, one view per sequence: a conversion and an allocation per sequence cost
    // 2–3× as much (64 sequences of 64 × 9 float32 logits: about 200 µs against 85 µs).
    const out = new Float64Array(all.length * Vo);
    out.set(logits.subarray(0, all.length * Vo));
    starts.forEach((s, i) => results.push({ logits: out.subarray(s * Vo, (s + lengths[i]!) * Vo) }));
    b0 = b1;
  }
  return results;
}

/** Elements of one [rows, d_model or H·E] intermediate of a forwardBatch run: bounds the rows per run. */
const RUN_ELEMENTS = 1 << 20;

/** Throw a message naming the caller if `tokens` cannot be run. */
export function checkTokens(model: PreparedModel, tokens: readonly number[], caller: string): void {
  const { d_vocab: V, n_ctx: C } = model.config;
  if (tokens.length === 0) throw new Error(`${caller}: empty sequence (position 0 must hold BOS)`);
  if (tokens.length > C) throw new Error(`${caller}: sequence of length ${tokens.length} exceeds n_ctx = ${C}`);
  for (let p = 0; p < tokens.length; p++) {
    const t = tokens[p];
    if (!Number.isInteger(t) || t < 0 || t >= V) {
      throw new Error(`${caller}: token ${t} at position ${p} is not in the vocabulary [0, ${V})`);
    }
  }
}

/**
 * The forward pass over stacked sequences: sequence b occupies rows
 * starts[b] .. starts[b]+lengths[b]-1 of every [N, ·] array. With a cache
 * there is exactly one sequence (forwardBatch guarantees it). Returns the
 * [N, Vo] logits in the model's precision, in workspace memory that the
 * next call reuses: callers copy out what they return.
 */
function run(
  model: PreparedModel, tokens: Int32Array, starts: readonly number[], lengths: readonly number[],
  mode: SparseMode, cache: ActivationCache | undefined,
): FloatArray {
  const { d_model: D, d_head: E, n_heads: H, d_vocab_out: Vo } = model.config;
  const HE = H * E;
  const N = tokens.length;
  const alloc = model.alloc;

  // Intermediates come from a per-model workspace reused across calls (see
  // workspace.ts). Every one is fully overwritten below.
  const ws = cache ? null : workspace(model);
  const take = (key: string, n: number): FloatArray => (ws ? ws(key, n) : alloc(n));
  const resid = take("resid", N * D); // [N, D]
  // Compiled weights: the same logits on narrowed arrays (see compact.ts).
  if (!cache && allSparse(model, mode)) return runCompact(compactModel(model), tokens, resid, N, starts, lengths, take);
  embed(model.W_E, model.W_pos, D, tokens, starts, lengths, resid);
  if (cache) recordEmbeddings(model, tokens, cache);

  // Whole-sequence attention runs on the kernel module's products where q, k, v and z lie
  // in its memory (read and written in place); where they cannot, heads attend row by row.
  const wholeSequences = !cache && model.layers.some((layer) => denseAttention(layer, mode));
  const f32 = model.precision === "float32";
  const takeKernel = (key: string, n: number): FloatArray => (wholeSequences ? moduleArray(`forward.${key}`, n, f32) : null) ?? take(key, n);
  const q = takeKernel("q", N * HE); // [N, H, E]
  const k = takeKernel("k", N * HE); // [N, H, E]
  const v = takeKernel("v", N * HE); // [N, H, E]
  const z = takeKernel("z", N * HE); // [N, H, E]
  const inKernel = [q, k, v, z].every(inKernelMemory);
  const attnOut = take("attnOut", N * D); // [N, D]
  const job = jobFor(model, lengths.reduce((a, b) => Math.max(a, b), 0)); // one row of scores, reused for every query and head
  const xIdx = new Int32Array(Math.max(D, HE)); // nonzero coordinates of one input row (sparse products)
  const long: number[] = [];
  for (let b = 0; b < starts.length; b++) if (lengths[b]! >= WASM_ATTENTION_MIN_LENGTH) long.push(b);

  model.layers.forEach((layer, l) => {
    if (cache) cache.set(`blocks.${l}.hook_resid_pre`, tensor([N, D], resid.slice()));
    applyQkvRows(layer, resid, 0, N, xIdx, q, k, v, 0, mode);

    const trace = cache ? newTrace(alloc, H, N) : null;
    const dense = !trace && denseAttention(layer, mode);
    const whole = dense && inKernel && attendSequences(job, q, k, v, z, starts, lengths, long, H);
    for (let b = 0; b < starts.length; b++) {
      const isLong = lengths[b]! >= WASM_ATTENTION_MIN_LENGTH;
      if (whole && isLong) continue;
      // Too big for the module's scratch (or q…z outside it): products on copies, in row blocks.
      if (dense && isLong && wasmAvailable()) attendSequenceCopying(job, q, k, v, z, starts[b]! * HE, lengths[b]!, H, take);
      else for (let i = 0; i < lengths[b]!; i++) attendRow(job, q, k, v, z, starts[b]! * HE, i, H, trace, layer.vCols);
    }

    // One [N, H*E]·[H*E, D] product sums the heads; per-head results are only
    // materialised for the cache, so logits do not depend on whether one was asked for.
    if (!cache && usesSparse(layer.o, mode)) {
      // Sparse: each row of the product is added to the residual while in cache.
      applyLinearRowsAdd(layer.o, z, 0, N, xIdx, resid, 0, layer.bo, mode, attnOut);
    } else {
      applyLinearRows(layer.o, z, 0, N, xIdx, attnOut, 0, layer.bo, mode);
      addInPlace(resid, attnOut, N * D);
    }

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

  const out = take("out", N * Vo); // [N, Vo]
  applyLinearRows(model.unembed, resid, 0, N, xIdx, out, 0, model.b_U, mode);
  return out;
}

/** a[i] = a[i] + b[i] for i < n. */
function addInPlace(a: FloatArray, b: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) a[i] = a[i] + b[i];
}

const jobs = new WeakMap<PreparedModel, AttentionJob>();

/** The model's attention record (its scratch grown to maxKeys keys): forward runs one call at a time. */
function jobFor(model: PreparedModel, maxKeys: number): AttentionJob {
  let job = jobs.get(model);
  if (!job) {
    job = attentionJob(model.precision, model.config.d_head, maxKeys);
    jobs.set(model, job);
  }
  reserveKeys(job, maxKeys);
  return job;
}

/** Sequences at least this long attend through the WebAssembly products (shorter: row by row). */
const WASM_ATTENTION_MIN_LENGTH = 16;

/**
 * Whether a layer's heads attend through whole-sequence products: dense
 * weights (sparse ones attend faster row by row, with sparse queries and
 * only the live value columns) and the WebAssembly kernel at hand.
 */
function denseAttention(layer: PreparedLayer, mode: SparseMode): boolean {
  return !usesSparse(layer.q, mode) && !usesSparse(layer.k, mode) && wasmAvailable();
}

function recordEmbeddings(model: PreparedModel, tokens: Int32Array, cache: ActivationCache): void {
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
