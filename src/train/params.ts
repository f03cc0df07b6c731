/**
 * A trained model's parameters as one flat array: every tensor is a view of
 * it at a fixed offset, in TransformerLens state-dict order. The optimizer,
 * the gradient and the checkpoint all walk the same flat layout, and the
 * views give a `Weights` the simulator and the analyses read unchanged.
 * Shape letters: see src/model/weights.ts.
 */
import type { FloatArray, LayerWeights, Tensor, Weights } from "../model/weights.ts";
import { attnOnlyConfig } from "../sim/random.ts";

/** Storage precision of a training run. */
export type TrainPrecision = "float32" | "float64";

/** The architecture being trained (d_vocab counts BOS). */
export interface TrainShape {
  readonly d_model: number;
  readonly n_heads: number;
  readonly d_head: number;
  readonly n_layers: number;
  readonly n_ctx: number;
  readonly d_vocab: number;
  /** Train b_Q, b_K, b_V, b_O and b_U (else they are absent from the file, i.e. zero). */
  readonly bias: boolean;
}

/** Where one named tensor lives in the flat array. */
export interface ParamEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

/** Flat parameters and their layout. */
export interface Params {
  readonly shape: TrainShape;
  readonly entries: readonly ParamEntry[];
  readonly data: FloatArray;
}

const BLOCK_WEIGHTS = ["W_Q", "W_K", "W_V", "W_O"] as const;
const BLOCK_BIASES = ["b_Q", "b_K", "b_V", "b_O"] as const;

/** The tensors of a shape in state-dict order, with their offsets. */
export function paramLayout(s: TrainShape): ParamEntry[] {
  const { d_model: D, n_heads: H, d_head: E, n_ctx: C, d_vocab: V } = s;
  const list: [string, number[]][] = [["embed.W_E", [V, D]], ["pos_embed.W_pos", [C, D]]];
  for (let l = 0; l < s.n_layers; l++) {
    const p = `blocks.${l}.attn.`;
    list.push([p + "W_Q", [H, D, E]], [p + "W_K", [H, D, E]], [p + "W_V", [H, D, E]], [p + "W_O", [H, E, D]]);
    if (s.bias) list.push([p + "b_Q", [H, E]], [p + "b_K", [H, E]], [p + "b_V", [H, E]], [p + "b_O", [D]]);
  }
  list.push(["unembed.W_U", [D, V]]);
  if (s.bias) list.push(["unembed.b_U", [V]]);
  let offset = 0;
  return list.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const e = { name, shape, offset, size };
    offset += size;
    return e;
  });
}

/** Total number of parameters of a layout. */
export function paramCount(entries: readonly ParamEntry[]): number {
  const last = entries[entries.length - 1];
  return last ? last.offset + last.size : 0;
}

/** A zero array of the given precision. */
export function allocFloat(precision: TrainPrecision, n: number): FloatArray {
  return precision === "float32" ? new Float32Array(n) : new Float64Array(n);
}

/** Zero parameters of a shape. */
export function zeroParams(s: TrainShape, precision: TrainPrecision): Params {
  const entries = paramLayout(s);
  return { shape: s, entries, data: allocFloat(precision, paramCount(entries)) };
}

/** Offset of a named tensor (throws for a name the layout lacks). */
export function offsetOf(p: { readonly entries: readonly ParamEntry[] }, name: string): number {
  const e = p.entries.find((x) => x.name === name);
  if (!e) throw new Error(`no parameter ${JSON.stringify(name)}`);
  return e.offset;
}

/** The parameters as Weights whose tensors are views of p.data (absent biases are zero tensors). */
export function paramsToWeights(p: Params): Weights {
  const s = p.shape;
  const byName = new Map(p.entries.map((e) => [e.name, e]));
  const view = (name: string, shape: number[]): Tensor => {
    const e = byName.get(name);
    if (e) return { shape: [...e.shape], data: p.data.subarray(e.offset, e.offset + e.size) };
    const n = shape.reduce((a, b) => a * b, 1);
    return { shape, data: p.data instanceof Float32Array ? new Float32Array(n) : new Float64Array(n) };
  };
  const { d_model: D, n_heads: H, d_head: E, d_vocab: V } = s;
  const blocks: LayerWeights[] = [];
  for (let l = 0; l < s.n_layers; l++) {
    const q = `blocks.${l}.attn.`;
    blocks.push({
      W_Q: view(q + "W_Q", [H, D, E]), W_K: view(q + "W_K", [H, D, E]), W_V: view(q + "W_V", [H, D, E]), W_O: view(q + "W_O", [H, E, D]),
      b_Q: view(q + "b_Q", [H, E]), b_K: view(q + "b_K", [H, E]), b_V: view(q + "b_V", [H, E]), b_O: view(q + "b_O", [D]),
    });
  }
  return {
    config: { ...attnOnlyConfig({ ...s, d_vocab_out: V }), use_attn_result: false },
    W_E: view("embed.W_E", [V, D]),
    W_pos: view("pos_embed.W_pos", [s.n_ctx, D]),
    blocks,
    W_U: view("unembed.W_U", [D, V]),
    b_U: view("unembed.b_U", [V]),
  };
}

/**
 * Parameters copied from Weights (a loaded file). `bias`: whether the run
 * trains biases; without, any nonzero bias in the file is an error, since
 * dropping it would change the model.
 */
export function paramsFromWeights(w: Weights, bias: boolean, precision: TrainPrecision): Params {
  const c = w.config;
  const s: TrainShape = { d_model: c.d_model, n_heads: c.n_heads, d_head: c.d_head, n_layers: c.n_layers, n_ctx: c.n_ctx, d_vocab: c.d_vocab, bias };
  if (c.d_vocab_out !== c.d_vocab) throw new Error(`the model's d_vocab_out (${c.d_vocab_out}) differs from d_vocab (${c.d_vocab}); training needs them equal`);
  const p = zeroParams(s, precision);
  const source = new Map<string, Tensor>([["embed.W_E", w.W_E], ["pos_embed.W_pos", w.W_pos], ["unembed.W_U", w.W_U], ["unembed.b_U", w.b_U]]);
  w.blocks.forEach((b, l) => {
    for (const k of [...BLOCK_WEIGHTS, ...BLOCK_BIASES]) source.set(`blocks.${l}.attn.${k}`, b[k]);
  });
  const kept = new Set(p.entries.map((e) => e.name));
  for (const [name, t] of source) {
    if (!kept.has(name) && t.data.some((x) => x !== 0)) {
      throw new Error(`the model has a nonzero ${name} but the run trains no biases (drop --no-bias)`);
    }
  }
  for (const e of p.entries) p.data.set(source.get(e.name)!.data, e.offset);
  return p;
}
