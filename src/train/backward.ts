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
 * Every product, the per-head attention ones included, is one call of the
 * kernel in src/train/gemm.ts on operands laid out where the pass keeps them
 * in the shared workspace, read with whatever strides they have (a transposed
 * operand is just swapped strides), so nothing is gathered or packed. The
 * biases ride along: every activation that feeds a product keeps a column
 * of ones (x, z), every weight copy a last row holding its bias, so the
 * forward products add the bias and the weight-gradient products xᵀ·g give
 * the bias gradient (the column sums of g) as their last row. The causal
 * attention products skip what the mask zeroes (gemm.ts's mode bits).
 *
 * In float32 on WebAssembly the passes run as the module's jobs
 * (trainKernels.ts), shared with a helper thread: each layer one sequence per
 * chunk (its row products, softmax, attention), the cross-entropy in chunks
 * of rows, the weight gradients in chunks of panels; softmax and
 * cross-entropy use a float32 polynomial exp there. Float64 (the gradient
 * check's precision) and the no-WebAssembly path run the same products one
 * call at a time with JavaScript's softmax and cross-entropy.
 * Shape letters: see src/model/weights.ts; N = B·T rows, sequence b in rows
 * b·T … b·T+T−1.
 */
import type { FloatArray } from "../model/weights.ts";
import { ACCUMULATE, CAUSAL_N, DESC_ADDR, gemm, gemmKernels, K_FROM, K_UPTO, product, runJob, type Split, type Workspace, workspace } from "./gemm.ts";
import { ATTN, XENT } from "./trainKernels.ts";
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

/**
 * Row strides (elements) of the workspace arrays; every one a whole number
 * of the kernel's 32-byte panels where a product writes or reads it as B.
 */
interface Strides {
  /** Elements per panel. */
  readonly PE: number;
  /** Columns of d_model rounded to a panel; x has a column of ones at Dp (its stride LDX = Dp + PE). */
  readonly Dp: number;
  readonly LDX: number;
  /** H·E rounded to a panel; z has its ones at HEp (stride LDZ). */
  readonly HEp: number;
  readonly LDZ: number;
  /** Row stride of q|k|v and their gradient: 3·H·E rounded. */
  readonly LD3: number;
  readonly Vp: number;
  /** Row stride of one attention pattern row: T rounded. */
  readonly Tp: number;
  /** Row stride of the transposed keys (values): N plus a panel. */
  readonly NT: number;
}

/** Element offsets of everything a pass keeps in the workspace. */
interface Layout {
  readonly x: number[]; // L+1 × [N, LDX]: residual before each layer, and the final one
  readonly qkv: number[]; // L × [N, LD3]
  readonly P: number[]; // L × [B·H·T, Tp] attention patterns (zero right of the diagonal)
  readonly z: number[]; // L × [N, LDZ]
  readonly logits: number; // [N, Vp], then g_logits
  readonly kT: number; // [H·E, NT]: one layer's keys transposed (forward), values (backward)
  readonly gS: number; // [T, Tp]
  readonly gx: number; // [N, Dp]
  readonly gz: number; // [N, HEp]
  readonly gqkv: number; // [N, LD3]
  readonly wqkv: number[]; // L × [Dp+1, LD3]: W_Q|W_K|W_V side by side, bias row at Dp
  readonly wqkvT: number; // [3HE, Dp]: one layer's transpose (backward)
  readonly wo: number[]; // L × [HEp+1, Dp]: W_O, bias row at HEp
  readonly woT: number; // [D, HEp]
  readonly wu: number; // [Dp+1, Vp]: W_U, bias row at Dp
  readonly wuT: number; // [V, Dp]
  readonly gw: number; // [max(Dp+1, HEp+1), max(LD3, Vp, Dp)]: one weight gradient with its bias row
  readonly targets: number; // [N] int32: the batch's targets, for the cross-entropy job
  readonly stats: number; // [N, 2]: each row's max logit and sum of exponentials
  readonly scratch: [number, number]; // per thread: 64 bytes for partial panels, a [T, Tp] g_S, a [H·E, Tp] transpose
  readonly size: number;
}

/** The engine whose layout the shared workspace holds now (its constant parts are valid only for it). */
let owner: { engine: TrainEngine; ws: Workspace } | null = null;

/** Forward and backward passes for batches of B sequences of T tokens each. */
export class TrainEngine {
  readonly shape: TrainShape;
  readonly B: number;
  readonly T: number;
  readonly precision: TrainPrecision;
  private readonly offs: { W_E: number; W_pos: number; W_U: number; b_U: number; layers: LayerOffsets[] };
  private readonly st: Strides;
  private readonly lay: Layout;
  private ws!: Workspace;
  private readonly exps: Float64Array; // [V]: one row's exp(logit − max)
  private targetLogits: Float64Array | null = null; // [N]: each row's logit at its target, before the cross-entropy job
  private readonly logitsOut: FloatArray; // [N, V]: the last pass's logits, when it took no gradient
  /** Per-row loss of the last pass (NaN for rows not trained). */
  readonly rowLoss: Float64Array;

  constructor(shape: TrainShape, B: number, T: number, precision: TrainPrecision, offsetsFrom: { readonly entries: Params["entries"] }) {
    if (T < 1 || T > shape.n_ctx) throw new Error(`sequence length ${T} must be in 1…${shape.n_ctx}`);
    this.shape = shape;
    this.B = B;
    this.T = T;
    this.precision = precision;
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
    const PE = precision === "float32" ? 8 : 4;
    const up = (n: number) => Math.ceil(n / PE) * PE;
    const Dp = up(D), HEp = up(HE);
    const st: Strides = { PE, Dp, LDX: Dp + PE, HEp, LDZ: HEp + PE, LD3: up(3 * HE), Vp: up(V), Tp: up(T), NT: up(N) + PE };
    this.st = st;
    let top = 0;
    const take = (n: number) => {
      const o = top;
      top += up(n) + PE; // a panel of slack between arrays: whole-panel reads stay inside
      return o;
    };
    const many = (k: number, n: number) => Array.from({ length: k }, () => take(n));
    this.lay = {
      x: many(L + 1, N * st.LDX),
      qkv: many(L, N * st.LD3),
      P: many(L, B * H * T * st.Tp),
      z: many(L, N * st.LDZ),
      logits: take(N * st.Vp),
      kT: take(HE * st.NT),
      gS: take(T * st.Tp),
      gx: take(N * Dp),
      gz: take(N * HEp),
      gqkv: take(N * st.LD3),
      wqkv: many(L, (Dp + 1) * st.LD3),
      wqkvT: take(3 * HE * Dp),
      wo: many(L, (HEp + 1) * Dp),
      woT: take(D * HEp),
      wu: take((Dp + 1) * st.Vp),
      wuT: take(V * Dp),
      gw: take(Math.max(Dp, HEp) * Math.max(st.LD3, st.Vp, Dp) + Math.max(st.LD3, st.Vp, Dp)),
      targets: take(N),
      stats: take(2 * N),
      scratch: [take(2 * PE + (T + HE) * st.Tp), take(2 * PE + (T + HE) * st.Tp)],
      size: 0,
    };
    (this.lay as { size: number }).size = top;
    this.rowLoss = new Float64Array(N);
    this.exps = new Float64Array(V);
    this.logitsOut = allocFloat(precision, N * V);
  }

  /**
   * Mean cross-entropy over rows whose target is ≥ 0 (targets[n] is the
   * token id row n should predict; −1: not trained). With `grad` (same
   * layout as params, any contents) it is overwritten with the gradient.
   * Per-row losses are left in rowLoss. Returns NaN when no row is trained.
   */
  lossAndGrad(params: Params, tokens: Int32Array, targets: Int32Array, grad: FloatArray | null): number {
    this.claim();
    const loss = this.forward(params.data, tokens, targets, grad !== null);
    if (grad) this.backward(params.data, tokens, grad);
    return loss;
  }

  /** The logits of the last pass ([N, V]; only valid after a pass without gradient). */
  lastLogits(): FloatArray {
    return this.logitsOut;
  }

  /** A big product, shared with the helper thread where there is one (see gemm.ts product). */
  private mm(M: number, N: number, K: number, a: number, ars: number, aks: number, b: number, bks: number, o: number, ors: number, mode: number, split: Split): void {
    product(this.ws, M, N, K, a, ars, aks, b, bks, o, ors, mode, split, this.lay.scratch);
  }

  /** Byte address of a workspace element. */
  private at(x: number): number {
    return this.ws.base + x * (this.precision === "float32" ? 4 : 8);
  }

  /** Whether attention runs as the module's per-sequence jobs (float32 on a WebAssembly workspace). */
  private attnJobs(): boolean {
    return this.ws.base >= 0 && this.precision === "float32";
  }

  /** Write the descriptor of layer l for the attention and layer jobs and return its address. */
  private attnDesc(l: number): number {
    const { n_heads: H, d_head: E } = this.shape;
    const { LD3, Tp, LDZ, HEp } = this.st;
    const at = (x: number) => this.ws.base + x * 4;
    const addr = DESC_ADDR + 128;
    const buf = gemmKernels()!.memory.buffer;
    const d = new Int32Array(buf, addr, ATTN.bytes / 4);
    d[ATTN.qkv / 4] = at(this.lay.qkv[l]!);
    d[ATTN.P / 4] = at(this.lay.P[l]!);
    d[ATTN.z / 4] = at(this.lay.z[l]!);
    d[ATTN.gz / 4] = at(this.lay.gz);
    d[ATTN.gqkv / 4] = at(this.lay.gqkv);
    d[ATTN.T / 4] = this.T;
    d[ATTN.E / 4] = E;
    d[ATTN.H / 4] = H;
    d[ATTN.HE / 4] = H * E;
    d[ATTN.ld3 / 4] = LD3 * 4;
    d[ATTN.tp / 4] = Tp * 4;
    d[ATTN.ldz / 4] = LDZ * 4;
    d[ATTN.ldgz / 4] = HEp * 4;
    new Float32Array(buf, addr, ATTN.bytes / 4)[ATTN.scale / 4] = 1 / Math.sqrt(E);
    const { LDX, Dp } = this.st;
    d[ATTN.x / 4] = at(this.lay.x[l]!);
    d[ATTN.xn / 4] = at(this.lay.x[l + 1]!);
    d[ATTN.ldx / 4] = LDX * 4;
    d[ATTN.wqkv / 4] = at(this.lay.wqkv[l]!);
    d[ATTN.kx / 4] = Dp + 1;
    d[ATTN.wo / 4] = at(this.lay.wo[l]!);
    d[ATTN.kz / 4] = HEp + 1;
    d[ATTN.D / 4] = this.shape.d_model;
    d[ATTN.ldd / 4] = Dp * 4;
    d[ATTN.gx / 4] = at(this.lay.gx);
    d[ATTN.woT / 4] = at(this.lay.woT);
    d[ATTN.wqkvT / 4] = at(this.lay.wqkvT);
    return addr;
  }

  /** Make the shared workspace this engine's: zero it and write the constant parts (ones columns) unless it already is. */
  private claim(): void {
    const ws = workspace(this.precision, this.lay.size);
    if (owner && owner.engine === this && owner.ws === ws) {
      this.ws = ws;
      return;
    }
    ws.m.fill(0, 0, this.lay.size);
    const { LDX, LDZ, Dp, HEp } = this.st;
    const N = this.B * this.T;
    for (const x of this.lay.x) for (let n = 0; n < N; n++) ws.m[x + n * LDX + Dp] = 1;
    for (const z of this.lay.z) for (let n = 0; n < N; n++) ws.m[z + n * LDZ + HEp] = 1;
    owner = { engine: this, ws };
    this.ws = ws;
  }

  private forward(w: FloatArray, tokens: Int32Array, targets: Int32Array, wantGrad: boolean): number {
    const { d_model: D, n_heads: H, d_head: E, n_layers: L, d_vocab: V } = this.shape;
    const { B, T, ws, lay } = this;
    const { Dp, LDX, LDZ, LD3, Vp, Tp, NT } = this.st;
    const m = ws.m;
    const N = B * T, HE = H * E;
    const scale = 1 / Math.sqrt(E);
    if (tokens.length !== N || targets.length !== N) throw new Error(`batch must hold ${N} tokens and targets`);

    const x0 = lay.x[0]!;
    for (let n = 0; n < N; n++) {
      const t = tokens[n]!;
      if (!(t >= 0 && t < V)) throw new Error(`token id ${t} at row ${n} is outside the vocabulary [0, ${V})`);
      const e = this.offs.W_E + t * D, p = this.offs.W_pos + (n % T) * D, r = x0 + n * LDX;
      for (let d = 0; d < D; d++) m[r + d] = w[e + d]! + w[p + d]!;
    }

    for (let l = 0; l < L; l++) {
      const o = this.offs.layers[l]!;
      const xl = lay.x[l]!, qkv = lay.qkv[l]!, P = lay.P[l]!, z = lay.z[l]!, wqkv = lay.wqkv[l]!, wo = lay.wo[l]!;
      // [W_Q W_K W_V] as one [D, 3HE] matrix (column s·HE + h·E + e is W_s[h, :, e]), biases in row Dp.
      const srcs = [o.W_Q, o.W_K, o.W_V], bsrcs = [o.b_Q, o.b_K, o.b_V];
      for (let s = 0; s < 3; s++) {
        for (let h = 0; h < H; h++) {
          for (let d = 0; d < D; d++) {
            const src = srcs[s]! + (h * D + d) * E, dst = wqkv + d * LD3 + s * HE + h * E;
            for (let e = 0; e < E; e++) m[dst + e] = w[src + e]!;
          }
          if (bsrcs[s]! >= 0) for (let e = 0; e < E; e++) m[wqkv + Dp * LD3 + s * HE + h * E + e] = w[bsrcs[s]! + h * E + e]!;
        }
      }
      // [W_O; b_O]: W_O is [H·E, D] row-major already; its bias row meets z's ones.
      for (let r = 0; r < HE; r++) for (let d = 0; d < D; d++) m[wo + r * Dp + d] = w[o.W_O + r * D + d]!;
      if (o.b_O >= 0) for (let d = 0; d < D; d++) m[wo + this.st.HEp * Dp + d] = w[o.b_O + d]!;
      const xn = lay.x[l + 1]!;
      if (this.attnJobs()) {
        // The whole layer, one sequence per chunk (trainKernels.ts layerFwd32).
        runJob("layerFwd32", this.attnDesc(l), B, this.at(lay.scratch[0]), this.at(lay.scratch[1]));
        continue;
      }
      this.mm(N, 3 * HE, Dp + 1, xl, LDX, 1, wqkv, LD3, qkv, LD3, 0, "rows");

      // Keys transposed, so each head's scores are one product q·kᵀ with rows of B contiguous.
      const kT = lay.kT;
      for (let b = 0; b < B; b++) {
        if (b === 0) {
          for (let n = 0; n < N; n++) {
            const r = qkv + n * LD3 + HE;
            for (let c = 0; c < HE; c++) m[kT + c * NT + n] = m[r + c]!;
          }
        }
        const r0 = qkv + b * T * LD3;
        for (let h = 0; h < H; h++) {
          const pb = P + (b * H + h) * T * Tp;
          gemm(ws, T, T, E, r0 + h * E, LD3, 1, kT + h * E * NT + b * T, NT, pb, Tp, CAUSAL_N);
          for (let i = 0; i < T; i++) {
            const r = pb + i * Tp;
            let max = -Infinity;
            for (let j = 0; j <= i; j++) {
              const s = m[r + j]! * scale;
              m[r + j] = s;
              if (s > max) max = s;
            }
            let sum = 0;
            for (let j = 0; j <= i; j++) {
              const x = Math.exp(m[r + j]! - max);
              m[r + j] = x;
              sum += x;
            }
            const inv = 1 / sum;
            for (let j = 0; j <= i; j++) m[r + j] *= inv;
            m.fill(0, r + i + 1, r + Tp);
          }
          gemm(ws, T, E, T, pb, Tp, 1, r0 + 2 * HE + h * E, LD3, z + b * T * LDZ + h * E, LDZ, K_UPTO);
        }
      }

      // x_{l+1} = x_l + [z 1]·[W_O; b_O]
      m.copyWithin(xn, xl, xl + N * LDX);
      this.mm(N, D, this.st.HEp + 1, z, LDZ, 1, wo, Dp, xn, LDX, ACCUMULATE, "rows");
    }

    const wu = lay.wu, logits = lay.logits;
    for (let d = 0; d < D; d++) for (let v = 0; v < V; v++) m[wu + d * Vp + v] = w[this.offs.W_U + d * V + v]!;
    if (this.offs.b_U >= 0) for (let v = 0; v < V; v++) m[wu + Dp * Vp + v] = w[this.offs.b_U + v]!;
    this.mm(N, V, Dp + 1, lay.x[L]!, LDX, 1, wu, Vp, logits, Vp, 0, "rows");
    if (!wantGrad) for (let n = 0; n < N; n++) this.logitsOut.set(m.subarray(logits + n * Vp, logits + n * Vp + V), n * V);

    let count = 0;
    for (let n = 0; n < N; n++) {
      const t = targets[n]!;
      if (t >= V) throw new Error(`target id ${t} at row ${n} is outside the vocabulary [0, ${V})`);
      if (t >= 0) count++;
    }
    let total = 0;
    const rowLoss = this.rowLoss, ex = this.exps;
    if (this.attnJobs()) {
      // Float32 on WebAssembly: the rows' softmax, scaled, in place by xentJob32 (both threads); the loss from its stats.
      const at = (x: number) => this.at(x);
      const buf = gemmKernels()!.memory.buffer;
      new Int32Array(buf, at(lay.targets), N).set(targets);
      const lt = (this.targetLogits ??= new Float64Array(N));
      for (let n = 0; n < N; n++) lt[n] = targets[n]! >= 0 ? m[logits + n * Vp + targets[n]!]! : 0;
      const per = 64, addr = DESC_ADDR + 256;
      const d = new Int32Array(buf, addr, XENT.bytes / 4);
      d[XENT.logits / 4] = at(logits);
      d[XENT.ld / 4] = Vp * 4;
      d[XENT.V / 4] = V;
      d[XENT.targets / 4] = at(lay.targets);
      d[XENT.stats / 4] = at(lay.stats);
      new Float32Array(buf, addr, XENT.bytes / 4)[XENT.scale / 4] = 1 / count;
      d[XENT.per / 4] = per;
      d[XENT.N / 4] = N;
      runJob("xentJob32", addr, Math.ceil(N / per), at(lay.scratch[0]), at(lay.scratch[1]));
      const stats = m.subarray(lay.stats, lay.stats + 2 * N);
      for (let n = 0; n < N; n++) {
        const t = targets[n]!;
        if (t < 0) {
          rowLoss[n] = NaN;
          continue;
        }
        const loss = Math.log(stats[2 * n + 1]!) + stats[2 * n]! - lt[n]!;
        rowLoss[n] = loss;
        total += loss;
        m[logits + n * Vp + t] -= 1 / count;
      }
      return count > 0 ? total / count : NaN;
    }
    for (let n = 0; n < N; n++) {
      const t = targets[n]!;
      const r = logits + n * Vp;
      if (t < 0) {
        rowLoss[n] = NaN;
        if (wantGrad) m.fill(0, r, r + V);
        continue;
      }
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (m[r + v]! > max) max = m[r + v]!;
      let sum = 0;
      for (let v = 0; v < V; v++) {
        const x = Math.exp(m[r + v]! - max);
        ex[v] = x;
        sum += x;
      }
      const loss = Math.log(sum) + max - m[r + t]!;
      rowLoss[n] = loss;
      total += loss;
      if (wantGrad) {
        // g_logits = (softmax − onehot) / count, in place.
        const c = 1 / (count * sum);
        for (let v = 0; v < V; v++) m[r + v] = ex[v]! * c;
        m[r + t] -= 1 / count;
      }
    }
    return count > 0 ? total / count : NaN;
  }

  private backward(w: FloatArray, tokens: Int32Array, g: FloatArray): void {
    const { d_model: D, n_heads: H, d_head: E, n_layers: L, d_vocab: V } = this.shape;
    const { B, T, ws, lay } = this;
    const { Dp, HEp, LDX, LDZ, LD3, Vp, Tp, NT } = this.st;
    const m = ws.m;
    const N = B * T, HE = H * E, C3 = 3 * HE;
    const scale = 1 / Math.sqrt(E);
    const { gx, gz, gqkv, gS, gw, kT: vT } = lay;
    const gl = lay.logits; // g_logits after forward(wantGrad)

    // W_U: [W_U; b_U] gradient = [x_L 1]ᵀ g_logits;  g_x = g_logits W_Uᵀ.
    this.mm(Dp + 1, V, N, lay.x[L]!, 1, LDX, gl, Vp, gw, Vp, 0, "panels");
    for (let d = 0; d < D; d++) for (let v = 0; v < V; v++) g[this.offs.W_U + d * V + v] = m[gw + d * Vp + v]!;
    if (this.offs.b_U >= 0) for (let v = 0; v < V; v++) g[this.offs.b_U + v] = m[gw + Dp * Vp + v]!;
    for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) m[lay.wuT + v * Dp + d] = w[this.offs.W_U + d * V + v]!;
    this.mm(N, D, V, gl, Vp, 1, lay.wuT, Dp, gx, Dp, 0, "rows");

    for (let l = L - 1; l >= 0; l--) {
      const o = this.offs.layers[l]!;
      const xl = lay.x[l]!, qkv = lay.qkv[l]!, P = lay.P[l]!, z = lay.z[l]!;
      // [W_O; b_O] gradient = [z 1]ᵀ g_x;  g_z = g_x W_Oᵀ.
      this.mm(HEp + 1, D, N, z, 1, LDZ, gx, Dp, gw, Dp, 0, "panels");
      for (let r = 0; r < HE; r++) for (let d = 0; d < D; d++) g[o.W_O + r * D + d] = m[gw + r * Dp + d]!;
      if (o.b_O >= 0) for (let d = 0; d < D; d++) g[o.b_O + d] = m[gw + HEp * Dp + d]!;
      for (let d = 0; d < D; d++) for (let r = 0; r < HE; r++) m[lay.woT + d * HEp + r] = w[o.W_O + r * D + d]!;
      const wqkv = lay.wqkv[l]!, wT = lay.wqkvT;
      for (let c = 0; c < C3; c++) for (let d = 0; d < D; d++) m[wT + c * Dp + d] = m[wqkv + d * LD3 + c]!;
      const jobs = this.attnJobs();
      // One sequence per chunk: g_z, attention, g_x += g_qkv W_QKVᵀ (trainKernels.ts layerBwd32); the
      // W_QKV gradient below reads only g_qkv, so it may follow.
      if (jobs) runJob("layerBwd32", this.attnDesc(l), B, this.at(lay.scratch[0]), this.at(lay.scratch[1]));
      else this.mm(N, HE, D, gx, Dp, 1, lay.woT, HEp, gz, HEp, 0, "rows");

      if (!jobs) for (let b = 0; b < B; b++) {
        if (b === 0) {
          for (let n = 0; n < N; n++) {
            const r = qkv + n * LD3 + 2 * HE;
            for (let c = 0; c < HE; c++) m[vT + c * NT + n] = m[r + c]!;
          }
        }
        const r0 = qkv + b * T * LD3, g0 = gqkv + b * T * LD3, z0 = gz + b * T * HEp;
        for (let h = 0; h < H; h++) {
          const pb = P + (b * H + h) * T * Tp;
          // g_P = g_z vᵀ (causal half), then g_S = P ∘ (g_P − rowsum(P ∘ g_P))·scale, zero right of the diagonal.
          gemm(ws, T, T, E, z0 + h * E, HEp, 1, vT + h * E * NT + b * T, NT, gS, Tp, CAUSAL_N);
          for (let i = 0; i < T; i++) {
            const r = gS + i * Tp, pr = pb + i * Tp;
            let dot = 0;
            for (let j = 0; j <= i; j++) dot += m[pr + j]! * m[r + j]!;
            for (let j = 0; j <= i; j++) m[r + j] = m[pr + j]! * (m[r + j]! - dot) * scale;
            m.fill(0, r + i + 1, r + Tp);
          }
          gemm(ws, T, E, T, gS, Tp, 1, r0 + HE + h * E, LD3, g0 + h * E, LD3, K_UPTO); // g_q = g_S k
          gemm(ws, T, E, T, gS, 1, Tp, r0 + h * E, LD3, g0 + HE + h * E, LD3, K_FROM); // g_k = g_Sᵀ q
          gemm(ws, T, E, T, pb, 1, Tp, z0 + h * E, HEp, g0 + 2 * HE + h * E, LD3, K_FROM); // g_v = Pᵀ g_z
        }
      }

      // [W_QKV; b_QKV] gradient = [x_l 1]ᵀ g_qkv;  g_x += g_qkv W_QKVᵀ.
      this.mm(Dp + 1, C3, N, xl, 1, LDX, gqkv, LD3, gw, LD3, 0, "panels");
      const dsts = [o.W_Q, o.W_K, o.W_V], bdsts = [o.b_Q, o.b_K, o.b_V];
      for (let s = 0; s < 3; s++) {
        for (let h = 0; h < H; h++) {
          for (let d = 0; d < D; d++) {
            const dst = dsts[s]! + (h * D + d) * E, src = gw + d * LD3 + s * HE + h * E;
            for (let e = 0; e < E; e++) g[dst + e] = m[src + e]!;
          }
          if (bdsts[s]! >= 0) for (let e = 0; e < E; e++) g[bdsts[s]! + h * E + e] = m[gw + Dp * LD3 + s * HE + h * E + e]!;
        }
      }
      if (!jobs) this.mm(N, D, C3, gqkv, LD3, 1, wT, Dp, gx, Dp, ACCUMULATE, "rows");
    }

    g.fill(0, this.offs.W_E, this.offs.W_E + V * D);
    g.fill(0, this.offs.W_pos, this.offs.W_pos + this.shape.n_ctx * D);
    for (let n = 0; n < N; n++) {
      const e = this.offs.W_E + tokens[n]! * D, p = this.offs.W_pos + (n % T) * D, r = gx + n * Dp;
      for (let d = 0; d < D; d++) {
        g[e + d] += m[r + d]!;
        g[p + d] += m[r + d]!;
      }
    }
  }
}
