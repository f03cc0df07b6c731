/**
 * Models from elsewhere: TransformerLens state dicts with LayerNorm and MLP
 * blocks, read for the attention analyses.
 *
 * What is done to them, and why it is exact where it says so (row-vector
 * convention, x a residual row, LN(x) = (x − mean(x)) / σ(x) · w + b):
 *
 *   fold    LN(x)·W_Q + b_Q = ((x − mean x)/σ)·(diag(w) W_Q) + (b·W_Q + b_Q):
 *           ln1.w scales W_Q/W_K/W_V's rows, ln1.b·W becomes part of the
 *           biases; ln_final the same into W_U and b_U. (TransformerLens's
 *           `fold_ln`.)
 *   centre  The folded weights only ever see centred vectors, so the mean of
 *           each reading weight over d_model can be removed (it meets a
 *           zero); and every writer (W_E, W_pos, W_O, b_O) can lose its mean
 *           over d_model, since every reader subtracts the mean anyway.
 *           (`center_writing_weights`, and the centring inside `fold_ln`.)
 *
 * What remains of the normalisation is the division by σ(x), a positive
 * number per position: the analyses treat it as a fixed scale (composition
 * and copying scores do not change under it), and nothing here runs such a
 * model — the simulator is attention-only. RMSNorm (`.w` without `.b`, or
 * config `RMS`) folds its weight the same way but does not centre. MLP blocks
 * (and the ln2 before them) are left out, and named in the notes: paths
 * through them are invisible to the attention analyses.
 */
import { firstNonFinite } from "./finite.ts";
import type { Tensor, Weights } from "./weights.ts";
import { checkTokens, decodeWeightsFile, weightsFromStateDict } from "./weightsFile.ts";
import { WeightsFileError } from "../errors.ts";

/** The normalisation a model had before folding (TransformerLens `normalization_type`). */
export type Normalization = "LN" | "LNPre" | "RMS" | "RMSPre" | null;

/** A model for the attention analyses, with what was done to get it. */
export interface ForeignModel {
  /** Attention-only weights after folding and centring: what the analyses read. */
  readonly weights: Weights;
  readonly normalization: Normalization;
  /** Tensors folded into the weights (ln1/ln_final parameters). */
  readonly folded: readonly string[];
  /** Tensors present in the file but not analysed (MLP blocks and their ln2). */
  readonly ignored: readonly string[];
  /** One sentence per thing done or left out, for the report. */
  readonly notes: readonly string[];
  /** Whether the simulator can run the model as it is (no normalisation, no MLP). */
  readonly attentionOnly: boolean;
}

/** A decoded file: the model plus the metadata that came with it. */
export interface LoadedForeign {
  readonly model: ForeignModel;
  readonly tokens?: string[];
  readonly layout?: unknown;
  readonly metadata: Record<string, string>;
}

const LN_NAME = /^(?:blocks\.(0|[1-9][0-9]*)\.(ln1|ln2)|(ln_final))\.([wb])$/;
const MLP_NAME = /^blocks\.(0|[1-9][0-9]*)\.mlp\.(W_in|b_in|W_out|b_out)$/;
const DIM_FIELDS = ["d_model", "d_head", "n_heads", "n_layers", "n_ctx", "d_vocab", "d_vocab_out", "use_attn_result"] as const;
const NORMALIZATIONS: readonly Normalization[] = ["LN", "LNPre", "RMS", "RMSPre", null];

/** Decode safetensors bytes of any TransformerLens-named model the analyses can read; `where` prefixes errors. */
export function decodeForeign(bytes: Uint8Array, where = "decodeForeign"): LoadedForeign {
  const { tensors, metadata, config, tokens, layout } = decodeWeightsFile(bytes, where);
  const model = foreignFromStateDict(tensors, config, where);
  if (tokens !== undefined) checkTokens(tokens, model.weights.config.d_vocab, where);
  return { model, metadata, ...(tokens !== undefined ? { tokens } : {}), ...(layout !== undefined ? { layout } : {}) };
}

/** Fold LayerNorm, centre, set MLP blocks aside, and build the attention-only Weights; one-line errors. */
export function foreignFromStateDict(tensors: ReadonlyMap<string, Tensor>, config: Record<string, unknown> | undefined, where: string): ForeignModel {
  const err = (msg: string): never => {
    throw new WeightsFileError(`${where}: ${msg}`, "incompatible");
  };
  const cfg = config ?? {};
  const attention = new Map<string, Tensor>();
  const ln = new Map<string, Tensor>();
  const mlp = new Map<string, Tensor>();
  for (const [name, t] of tensors) {
    if (LN_NAME.test(name)) ln.set(name, t);
    else if (MLP_NAME.test(name)) mlp.set(name, t);
    else attention.set(name, t);
  }
  const pos = cfg.positional_embedding_type;
  if (pos !== undefined && pos !== "standard") err(`config.positional_embedding_type=${JSON.stringify(pos)} is not supported (the analyses need a learned W_pos: "standard")`);
  const declared = cfg.normalization_type;
  if (declared !== undefined && !NORMALIZATIONS.includes(declared as Normalization)) err(`config.normalization_type=${JSON.stringify(declared)} is not one of LN, LNPre, RMS, RMSPre, null`);
  if (cfg.attn_only === true && mlp.size) err(`config.attn_only=true, but the file has MLP tensors (${[...mlp.keys()][0]})`);

  // The attention part alone must be a consistent attention-only model.
  const dims = Object.fromEntries(DIM_FIELDS.filter((k) => cfg[k] !== undefined).map((k) => [k, cfg[k]]));
  const base = weightsFromStateDict(attention, dims, where);
  const { d_model: D, n_layers: L, n_heads: H, d_head: E, d_vocab_out: Vo } = base.config;

  const vector = (name: string): Float64Array => {
    const t = ln.get(name)!;
    if (t.shape.length !== 1 || t.shape[0] !== D) err(`tensor ${JSON.stringify(name)} has shape [${t.shape.join(",")}], expected [${D}] [d_model]`);
    return Float64Array.from(t.data);
  };
  // Which normalisation the tensors show, per LayerNorm site.
  const sites = [...Array.from({ length: L }, (_, l) => `blocks.${l}.ln1`), "ln_final"];
  const hasW = sites.map((s) => ln.has(`${s}.w`));
  const hasB = sites.map((s) => ln.has(`${s}.b`));
  let normalization: Normalization;
  if (hasW.every(Boolean) && hasB.every(Boolean)) normalization = "LN";
  else if (hasW.every(Boolean) && !hasB.some(Boolean)) normalization = "RMS";
  else if (!hasW.some(Boolean) && !hasB.some(Boolean)) normalization = declared === "LNPre" || declared === "RMSPre" ? declared : null;
  else {
    const k = sites.findIndex((_, i) => hasW[i] !== hasW[0] || hasB[i] !== hasB[0]);
    return err(`LayerNorm parameters are incomplete: ${sites[0]} has ${hasW[0] ? ".w" : "no .w"}/${hasB[0] ? ".b" : "no .b"} but ${sites[k]} has ${hasW[k] ? ".w" : "no .w"}/${hasB[k] ? ".b" : "no .b"}`);
  }
  if (declared !== undefined && declared !== normalization) {
    err(`config.normalization_type=${JSON.stringify(declared)} disagrees with the tensors, which show ${normalization === null ? "no normalisation" : normalization}`);
  }
  for (const name of ln.keys()) {
    const m = LN_NAME.exec(name)!;
    if (m[1] !== undefined && Number(m[1]) >= L) err(`tensor ${JSON.stringify(name)} belongs to block ${m[1]}, but the attention blocks are 0..${L - 1}`);
  }
  for (const [name, t] of [...ln, ...mlp]) {
    const bad = firstNonFinite(name, t);
    if (bad) err(`tensor ${JSON.stringify(name)} holds ${bad.value} at index [${bad.index.join(",")}] (weights must be finite)`);
  }
  checkMlpShapes(mlp, D, L, cfg.d_mlp, err);
  const centre = normalization === "LN" || normalization === "LNPre";

  const folded: string[] = [];
  const blocks = base.blocks.map((b, l) => {
    const site = `blocks.${l}.ln1`;
    const w = hasW[l] ? vector(`${site}.w`) : null;
    const bias = hasB[l] ? vector(`${site}.b`) : null;
    if (w) folded.push(`${site}.w`);
    if (bias) folded.push(`${site}.b`);
    const read = (W: Tensor, bb: Tensor) => foldReading(W, bb, H, D, E, w, bias, centre);
    const q = read(b.W_Q, b.b_Q);
    const k = read(b.W_K, b.b_K);
    const v = read(b.W_V, b.b_V);
    return {
      W_Q: q.W, b_Q: q.b, W_K: k.W, b_K: k.b, W_V: v.W, b_V: v.b,
      W_O: centre ? centreRows(b.W_O, H * E, D) : b.W_O,
      b_O: centre ? centreRows(b.b_O, 1, D) : b.b_O,
    };
  });
  // ln_final into the unembedding: W_U [D, Vo] is one "head" reading d_model.
  const wF = hasW[L] ? vector("ln_final.w") : null;
  const bF = hasB[L] ? vector("ln_final.b") : null;
  if (wF) folded.push("ln_final.w");
  if (bF) folded.push("ln_final.b");
  const un = foldReading(base.W_U, base.b_U, 1, D, Vo, wF, bF, centre);

  const weights: Weights = {
    config: base.config,
    W_E: centre ? centreRows(base.W_E, base.config.d_vocab, D) : base.W_E,
    W_pos: centre ? centreRows(base.W_pos, base.config.n_ctx, D) : base.W_pos,
    blocks,
    W_U: un.W,
    b_U: un.b,
  };

  const ignored = [...[...ln.keys()].filter((n) => /\.ln2\./.test(n)), ...mlp.keys()].sort(byBlock);
  const notes: string[] = [];
  if (folded.length) {
    notes.push(`${normalization === "RMS" ? "RMSNorm" : "LayerNorm"} folded as TransformerLens's fold_ln does: ln1.w/.b of blocks 0–${L - 1} into W_Q, W_K, W_V and b_Q, b_K, b_V, ln_final.w/.b into W_U and b_U${centre ? "; reading weights centred over d_model" : ""}`);
  }
  if (centre) {
    notes.push("writing weights centred over d_model (W_E, W_pos, W_O, b_O), as center_writing_weights does: exact, since every reader subtracts the mean");
  }
  if (normalization !== null) {
    notes.push("the normalisation's division by the residual's scale remains: the analyses treat it as a fixed positive scale per position (composition and copying scores do not depend on it)");
  }
  if (ignored.length) {
    const layers = [...new Set(ignored.map((n) => n.split(".")[1]))].join(", ");
    const dMlp = mlp.get("blocks.0.mlp.W_in")?.shape[1];
    notes.push(`MLP blocks ignored (blocks ${layers}${dMlp !== undefined ? `, d_mlp ${dMlp}` : ""}): ${ignored.join(", ")} — paths through them are invisible to the attention analyses`);
  }
  return { weights, normalization, folded, ignored, notes, attentionOnly: normalization === null && mlp.size === 0 };
}

/** MLP tensors: in blocks 0..L-1, W_in [D, m], b_in [m], W_out [m, D], b_out [D], one m (= config.d_mlp when given). */
function checkMlpShapes(mlp: ReadonlyMap<string, Tensor>, D: number, L: number, dMlp: unknown, err: (msg: string) => never): void {
  let m: number | undefined = typeof dMlp === "number" ? dMlp : undefined;
  if (dMlp !== undefined && dMlp !== null && !(Number.isSafeInteger(dMlp) && (dMlp as number) > 0)) err(`config.d_mlp must be a positive integer or null, got ${JSON.stringify(dMlp)}`);
  for (const [name, t] of mlp) {
    const [, block, kind] = MLP_NAME.exec(name)!;
    if (Number(block) >= L) err(`tensor ${JSON.stringify(name)} belongs to block ${block}, but the attention blocks are 0..${L - 1}`);
    const width = kind === "W_in" ? t.shape[1] : kind === "W_out" || kind === "b_in" ? t.shape[0] : m;
    m ??= width;
    const want = { W_in: [D, m], b_in: [m], W_out: [m, D], b_out: [D] }[kind as "W_in" | "b_in" | "W_out" | "b_out"];
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      err(`tensor ${JSON.stringify(name)} has shape [${t.shape.join(",")}], expected [${want.join(",")}] (d_model ${D}, d_mlp ${m})`);
    }
  }
}

/** Order "blocks.2.x" before "blocks.10.x". */
function byBlock(a: string, b: string): number {
  const n = (s: string) => Number(s.split(".")[1] ?? -1);
  return n(a) - n(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Fold a normalisation (weight w, bias b, either absent) into reading weights
 * W [H, D, E] and their bias [H, E] (W_U is H = 1 with no head axis), then
 * centre W over D when asked. The bias fold uses W before scaling by w,
 * since LN(x)·W = (x̂ ⊙ w)·W + b·W.
 */
function foldReading(
  W: Tensor, bias: Tensor, H: number, D: number, E: number, w: Float64Array | null, b: Float64Array | null, centre: boolean,
): { W: Tensor; b: Tensor } {
  if (!w && !b && !centre) return { W, b: bias };
  const outW = Float64Array.from(W.data);
  const outB = Float64Array.from(bias.data);
  for (let h = 0; h < H; h++) {
    for (let e = 0; e < E; e++) {
      let sum = 0;
      let mean = 0;
      for (let d = 0; d < D; d++) {
        const i = (h * D + d) * E + e;
        if (b) sum += b[d]! * W.data[i]!;
        if (w) outW[i] = W.data[i]! * w[d]!;
        mean += outW[i]!;
      }
      outB[h * E + e] = bias.data[h * E + e]! + sum;
      if (centre) {
        mean /= D;
        for (let d = 0; d < D; d++) outW[(h * D + d) * E + e]! -= mean;
      }
    }
  }
  return { W: { shape: W.shape, data: outW }, b: { shape: bias.shape, data: outB } };
}

/** Subtract from each of `rows` rows of length D its mean (writing weights: W_E, W_pos, W_O, b_O). */
function centreRows(t: Tensor, rows: number, D: number): Tensor {
  const out = Float64Array.from(t.data);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let d = 0; d < D; d++) mean += out[r * D + d]!;
    mean /= D;
    for (let d = 0; d < D; d++) out[r * D + d]! -= mean;
  }
  return { shape: t.shape, data: out };
}
