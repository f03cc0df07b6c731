/**
 * Incremental (KV-cached) forward pass: one position per push.
 *
 * The model is causal, so position t's activations depend only on tokens
 * 0 .. t. Keeping every layer's keys and values of the positions seen so far
 * makes a push cost O(t·H·E + D·H·E + D·Vo) instead of a whole forward, and
 * pop() is O(1): it only moves the end back, and the next push overwrites the
 * freed row. That is what lets an enumeration walk a prefix tree depth-first
 * with one step per tree node. A push computes row t with the same kernels
 * and the same order of additions as forward(), so its logits are
 * bit-identical to forward()'s row t. Keys and values are kept head-major
 * ([L, H, C, Ep]) so that attending at long contexts streams each head's keys
 * contiguously; from KV_WASM_MIN_CONTEXT positions on, the values and a
 * block copy of the keys live in WebAssembly memory, where the score and
 * value products and the softmax of long contexts run as SIMD streams over
 * the cache (attentionWasm.ts) — one pass over the context per head, so a
 * push costs time linear in the context; at long contexts those passes are
 * shared with a helper thread (attentionSplit.ts) — and the projections of a push
 * run through a one-row SIMD product (rowProduct.ts). step() plus the zero-copy logitsView() and
 * residualView() are the allocation-free form of push()/logits()/residual()
 * for hot loops. Shape letters: see src/model/weights.ts.
 */

import type { FloatArray, Weights } from "../model/weights.ts";
import { attend, attentionJob, type AttentionJob } from "./attention.ts";
import { attentionWasm, storeKey, type AttentionWasm } from "./attentionWasm.ts";
import { attendHeadsShared } from "./attentionSplit.ts";
import { applyLinearRow, applyQkvRows, gatherNonzeros, liveBias, prepare, type PreparedModel, type SparseMode } from "./prepare.ts";
import type { ForwardOptions } from "./forward.ts";
import { rowProduct, rowProducts, rowProductTakes, type RowProducts } from "./rowProduct.ts";

/** Contexts from this long keep the cache in WebAssembly memory (when SIMD is available). */
export const KV_WASM_MIN_CONTEXT = 128;

/** A growing/shrinking sequence with per-layer key/value caches, preallocated to n_ctx. */
export class IncrementalRun {
  readonly model: PreparedModel;
  private readonly mode: SparseMode;
  private readonly toks: Int32Array; // [C]
  private readonly resid: FloatArray[]; // L+1 × [C, D]; resid[l] = resid_pre of layer l, resid[L] = final
  private readonly q: FloatArray[]; // L × [C, H, E], kept so pattern() can be recomputed after pop()
  // Keys and values head-major, [L, H, C, Ep]: one head's keys are contiguous,
  // so attending streams them (position-major rows would make each head read
  // E of every H·E values, which at long contexts misses the cache). Rows are
  // Ep ≥ E long (the WebAssembly kernel's whole vectors; padding stays 0).
  private readonly k: FloatArray; // [L, H, C, Ep]
  private readonly v: FloatArray; // [L, H, C, Ep], a view of wasm's memory when it is used
  private readonly Ep: number;
  private readonly wasm: AttentionWasm | null;
  private readonly kRow: FloatArray; // [H*E] scratch: the new position's keys
  private readonly vRow: FloatArray; // [H*E] scratch: the new position's values
  private readonly out: FloatArray; // [C, Vo] logits of every position
  private readonly z: FloatArray; // [H, E] scratch
  private readonly attnOut: FloatArray; // [D] scratch
  private readonly job: AttentionJob; // one query of one head at a time; its scratch holds C keys
  private readonly xIdx: Int32Array; // [max(D, H*E)] scratch: nonzero coordinates of one input row
  private readonly rows: RowProducts | null; // the projections' one-row SIMD product (long contexts)
  private n = 0;

  /** Prepare an empty run of `weights` (opts.cache is ignored: the run is its own cache). */
  constructor(weights: Weights, opts: Omit<ForwardOptions, "cache"> = {}) {
    this.model = prepare(weights, opts.precision ?? "float64");
    this.mode = opts.sparse ?? "auto";
    const { d_model: D, d_head: E, n_heads: H, n_layers: L, n_ctx: C, d_vocab_out: Vo } = this.model.config;
    const alloc = this.model.alloc;
    this.toks = new Int32Array(C);
    this.resid = Array.from({ length: L + 1 }, () => alloc(C * D));
    this.q = Array.from({ length: L }, () => alloc(C * H * E));
    this.wasm = C >= KV_WASM_MIN_CONTEXT ? attentionWasm(this.model.precision, L * H, E, C, H) : null;
    this.Ep = this.wasm ? this.wasm.Ep : E;
    this.k = alloc(L * H * C * this.Ep);
    this.v = this.wasm ? this.wasm.v : alloc(L * H * C * this.Ep);
    this.kRow = alloc(H * E);
    this.vRow = alloc(H * E);
    this.out = alloc(C * Vo);
    this.z = alloc(H * E);
    this.attnOut = alloc(D);
    this.job = attentionJob(this.model.precision, E, C);
    this.job.z = this.z;
    this.job.k = this.k;
    this.job.v = this.v;
    this.job.stride = this.Ep;
    if (this.wasm) {
      this.job.wasm = this.wasm;
      this.job.buf = this.wasm.buf;
      this.job.live = this.wasm.live;
    }
    this.xIdx = new Int32Array(Math.max(D, H * E));
    // Long contexts are generation: there a push's projections are a sizeable
    // share of its fixed cost. (Short runs, the enumerations' many small
    // models, keep the shared path and its memory.)
    this.rows = C >= KV_WASM_MIN_CONTEXT ? rowProducts(this.model) : null;
  }

  /** Number of tokens currently in the sequence (BOS included). */
  get length(): number {
    return this.n;
  }

  /** The tokens currently in the sequence. */
  tokens(): number[] {
    return Array.from(this.toks.subarray(0, this.n));
  }

  /**
   * Append a token without copying anything out: read the results with the
   * zero-copy logitsView()/residualView() (the hot loop of exhaustive checks).
   */
  step(token: number): void {
    const m = this.model;
    const { d_model: D, d_head: E, n_heads: H, n_ctx: C, d_vocab: V, d_vocab_out: Vo } = m.config;
    const t = this.n;
    if (t >= C) throw new Error(`IncrementalRun.push: context is full (n_ctx = ${C}); pop() before pushing more`);
    if (!Number.isInteger(token) || token < 0 || token >= V) {
      throw new Error(`IncrementalRun.push: token ${token} at position ${t} is not in the vocabulary [0, ${V})`);
    }
    const HE = H * E;
    const x0 = this.resid[0];
    const e0 = token * D, p0 = t * D;
    for (let d = 0; d < D; d++) x0[p0 + d] = m.W_E[e0 + d] + m.W_pos[p0 + d];

    const layers = m.layers;
    for (let l = 0; l < layers.length; l++) {
      const layer = layers[l];
      const x = this.resid[l]; // [C, D], row t is this layer's resid_pre
      const next = this.resid[l + 1];
      const ql = this.q[l], kl = this.k, vl = this.v, Ep = this.Ep, w = this.wasm;
      const xIdx = this.xIdx;
      const rp = this.rows, mode = this.mode;
      // All three or none (applyQkvRows computes the three together).
      if (rp !== null && rowProductTakes(rp, layer.q, mode) && rowProductTakes(rp, layer.k, mode) && rowProductTakes(rp, layer.v, mode)) {
        rowProduct(rp, layer.q, x, p0, ql, t * HE, layer.bq, mode);
        rowProduct(rp, layer.k, x, p0, this.kRow, 0, layer.bk, mode);
        rowProduct(rp, layer.v, x, p0, this.vRow, 0, layer.bv, mode);
      } else {
        applyQkvRows(layer, x, p0, 1, xIdx, ql, this.kRow, this.vRow, t * HE, mode, 0);
      }
      for (let h = 0; h < H; h++) {
        const src = h * E, dst = ((l * H + h) * C + t) * Ep;
        for (let e = 0; e < E; e++) {
          kl[dst + e] = this.kRow[src + e];
          vl[dst + e] = this.vRow[src + e];
        }
        if (w) storeKey(w, l * H + h, t, this.kRow, src);
      }
      this.attendHeads(l, t);
      const bo = liveBias(layer.bo);
      if (rp === null || !rowProduct(rp, layer.o, this.z, 0, this.attnOut, 0, bo, mode)) {
        applyLinearRow(layer.o, this.z, 0, xIdx, gatherNonzeros(this.z, 0, HE, xIdx), this.attnOut, 0, bo, mode);
      }
      const a = this.attnOut;
      for (let d = 0; d < D; d++) next[p0 + d] = x[p0 + d] + a[d];
    }

    const xf = this.resid[layers.length];
    const bU = liveBias(m.b_U);
    if (this.rows === null || !rowProduct(this.rows, m.unembed, xf, p0, this.out, t * Vo, bU, this.mode)) {
      applyLinearRow(m.unembed, xf, p0, this.xIdx, gatherNonzeros(xf, p0, D, this.xIdx), this.out, t * Vo, bU, this.mode);
    }
    this.toks[t] = token;
    this.n = t + 1;
  }

  /** Append a token and return the logits at its position ([Vo], a fresh copy). */
  push(token: number): Float64Array {
    this.step(token);
    const Vo = this.model.config.d_vocab_out;
    const t = this.n - 1;
    return new Float64Array(this.out.subarray(t * Vo, (t + 1) * Vo));
  }

  /** Remove the last token and return it; the state is exactly as before its push. */
  pop(): number {
    if (this.n === 0) throw new Error("IncrementalRun.pop: the sequence is empty");
    this.n--;
    return this.toks[this.n];
  }

  /** Remove every token. */
  clear(): void {
    this.n = 0;
  }

  /** Logits at the last position ([Vo], a fresh copy). */
  logits(): Float64Array {
    const Vo = this.model.config.d_vocab_out;
    const t = this.last("logits");
    return new Float64Array(this.out.subarray(t * Vo, (t + 1) * Vo));
  }

  /** Residual stream at the last position entering `layer` ([D], a copy); layer = n_layers gives the final stream. */
  residual(layer: number): Float64Array {
    const { d_model: D, n_layers: L } = this.model.config;
    if (!Number.isInteger(layer) || layer < 0 || layer > L) {
      throw new RangeError(`IncrementalRun.residual: layer ${layer} is not in 0 .. ${L}`);
    }
    const t = this.last("residual");
    return new Float64Array(this.resid[layer].subarray(t * D, (t + 1) * D));
  }

  /**
   * Logits at the last position as a view into the run's own storage ([Vo],
   * in the run's precision): no copy, valid until the next push/pop/clear.
   */
  logitsView(): FloatArray {
    const Vo = this.model.config.d_vocab_out;
    const t = this.last("logitsView");
    return this.out.subarray(t * Vo, (t + 1) * Vo);
  }

  /** Residual stream at the last position entering `layer`, as a view (see logitsView). */
  residualView(layer: number): FloatArray {
    const { d_model: D, n_layers: L } = this.model.config;
    if (!Number.isInteger(layer) || layer < 0 || layer > L) {
      throw new RangeError(`IncrementalRun.residualView: layer ${layer} is not in 0 .. ${L}`);
    }
    const t = this.last("residualView");
    return this.resid[layer].subarray(t * D, (t + 1) * D);
  }

  /** Attention pattern of the last position over keys 0 .. length-1 for one head ([length]). */
  pattern(layer: number, head: number): Float64Array {
    const { d_head: E, n_heads: H, n_layers: L } = this.model.config;
    if (!Number.isInteger(layer) || layer < 0 || layer >= L) {
      throw new RangeError(`IncrementalRun.pattern: layer ${layer} is not in 0 .. ${L - 1}`);
    }
    if (!Number.isInteger(head) || head < 0 || head >= H) {
      throw new RangeError(`IncrementalRun.pattern: head ${head} is not in 0 .. ${H - 1}`);
    }
    const t = this.last("pattern");
    // Recomputed from the cached q and keys (O(t·E)) rather than stored for every
    // position, which would cost L·H·C² memory; the arithmetic is the push's own.
    this.attendHeads(layer, t, head);
    return new Float64Array(this.job.buf.subarray(0, t + 1));
  }

  /**
   * Position t's query of layer l against the cached keys 0 … t, for every
   * head (z of all heads), or for `only` (its z and the pattern in job.buf).
   */
  private attendHeads(l: number, t: number, only = -1): void {
    const { d_head: E, n_heads: H, n_ctx: C } = this.model.config;
    const job = this.job;
    const vCols = this.model.layers[l].vCols;
    job.q = this.q[l];
    job.nKeys = t + 1;
    if (only < 0 && this.wasm && attendHeadsShared(this.wasm, job, l * H, H, t * H * E, vCols)) return;
    for (let h = only < 0 ? 0 : only; h < (only < 0 ? H : only + 1); h++) {
      job.qOff = t * H * E + h * E;
      job.kOff = (l * H + h) * C * this.Ep;
      if (this.wasm) this.wasm.head = l * H + h;
      job.zOff = h * E;
      job.vCols = vCols[h];
      attend(job);
    }
  }

  private last(caller: string): number {
    if (this.n === 0) throw new Error(`IncrementalRun.${caller}: the sequence is empty`);
    return this.n - 1;
  }
}
