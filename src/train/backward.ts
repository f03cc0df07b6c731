/**
 * The forward pass with its activations kept, next-token cross-entropy, and
 * the gradient of that loss with respect to every parameter, written by hand
 * for the attention-only transformer of src/sim/forward.ts:
 *
 *   x₀ = W_E[tok] + W_pos[p]
 *   per layer l: [q k v] = x_l [W_Q W_K W_V] + [b_Q b_K b_V]       (all heads at once)
 *                P_h = softmax(mask(q_h k_hᵀ / √E)),  z_h = P_h v_h
 *                x_{l+1} = x_l + z W_O + b_O
 *   logits = x_L W_U + b_U,   loss = mean over trained rows of −log softmax(logits)[target]
 *
 * and backwards (g_· = ∂loss/∂·, S the scaled scores):
 *
 *   g_logits = (softmax − onehot)/count on trained rows;  g_W_U = x_Lᵀ g_logits;  g_x_L = g_logits W_Uᵀ
 *   per layer, last first:  g_W_O = zᵀ g_x;  g_z = g_x W_Oᵀ
 *     per head: g_P = g_z v_hᵀ;  g_v_h = Pᵀ g_z;  g_S = P ∘ (g_P − rowsum(P ∘ g_P)) / √E
 *               g_q_h = g_S k_h;  g_k_h = g_Sᵀ q_h
 *     g_[W_Q W_K W_V] = x_lᵀ g_[q k v];  g_x_l = g_x_{l+1} + g_[q k v] [W_Q W_K W_V]ᵀ
 *   g_W_E[tok] += g_x₀ rows;  g_W_pos[p] += g_x₀ rows;  every bias: the column sums
 *
 * Products go through src/train/products.ts (the WebAssembly SIMD kernel on
 * strided slices); every buffer is allocated once per engine, so a training
 * step allocates nothing big. Shape letters: see src/model/weights.ts;
 * N = B·T rows, sequence b in rows b·T … b·T+T−1.
 */
import type { FloatArray } from "../model/weights.ts";
import { attendBackward, attendForward } from "./attention.ts";
import { attendBackwardWasm, attendForwardWasm, attentionKernels, type AttentionKernels, wasmFloats } from "./wasmAttention.ts";
import { operand as op, Products } from "./products.ts";
import { allocFloat, offsetOf, type Params, type TrainPrecision, type TrainShape } from "./params.ts";

/** Parameter offsets of one layer in the flat array (−1 for absent biases). */
interface LayerOffsets {
  readonly W_Q: number;
  readonly W_K: number;
  readonly W_V: number;
  readonly W_O: number;
  readonly b_Q: number;
  readonly b_K: number;
  readonly b_V: number;
  readonly b_O: number;
}

/** Forward and backward passes for batches of B sequences of T tokens each. */
export class TrainEngine {
  readonly shape: TrainShape;
  readonly B: number;
  readonly T: number;
  readonly precision: TrainPrecision;
  private readonly mm: Products;
  /** The WebAssembly attention kernels, when the attention arrays live in their memory. */
  private readonly ks: AttentionKernels | null;
  private readonly offs: { W_E: number; W_pos: number; W_U: number; b_U: number; layers: LayerOffsets[] };
  // Activations kept for the backward pass.
  private readonly x: FloatArray[]; // L+1 × [N, D]: residual before each layer, and the final one
  private readonly qkv: FloatArray[]; // L × [N, 3HE]
  private readonly P: FloatArray[]; // L × [B, H, T, T] attention patterns
  private readonly z: FloatArray[]; // L × [N, HE]
  private readonly wqkv: FloatArray[]; // L × [D, 3HE]: the layer's W_Q|W_K|W_V side by side
  private readonly bqkv: FloatArray; // [3HE]
  private readonly logits: FloatArray; // [N, V], then g_logits
  // Gradient scratch.
  private readonly gx: FloatArray; // [N, D]
  private readonly gz: FloatArray; // [N, HE]
  private readonly gqkv: FloatArray; // [N, 3HE]
  private readonly gS: FloatArray; // [T, T]
  private readonly gw: FloatArray; // [D, 3HE]
  private readonly exps: Float64Array; // [V]: one row's exp(logit − max)
  private expSum = 0;
  /** Per-row loss of the last pass (NaN for rows not trained). */
  readonly rowLoss: Float64Array;

  constructor(shape: TrainShape, B: number, T: number, precision: TrainPrecision, offsetsFrom: { readonly entries: Params["entries"] }) {
    if (T < 1 || T > shape.n_ctx) throw new Error(`sequence length ${T} must be in 1…${shape.n_ctx}`);
    this.shape = shape;
    this.B = B;
    this.T = T;
    this.precision = precision;
    this.mm = new Products(precision);
    const { d_model: D, n_heads: H, d_head: E, n_layers: L, d_vocab: V } = shape;
    const N = B * T, HE = H * E;
    const at = (name: string) => (offsetsFrom.entries.some((e) => e.name === name) ? offsetOf(offsetsFrom, name) : -1);
    this.offs = {
      W_E: at("embed.W_E"), W_pos: at("pos_embed.W_pos"), W_U: at("unembed.W_U"), b_U: at("unembed.b_U"),
      layers: Array.from({ length: L }, (_, l) => {
        const p = `blocks.${l}.attn.`;
        return { W_Q: at(p + "W_Q"), W_K: at(p + "W_K"), W_V: at(p + "W_V"), W_O: at(p + "W_O"), b_Q: at(p + "b_Q"), b_K: at(p + "b_K"), b_V: at(p + "b_V"), b_O: at(p + "b_O") };
      }),
    };
    const f = (n: number) => allocFloat(precision, n);
    // Float32 attention runs in WebAssembly (wasmAttention.ts) on arrays in its memory, when it can.
    const ks = precision === "float32" && E % 4 === 0 ? attentionKernels() : null;
    const attn = ks ? wasmArrays([...new Array<number>(L).fill(N * 3 * HE), ...new Array<number>(L).fill(B * H * T * T), ...new Array<number>(L).fill(N * HE), N * HE, N * 3 * HE, T * T]) : null;
    this.ks = attn ? ks : null;
    const take = (n: number) => (attn ? attn.shift()! : f(n));
    this.x = Array.from({ length: L + 1 }, () => f(N * D));
    this.qkv = Array.from({ length: L }, () => take(N * 3 * HE));
    this.P = Array.from({ length: L }, () => take(B * H * T * T));
    this.z = Array.from({ length: L }, () => take(N * HE));
    this.gz = take(N * HE);
    this.gqkv = take(N * 3 * HE);
    this.gS = take(T * T);
    this.wqkv = Array.from({ length: L }, () => f(D * 3 * HE));
    this.bqkv = f(3 * HE);
    this.logits = f(N * V);
    this.gx = f(N * D);
    this.gw = f(D * 3 * HE);
    this.rowLoss = new Float64Array(N);
    this.exps = new Float64Array(V);
  }

  /**
   * Mean cross-entropy over rows whose target is ≥ 0 (targets[n] is the
   * token id row n should predict; −1: not trained). With `grad` (same
   * layout as params, any contents) it is overwritten with the gradient.
   * Per-row losses are left in rowLoss. Returns NaN when no row is trained.
   */
  lossAndGrad(params: Params, tokens: Int32Array, targets: Int32Array, grad: FloatArray | null): number {
    const loss = this.forward(params.data, tokens, targets, grad !== null);
    if (grad) this.backward(params.data, tokens, grad);
    return loss;
  }

  /** The logits of the last pass ([N, V]; only valid after a pass without gradient). */
  lastLogits(): FloatArray {
    return this.logits;
  }

  private forward(w: FloatArray, tokens: Int32Array, targets: Int32Array, wantGrad: boolean): number {
    const { d_model: D, n_heads: H, d_head: E, n_layers: L, d_vocab: V } = this.shape;
    const { B, T } = this;
    const N = B * T, HE = H * E, HE3 = 3 * HE;
    const scale = 1 / Math.sqrt(E);
    const mm = this.mm;
    if (tokens.length !== N || targets.length !== N) throw new Error(`batch must hold ${N} tokens and targets`);

    const x0 = this.x[0];
    for (let n = 0; n < N; n++) {
      const t = tokens[n];
      if (!(t >= 0 && t < V)) throw new Error(`token id ${t} at row ${n} is outside the vocabulary [0, ${V})`);
      const e = this.offs.W_E + t * D, p = this.offs.W_pos + (n % T) * D, r = n * D;
      for (let d = 0; d < D; d++) x0[r + d] = w[e + d] + w[p + d];
    }

    for (let l = 0; l < L; l++) {
      const o = this.offs.layers[l];
      const xl = this.x[l], qkv = this.qkv[l], P = this.P[l], z = this.z[l], wqkv = this.wqkv[l];
      // [W_Q W_K W_V] as one [D, 3HE] matrix: column s·HE + h·E + e is W_s[h, :, e].
      const srcs = [o.W_Q, o.W_K, o.W_V];
      for (let s = 0; s < 3; s++) {
        for (let h = 0; h < H; h++) {
          for (let d = 0; d < D; d++) {
            const src = srcs[s] + (h * D + d) * E, dst = d * HE3 + s * HE + h * E;
            for (let e = 0; e < E; e++) wqkv[dst + e] = w[src + e];
          }
        }
      }
      mm.mm(N, HE3, D, op(xl, 0, D), op(wqkv, 0, HE3), qkv, 0, HE3, false);
      if (o.b_Q >= 0) {
        const b = this.bqkv;
        for (let j = 0; j < HE; j++) {
          b[j] = w[o.b_Q + j];
          b[HE + j] = w[o.b_K + j];
          b[2 * HE + j] = w[o.b_V + j];
        }
        addRows(qkv, N, HE3, b, 0);
      }

      for (let b = 0; b < B; b++) {
        const r0 = b * T * HE3;
        for (let h = 0; h < H; h++) {
          if (this.ks) attendForwardWasm(this.ks, qkv as Float32Array, HE3, r0 + h * E, r0 + HE + h * E, r0 + 2 * HE + h * E, T, E, scale, P as Float32Array, (b * H + h) * T * T, z as Float32Array, b * T * HE + h * E, HE);
          else attendForward(qkv, HE3, r0 + h * E, r0 + HE + h * E, r0 + 2 * HE + h * E, T, E, scale, P, (b * H + h) * T * T, z, b * T * HE + h * E, HE);
        }
      }

      const xn = this.x[l + 1];
      xn.set(xl);
      mm.mm(N, D, HE, op(z, 0, HE), op(w, o.W_O, D), xn, 0, D, true);
      if (o.b_O >= 0) addRows(xn, N, D, w, o.b_O);
    }

    const logits = this.logits;
    mm.mm(N, V, D, op(this.x[L], 0, D), op(w, this.offs.W_U, V), logits, 0, V, false);
    if (this.offs.b_U >= 0) addRows(logits, N, V, w, this.offs.b_U);

    let count = 0;
    for (let n = 0; n < N; n++) if (targets[n] >= 0) count++;
    let total = 0;
    const rowLoss = this.rowLoss;
    for (let n = 0; n < N; n++) {
      const t = targets[n];
      if (t < 0) {
        rowLoss[n] = NaN;
        if (wantGrad) logits.fill(0, n * V, n * V + V);
        continue;
      }
      if (t >= V) throw new Error(`target id ${t} at row ${n} is outside the vocabulary [0, ${V})`);
      const r = n * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (logits[r + v] > max) max = logits[r + v];
      const loss = Math.log(this.expRow(logits, r, V, max)) + max - logits[r + t];
      rowLoss[n] = loss;
      total += loss;
      if (wantGrad) {
        // g_logits = (softmax − onehot) / count, in place, from the exponentials expRow left.
        const c = 1 / (count * this.expSum);
        const ex = this.exps;
        for (let v = 0; v < V; v++) logits[r + v] = ex[v] * c;
        logits[r + t] -= 1 / count;
      }
    }
    return count > 0 ? total / count : NaN;
  }

  /** Fill exps with exp(a[r + v] − max) and return (and keep) their sum. */
  private expRow(a: FloatArray, r: number, V: number, max: number): number {
    let sum = 0;
    const ex = this.exps;
    for (let v = 0; v < V; v++) {
      const x = Math.exp(a[r + v] - max);
      ex[v] = x;
      sum += x;
    }
    this.expSum = sum;
    return sum;
  }

  private backward(w: FloatArray, tokens: Int32Array, g: FloatArray): void {
    const { d_model: D, n_heads: H, d_head: E, n_layers: L, d_vocab: V } = this.shape;
    const { B, T } = this;
    const N = B * T, HE = H * E, HE3 = 3 * HE;
    const scale = 1 / Math.sqrt(E);
    const mm = this.mm;
    const gl = this.logits; // g_logits after forward(wantGrad)
    const gx = this.gx, gz = this.gz, gqkv = this.gqkv, gS = this.gS;
    g.fill(0);

    mm.mm(D, V, N, op(this.x[L], 0, D, true), op(gl, 0, V), g, this.offs.W_U, V, false);
    if (this.offs.b_U >= 0) columnSums(gl, N, V, g, this.offs.b_U);
    mm.mm(N, D, V, op(gl, 0, V), op(w, this.offs.W_U, V, true), gx, 0, D, false);

    for (let l = L - 1; l >= 0; l--) {
      const o = this.offs.layers[l];
      const xl = this.x[l], qkv = this.qkv[l], P = this.P[l], z = this.z[l];
      mm.mm(HE, D, N, op(z, 0, HE, true), op(gx, 0, D), g, o.W_O, D, false);
      if (o.b_O >= 0) columnSums(gx, N, D, g, o.b_O);
      mm.mm(N, HE, D, op(gx, 0, D), op(w, o.W_O, D, true), gz, 0, HE, false);

      for (let b = 0; b < B; b++) {
        const r0 = b * T * HE3, z0 = b * T * HE;
        for (let h = 0; h < H; h++) {
          if (this.ks) {
            attendBackwardWasm(this.ks, qkv as Float32Array, HE3, r0 + h * E, r0 + HE + h * E, r0 + 2 * HE + h * E, T, E, scale, P as Float32Array, (b * H + h) * T * T, gz as Float32Array, z0 + h * E, HE, gqkv as Float32Array, gS as Float32Array);
          } else {
            attendBackward(qkv, HE3, r0 + h * E, r0 + HE + h * E, r0 + 2 * HE + h * E, T, E, scale, P, (b * H + h) * T * T, gz, z0 + h * E, HE, gqkv, gS);
          }
        }
      }

      const gw = this.gw;
      mm.mm(D, HE3, N, op(xl, 0, D, true), op(gqkv, 0, HE3), gw, 0, HE3, false);
      const dsts = [o.W_Q, o.W_K, o.W_V];
      for (let s = 0; s < 3; s++) {
        for (let h = 0; h < H; h++) {
          for (let d = 0; d < D; d++) {
            const dst = dsts[s] + (h * D + d) * E, src = d * HE3 + s * HE + h * E;
            for (let e = 0; e < E; e++) g[dst + e] = gw[src + e];
          }
        }
      }
      if (o.b_Q >= 0) {
        const sums = this.bqkv; // reused as scratch: the forward pass is done with it
        sums.fill(0);
        columnSums(gqkv, N, HE3, sums, 0);
        for (let j = 0; j < HE; j++) {
          g[o.b_Q + j] = sums[j];
          g[o.b_K + j] = sums[HE + j];
          g[o.b_V + j] = sums[2 * HE + j];
        }
      }
      mm.mm(N, D, HE3, op(gqkv, 0, HE3), op(this.wqkv[l], 0, HE3, true), gx, 0, D, true);
    }

    for (let n = 0; n < N; n++) {
      const e = this.offs.W_E + tokens[n] * D, p = this.offs.W_pos + (n % T) * D, r = n * D;
      for (let d = 0; d < D; d++) {
        g[e + d] += gx[r + d];
        g[p + d] += gx[r + d];
      }
    }
  }
}

/** Float32 arrays of the given sizes in the attention kernels' memory, or null if they do not all fit. */
function wasmArrays(sizes: readonly number[]): Float32Array[] | null {
  const out: Float32Array[] = [];
  for (const n of sizes) {
    const a = wasmFloats(n);
    if (!a) return null;
    out.push(a);
  }
  return out;
}

/** a[n, :] += bias[bOff …] for every row. */
function addRows(a: FloatArray, rows: number, cols: number, bias: FloatArray, bOff: number): void {
  for (let n = 0; n < rows; n++) {
    const r = n * cols;
    for (let j = 0; j < cols; j++) a[r + j] += bias[bOff + j];
  }
}

/** out[oOff + j] += Σ_n a[n, j]. */
function columnSums(a: FloatArray, rows: number, cols: number, out: FloatArray, oOff: number): void {
  for (let n = 0; n < rows; n++) {
    const r = n * cols;
    for (let j = 0; j < cols; j++) out[oOff + j] += a[r + j];
  }
}
