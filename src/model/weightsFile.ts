/**
 * Saving and loading model weights as safetensors files under TransformerLens
 * state-dict names ("embed.W_E", "blocks.0.attn.W_Q", ...), so that
 *
 *   from safetensors.torch import load_file
 *   model.load_state_dict(load_file(path), strict=False)
 *
 * works on the Python side, and files written elsewhere load here.
 *
 * A saved file's `__metadata__` holds (every value but `format` is JSON):
 *   format  "induction-circuits/1"
 *   config  the ModelConfig
 *   tokens  the token strings, when given: d_vocab distinct strings, one per row of W_E
 *   layout  the residual-stream layout, when given
 *   digest  (files written by saveWeights) SHA-256 of the data section, also in the sidecar
 *   <k>     any other `extra` entry
 * Next to `model.safetensors` a human-readable sidecar `model.json` holds
 * { format, config, tokens, layout, ...other extras, tensors: {name: shape} }.
 */

import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { type AtomicFile, writeFilesAtomic, writeFilesAtomicAsync } from "./atomicWrite.ts";
import { firstNonFinite } from "./finite.ts";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
import { sizeOf, stateDict } from "./weights.ts";
import type { FloatArray, LayerWeights, ModelConfig, Tensor, Weights } from "./weights.ts";
import { fileReason, WeightsFileError } from "../errors.ts";

/** The `format` metadata value written by this version. */
export const WEIGHTS_FORMAT = "induction-circuits/1";

/** Extra information stored alongside the tensors. */
export interface SaveExtra {
  readonly layout?: unknown;
  readonly tokens?: readonly string[];
  readonly [k: string]: unknown;
}

/** What {@link loadWeights} returns. */
export interface LoadedWeights {
  readonly weights: Weights;
  readonly tokens?: string[];
  readonly layout?: unknown;
  /** The raw `__metadata__` of the file (empty for files with none). */
  readonly metadata: Record<string, string>;
}

const RESERVED_EXTRA_KEYS = new Set(["config", "format", "tensors", "__proto__"]);
const BLOCK_PARAMS = ["W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O"] as const;
type BlockParam = (typeof BLOCK_PARAMS)[number];
const BLOCK_NAME = /^blocks\.(0|[1-9][0-9]*)\.attn\.(W_Q|W_K|W_V|W_O|b_Q|b_K|b_V|b_O)$/;
/**
 * Ignored on load: non-parameter buffers in TransformerLens state dicts, and
 * the optimiser state a training checkpoint keeps under "train." (src/train/checkpoint.ts).
 */
const IGNORED_BUFFER = /^(blocks\.(0|[1-9][0-9]*)\.attn\.(mask|IGNORE)|train\..*)$/;
/** LayerNorm and MLP parameters of a full TransformerLens model (read by src/model/foreign.ts). */
const FOREIGN_PART = /^(blocks\.(0|[1-9][0-9]*)\.(ln1|ln2)\.[wb]|ln_final\.[wb]|blocks\.(0|[1-9][0-9]*)\.mlp\.(W_in|b_in|W_out|b_out))$/;
const INT_FIELDS = ["d_model", "d_head", "n_heads", "n_layers", "n_ctx", "d_vocab", "d_vocab_out"] as const;

/** The sidecar JSON path for a weights file: `x.safetensors` → `x.json`. */
export function sidecarPath(path: string): string {
  if (/\.json$/i.test(path)) throw new Error(`weights file path ${JSON.stringify(path)} must not end in .json (that name is used for the sidecar)`);
  return `${path.replace(/\.safetensors$/, "")}.json`;
}

function toJson(what: string, value: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(value);
  } catch (e) {
    throw new Error(`saveWeights: ${what} is not JSON-serialisable: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (s === undefined) throw new Error(`saveWeights: ${what} is not JSON-serialisable (${typeof value})`);
  return s;
}

function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/**
 * Serialise weights to safetensors bytes (see the module comment for the
 * metadata) and the sidecar object. Throws if the weights are inconsistent.
 */
export function encodeWeights(weights: Weights, extra: SaveExtra = {}): { bytes: Uint8Array; sidecar: Record<string, unknown> } {
  const tensors = stateDict(weights);
  // Refuse to write anything that would not load back.
  weightsFromStateDict(new Map(tensors), weights.config, "saveWeights");

  const metadata: Record<string, string> = { format: WEIGHTS_FORMAT, config: toJson("config", weights.config) };
  const sidecar: Record<string, unknown> = { format: WEIGHTS_FORMAT, config: weights.config };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) continue;
    if (RESERVED_EXTRA_KEYS.has(k)) throw new Error(`saveWeights: extra key ${JSON.stringify(k)} is reserved`);
    if (k === "tokens" && !(Array.isArray(v) && v.every((t) => typeof t === "string"))) {
      throw new Error(`saveWeights: tokens must be an array of strings`);
    }
    metadata[k] = toJson(`extra ${JSON.stringify(k)}`, v);
    sidecar[k] = v;
  }
  if (extra.tokens !== undefined) checkTokens(extra.tokens, weights.config.d_vocab, "saveWeights");
  sidecar.tensors = Object.fromEntries(tensors.map(([name, t]) => [name, [...t.shape]]));
  return { bytes: encodeSafetensors(tensors, metadata), sidecar };
}

/**
 * The pair of files {@link saveWeights} writes, sidecar first. Both carry
 * `digest`: the SHA-256 of the safetensors data section (the bytes after the
 * header), so a reader can tell a sidecar that does not belong to its
 * weights file — e.g. after a writer was killed between the two renames.
 */
export function encodeWeightsPair(path: string, weights: Weights, extra: SaveExtra = {}): { files: AtomicFile[]; digest: string } {
  const side = sidecarPath(path);
  if ("digest" in extra) throw new Error(`saveWeights: extra key "digest" is reserved`);
  // A random stand-in of the digest's length: the header cannot hold the digest of
  // the bytes after it before they exist, so it is stamped in place afterwards.
  const placeholder = randomBytes(32).toString("hex");
  const { bytes, sidecar } = encodeWeights(weights, { ...extra, digest: placeholder });
  const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const digest = createHash("sha256").update(bytes.subarray(headerEnd)).digest("hex");
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, headerEnd).indexOf(placeholder, 8, "latin1");
  if (at < 0) throw new Error("saveWeights: digest placeholder not found in the header");
  bytes.set(new TextEncoder().encode(digest), at);
  sidecar.digest = digest;
  return { files: [{ path: side, bytes: new TextEncoder().encode(`${JSON.stringify(sidecar, null, 2)}\n`) }, { path, bytes }], digest };
}

/**
 * Write `weights` to `path` (conventionally `*.safetensors`) and the sidecar
 * to {@link sidecarPath}(path): both fully written before either is renamed
 * into place, sidecar first, each atomically (see {@link encodeWeightsPair}).
 */
export function saveWeights(path: string, weights: Weights, extra: SaveExtra = {}): void {
  writeFilesAtomic(encodeWeightsPair(path, weights, extra).files);
}

/** {@link saveWeights} that removes its temporary files if SIGINT/SIGTERM/SIGHUP arrives while writing; returns the paths written. */
export async function saveWeightsAsync(path: string, weights: Weights, extra: SaveExtra = {}): Promise<{ paths: string[]; digest: string }> {
  const { files, digest } = encodeWeightsPair(path, weights, extra);
  await writeFilesAtomicAsync(files);
  return { paths: files.map((f) => f.path), digest };
}

/** The bytes of a weights file; a file-system failure is a WeightsFileError naming the file. */
export function readWeightsBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const reason = fileReason(e);
    throw new WeightsFileError(`cannot read model file '${path}'${reason === "not-found" ? ": no such file" : ""}`, reason, { path, cause: e });
  }
}

/** Read weights written by {@link saveWeights} or any TransformerLens-named attention-only state dict. */
export function loadWeights(path: string): LoadedWeights {
  const bytes = readWeightsBytes(path);
  try {
    return decodeWeights(bytes, `loadWeights: ${path}`);
  } catch (e) {
    if (e instanceof WeightsFileError) e.path = path;
    throw e;
  }
}

/** A weights file's parts before they become a model: tensors, metadata and what it parses to. */
export interface WeightsFileParts {
  readonly tensors: Map<string, Tensor>;
  readonly metadata: Record<string, string>;
  readonly config?: Record<string, unknown>;
  readonly tokens?: string[];
  readonly layout?: unknown;
}

/** Decode weights from safetensors bytes; `where` prefixes error messages. */
export function decodeWeights(bytes: Uint8Array, where = "decodeWeights"): LoadedWeights {
  const { tensors, metadata, config, tokens, layout } = decodeWeightsFile(bytes, where);
  const weights = weightsFromStateDict(tensors, config, where);
  if (tokens !== undefined) checkTokens(tokens, weights.config.d_vocab, where);
  const out: { weights: Weights; tokens?: string[]; layout?: unknown; metadata: Record<string, string> } = { weights, metadata };
  if (tokens !== undefined) out.tokens = tokens;
  if (metadata.layout !== undefined) out.layout = layout;
  return out;
}

/** Safetensors bytes → tensors and parsed metadata (format, config, tokens, layout), not yet a model. */
export function decodeWeightsFile(bytes: Uint8Array, where: string): WeightsFileParts {
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes, { skip: (name) => IGNORED_BUFFER.test(name) });
  } catch (e) {
    throw new WeightsFileError(`${where}: ${e instanceof Error ? e.message : String(e)}`, "corrupt", { cause: e });
  }
  const { tensors, metadata } = decoded;

  const format = metadata.format;
  if (format !== undefined && format.startsWith("induction-circuits/") && format !== WEIGHTS_FORMAT) {
    throw new WeightsFileError(`${where}: unsupported format ${JSON.stringify(format)} (this version reads ${WEIGHTS_FORMAT})`, "incompatible");
  }
  const parse = (key: string): unknown => {
    try {
      return JSON.parse(metadata[key]);
    } catch (e) {
      const why = e instanceof Error ? e.message.replace(/\s+/g, " ") : String(e);
      throw new WeightsFileError(`${where}: metadata "${key}" is not valid JSON: ${why}`, "corrupt");
    }
  };

  let config: Record<string, unknown> | undefined;
  if (metadata.config !== undefined) {
    const c = parse("config");
    if (typeof c !== "object" || c === null || Array.isArray(c)) throw new WeightsFileError(`${where}: metadata "config" must be a JSON object`, "corrupt");
    config = c as Record<string, unknown>;
  }
  let tokens: string[] | undefined;
  if (metadata.tokens !== undefined) {
    const t = parse("tokens");
    if (!Array.isArray(t) || !t.every((x) => typeof x === "string")) throw new WeightsFileError(`${where}: metadata "tokens" must be a JSON array of strings`, "corrupt");
    tokens = t;
  }
  const layout = metadata.layout !== undefined ? parse("layout") : undefined;
  return { tensors, metadata, config, tokens, layout };
}

/** A token list names every row of W_E once: d_vocab distinct strings. */
export function checkTokens(tokens: readonly unknown[], dVocab: number, where: string): void {
  if (tokens.length !== dVocab) throw new WeightsFileError(`${where}: metadata "tokens" has ${tokens.length} entries, but embed.W_E has d_vocab=${dVocab} rows`, "corrupt");
  const seen = new Set<unknown>();
  tokens.forEach((t, i) => {
    if (seen.has(t)) throw new WeightsFileError(`${where}: metadata "tokens" repeats ${JSON.stringify(t)} (at index ${i})`, "corrupt");
    seen.add(t);
  });
}

/**
 * Build Weights from TransformerLens state-dict tensors, inferring the config
 * from the shapes and checking every shape for consistency. Biases and
 * `unembed.b_U` may be absent (they become zeros). When `config` is given
 * (possibly partially, e.g. a full HookedTransformerConfig), its dimensions
 * must agree with the shapes and attn_only / normalization_type /
 * positional_embedding_type must describe this kind of model. Every entry
 * must be finite. Errors are one line prefixed by `where`.
 */
export function weightsFromStateDict(
  tensors: ReadonlyMap<string, Tensor>,
  config: object | undefined,
  where = "weightsFromStateDict",
): Weights {
  const cfg = (config ?? {}) as Readonly<Record<string, unknown>>;
  const err = (msg: string): never => {
    throw new WeightsFileError(`${where}: ${msg}`, "incompatible");
  };

  let nLayers = 0;
  for (const [name, t] of tensors) {
    const m = BLOCK_NAME.exec(name);
    if (m) nLayers = Math.max(nLayers, Number(m[1]) + 1);
    else if (!["embed.W_E", "pos_embed.W_pos", "unembed.W_U", "unembed.b_U"].includes(name) && !IGNORED_BUFFER.test(name)) {
      if (FOREIGN_PART.test(name)) {
        err(`tensor ${JSON.stringify(name)} belongs to ${/mlp/.test(name) ? "an MLP block" : "a LayerNorm"}: the simulator runs attention-only models without normalisation ('circuits analyze' reads such models, folding LayerNorm and ignoring MLPs)`);
      }
      err(`unexpected tensor ${JSON.stringify(name)} (not a parameter of an attention-only transformer without layer norm)`);
    }
    if (
      typeof t !== "object" || t === null ||
      !(t.data instanceof Float64Array || t.data instanceof Float32Array) ||
      !Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      sizeOf(t.shape) !== t.data.length
    ) {
      err(`tensor ${JSON.stringify(name)} is malformed (shape ${JSON.stringify(t?.shape)}, ${t?.data?.length} elements)`);
    }
    // NaN or ±Inf would only surface later as NaN scores, flat logits or a solver that never converges.
    const bad = firstNonFinite(name, t);
    if (bad) err(`tensor ${JSON.stringify(name)} holds ${bad.value} at index [${bad.index.join(",")}] (weights must be finite)`);
  }

  const need = (name: string): Tensor => tensors.get(name) ?? err(`missing tensor ${JSON.stringify(name)}`);
  const rank = (name: string, t: Tensor, dims: string): void => {
    const n = dims.split(",").length;
    if (t.shape.length !== n) err(`tensor ${JSON.stringify(name)} has shape ${shapeStr(t.shape)}, expected rank ${n} [${dims}]`);
  };
  const expect = (name: string, t: Tensor, shape: readonly number[], dims: string): Tensor => {
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      err(`tensor ${JSON.stringify(name)} has shape ${shapeStr(t.shape)}, expected ${shapeStr(shape)} [${dims}]`);
    }
    return t;
  };
  const optional = (name: string, shape: readonly number[], dims: string, like: FloatArray): Tensor => {
    const t = tensors.get(name);
    if (t !== undefined) return expect(name, t, shape, dims);
    const size = sizeOf(shape);
    return { shape: [...shape], data: like instanceof Float32Array ? new Float32Array(size) : new Float64Array(size) };
  };

  const W_E = need("embed.W_E");
  rank("embed.W_E", W_E, "d_vocab,d_model");
  const [d_vocab, d_model] = W_E.shape;
  const W_pos = need("pos_embed.W_pos");
  rank("pos_embed.W_pos", W_pos, "n_ctx,d_model");
  const n_ctx = W_pos.shape[0];
  expect("pos_embed.W_pos", W_pos, [n_ctx, d_model], "n_ctx,d_model");
  const W_U = need("unembed.W_U");
  rank("unembed.W_U", W_U, "d_model,d_vocab_out");
  const d_vocab_out = W_U.shape[1];
  expect("unembed.W_U", W_U, [d_model, d_vocab_out], "d_model,d_vocab_out");
  const b_U = optional("unembed.b_U", [d_vocab_out], "d_vocab_out", W_U.data);

  const intField = (key: (typeof INT_FIELDS)[number]): number | undefined => {
    const v = cfg[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) err(`config.${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v as number;
  };

  let n_heads: number;
  let d_head: number;
  if (nLayers > 0) {
    const W_Q = need("blocks.0.attn.W_Q");
    rank("blocks.0.attn.W_Q", W_Q, "n_heads,d_model,d_head");
    [n_heads, , d_head] = W_Q.shape;
  } else {
    // No attention layers: nothing in the tensors fixes n_heads or d_head.
    n_heads = intField("n_heads") ?? 1;
    d_head = intField("d_head") ?? d_model;
  }

  const blocks: LayerWeights[] = [];
  for (let l = 0; l < nLayers; l++) {
    const p = (k: BlockParam): string => `blocks.${l}.attn.${k}`;
    const W_Q = expect(p("W_Q"), need(p("W_Q")), [n_heads, d_model, d_head], "n_heads,d_model,d_head");
    const W_K = expect(p("W_K"), need(p("W_K")), [n_heads, d_model, d_head], "n_heads,d_model,d_head");
    const W_V = expect(p("W_V"), need(p("W_V")), [n_heads, d_model, d_head], "n_heads,d_model,d_head");
    const W_O = expect(p("W_O"), need(p("W_O")), [n_heads, d_head, d_model], "n_heads,d_head,d_model");
    blocks.push({
      W_Q,
      W_K,
      W_V,
      W_O,
      b_Q: optional(p("b_Q"), [n_heads, d_head], "n_heads,d_head", W_Q.data),
      b_K: optional(p("b_K"), [n_heads, d_head], "n_heads,d_head", W_K.data),
      b_V: optional(p("b_V"), [n_heads, d_head], "n_heads,d_head", W_V.data),
      b_O: optional(p("b_O"), [d_model], "d_model", W_O.data),
    });
  }

  const inferred = { d_model, d_head, n_heads, n_layers: nLayers, n_ctx, d_vocab, d_vocab_out };
  for (const key of INT_FIELDS) {
    const v = intField(key);
    if (v !== undefined && v !== inferred[key]) {
      const from = key === "n_layers" ? `the file has blocks 0..${nLayers - 1}` : `the tensor shapes give ${key}=${inferred[key]}`;
      err(`config.${key}=${v} disagrees with the tensors: ${from}`);
    }
  }
  const fixed: Record<string, unknown> = {
    attn_only: true,
    normalization_type: null,
    positional_embedding_type: "standard",
  };
  for (const [key, want] of Object.entries(fixed)) {
    const v = cfg[key];
    if (v !== undefined && v !== want) err(`config.${key}=${JSON.stringify(v)} is not supported (must be ${JSON.stringify(want)})`);
  }
  const useAttnResult = cfg.use_attn_result;
  if (useAttnResult !== undefined && typeof useAttnResult !== "boolean") {
    err(`config.use_attn_result must be a boolean, got ${JSON.stringify(useAttnResult)}`);
  }

  const dtype = cfg.dtype;
  if (dtype !== undefined && dtype !== "float32" && dtype !== "float64") {
    err(`config.dtype must be "float32" or "float64", got ${JSON.stringify(dtype)}`);
  }
  const modelConfig: ModelConfig = {
    ...(dtype === undefined ? {} : { dtype: dtype as "float32" | "float64" }),
    d_model,
    d_head,
    n_heads,
    n_layers: nLayers,
    n_ctx,
    d_vocab,
    d_vocab_out,
    attn_only: true,
    normalization_type: null,
    positional_embedding_type: "standard",
    act_fn: null,
    d_mlp: null,
    use_attn_result: useAttnResult === true,
  };
  return { config: modelConfig, W_E, W_pos, blocks, W_U, b_U };
}
