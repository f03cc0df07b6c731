/**
 * TransformerLens-shaped weights of an attention-only transformer.
 *
 * Shape letters used throughout src/model and src/sim:
 *   V = d_vocab, Vo = d_vocab_out, C = n_ctx, D = d_model, H = n_heads,
 *   E = d_head, L = n_layers, B = batch, T = sequence length.
 *
 * Every tensor is a flat row-major typed array plus its shape, so the same
 * object can be written to safetensors unchanged and read by numpy/PyTorch.
 */

/** The HookedTransformerConfig fields an attention-only model needs. */
export interface ModelConfig {
  readonly d_model: number;
  readonly d_head: number;
  readonly n_heads: number;
  readonly n_layers: number;
  readonly n_ctx: number;
  readonly d_vocab: number;
  readonly d_vocab_out: number;
  readonly attn_only: true;
  readonly normalization_type: null;
  readonly positional_embedding_type: "standard";
  readonly act_fn: null;
  readonly d_mlp: null;
  readonly use_attn_result: boolean;
  /** The float format the weights are meant to run in (compiled models state their bound for it). */
  readonly dtype?: "float32" | "float64";
}

export type FloatArray = Float64Array | Float32Array;

/** A dense row-major tensor. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: FloatArray;
}

/** One attention block's parameters, TransformerLens names and shapes. */
export interface LayerWeights {
  readonly W_Q: Tensor; // [H, D, E]
  readonly W_K: Tensor; // [H, D, E]
  readonly W_V: Tensor; // [H, D, E]
  readonly W_O: Tensor; // [H, E, D]
  readonly b_Q: Tensor; // [H, E]
  readonly b_K: Tensor; // [H, E]
  readonly b_V: Tensor; // [H, E]
  readonly b_O: Tensor; // [D]
}

/** A whole attention-only model. */
export interface Weights {
  readonly config: ModelConfig;
  readonly W_E: Tensor; // [V, D]
  readonly W_pos: Tensor; // [C, D]
  readonly blocks: readonly LayerWeights[];
  readonly W_U: Tensor; // [D, Vo]
  readonly b_U: Tensor; // [Vo]
}

/** Allocate a zero tensor of the given shape in float64. */
export function zeros(shape: readonly number[]): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape: [...shape], data: new Float64Array(size) };
}

/** Number of elements a shape holds. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The TransformerLens state-dict entries of a model, in a stable order. */
export function stateDict(w: Weights): [string, Tensor][] {
  const out: [string, Tensor][] = [
    ["embed.W_E", w.W_E],
    ["pos_embed.W_pos", w.W_pos],
  ];
  w.blocks.forEach((b, l) => {
    for (const name of ["W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O"] as const) {
      out.push([`blocks.${l}.attn.${name}`, b[name]]);
    }
  });
  out.push(["unembed.W_U", w.W_U], ["unembed.b_U", w.b_U]);
  return out;
}
