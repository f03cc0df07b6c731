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
 * bit-identical to forward()'s row t. Shape letters: see src/model/weights.ts.
 */

import type { FloatArray, Weights } from "../model/weights.ts";
import { attendHead } from "./kernels.ts";
import { applyLinear, prepare, type PreparedModel, type SparseMode } from "./prepare.ts";
import type { ForwardOptions } from "./forward.ts";

/** A growing/shrinking sequence with per-layer key/value caches, preallocated to n_ctx. */
export class IncrementalRun {
  readonly model: PreparedModel;
  private readonly mode: SparseMode;
  private readonly toks: Int32Array; // [C]
  private readonly resid: FloatArray[]; // L+1 × [C, D]; resid[l] = resid_pre of layer l, resid[L] = final
  private readonly q: FloatArray[]; // L × [C, H, E], kept so pattern() can be recomputed after pop()
  private readonly k: FloatArray[]; // L × [C, H, E]
  private readonly v: FloatArray[]; // L × [C, H, E]
  private readonly out: FloatArray; // [C, Vo] logits of every position
  private readonly z: FloatArray; // [H, E] scratch
  private readonly attnOut: FloatArray; // [D] scratch
  private readonly buf: FloatArray; // [C] scratch score row
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
    this.k = Array.from({ length: L }, () => alloc(C * H * E));
    this.v = Array.from({ length: L }, () => alloc(C * H * E));
    this.out = alloc(C * Vo);
    this.z = alloc(H * E);
    this.attnOut = alloc(D);
    this.buf = alloc(C);
  }

  /** Number of tokens currently in the sequence (BOS included). */
  get length(): number {
    return this.n;
  }

  /** The tokens currently in the sequence. */
  tokens(): number[] {
    return Array.from(this.toks.subarray(0, this.n));
  }

  /** Append a token and return the logits at its position ([Vo], a fresh copy). */
  push(token: number): Float64Array {
    const m = this.model;
    const { d_model: D, d_head: E, n_heads: H, n_ctx: C, d_vocab: V, d_vocab_out: Vo } = m.config;
    const t = this.n;
    if (t >= C) throw new Error(`IncrementalRun.push: context is full (n_ctx = ${C}); pop() before pushing more`);
    if (!Number.isInteger(token) || token < 0 || token >= V) {
      throw new Error(`IncrementalRun.push: token ${token} at position ${t} is not in the vocabulary [0, ${V})`);
    }
    const HE = H * E;
    const sqrtE = Math.sqrt(E);
    const x0 = this.resid[0];
    for (let d = 0; d < D; d++) x0[t * D + d] = m.W_E[token * D + d] + m.W_pos[t * D + d];

    m.layers.forEach((layer, l) => {
      const x = this.resid[l]; // [C, D], row t is this layer's resid_pre
      const next = this.resid[l + 1];
      applyLinear(layer.q, x, t * D, 1, this.q[l], t * HE, layer.bq, this.mode);
      applyLinear(layer.k, x, t * D, 1, this.k[l], t * HE, layer.bk, this.mode);
      applyLinear(layer.v, x, t * D, 1, this.v[l], t * HE, layer.bv, this.mode);
      for (let h = 0; h < H; h++) {
        attendHead(this.q[l], t * HE + h * E, this.k[l], this.v[l], h * E, t + 1, HE, E, sqrtE, this.z, h * E, this.buf);
      }
      applyLinear(layer.o, this.z, 0, 1, this.attnOut, 0, layer.bo, this.mode);
      for (let d = 0; d < D; d++) next[t * D + d] = x[t * D + d] + this.attnOut[d];
    });

    applyLinear(m.unembed, this.resid[m.layers.length], t * D, 1, this.out, t * Vo, m.b_U, this.mode);
    this.toks[t] = token;
    this.n = t + 1;
    return Float64Array.from(this.out.subarray(t * Vo, (t + 1) * Vo));
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
    return Float64Array.from(this.out.subarray(t * Vo, (t + 1) * Vo));
  }

  /** Residual stream at the last position entering `layer` ([D], a copy); layer = n_layers gives the final stream. */
  residual(layer: number): Float64Array {
    const { d_model: D, n_layers: L } = this.model.config;
    if (!Number.isInteger(layer) || layer < 0 || layer > L) {
      throw new RangeError(`IncrementalRun.residual: layer ${layer} is not in 0 .. ${L}`);
    }
    const t = this.last("residual");
    return Float64Array.from(this.resid[layer].subarray(t * D, (t + 1) * D));
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
    const HE = H * E;
    // Recomputed from the cached q and keys (O(t·E)) rather than stored for every
    // position, which would cost L·H·C² memory; the arithmetic is the push's own.
    attendHead(
      this.q[layer], t * HE + head * E, this.k[layer], this.v[layer], head * E, t + 1, HE,
      E, Math.sqrt(E), this.z, head * E, this.buf,
    );
    return Float64Array.from(this.buf.subarray(0, t + 1));
  }

  private last(caller: string): number {
    if (this.n === 0) throw new Error(`IncrementalRun.${caller}: the sequence is empty`);
    return this.n - 1;
  }
}
