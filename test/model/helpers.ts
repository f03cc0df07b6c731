/** Shared builders for the model tests (not a test file itself). */
import type { FloatArray, ModelConfig, Tensor, Weights } from "../../src/model/weights.ts";
import { mulberry32 } from "../../src/sim/random.ts";

/** The project's seeded PRNG, so model tests need no global state. */
export const rng = mulberry32;

export interface Dims {
  d_model: number;
  d_head: number;
  n_heads: number;
  n_layers: number;
  n_ctx: number;
  d_vocab: number;
  d_vocab_out: number;
}

export function makeConfig(d: Dims, use_attn_result = false): ModelConfig {
  return {
    ...d,
    attn_only: true,
    normalization_type: null,
    positional_embedding_type: "standard",
    act_fn: null,
    d_mlp: null,
    use_attn_result,
  };
}

/** A Weights object with random normal-ish entries. */
export function randomWeights(d: Dims, seed: number, f32 = false): Weights {
  const r = rng(seed);
  const t = (...shape: number[]): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data: FloatArray = f32 ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = (r() - 0.5) * 4;
    return { shape, data };
  };
  const { d_model: D, d_head: E, n_heads: H, n_ctx: C, d_vocab: V, d_vocab_out: Vo } = d;
  return {
    config: makeConfig(d),
    W_E: t(V, D),
    W_pos: t(C, D),
    blocks: Array.from({ length: d.n_layers }, () => ({
      W_Q: t(H, D, E),
      W_K: t(H, D, E),
      W_V: t(H, D, E),
      W_O: t(H, E, D),
      b_Q: t(H, E),
      b_K: t(H, E),
      b_V: t(H, E),
      b_O: t(D),
    })),
    W_U: t(D, Vo),
    b_U: t(Vo),
  };
}

/** The raw bytes behind a typed array (for bit-exact comparisons). */
export function rawBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Build a safetensors file by hand from a header (object or literal JSON text) and data bytes. */
export function rawFile(header: unknown, data: Uint8Array | number[] = [], pad = true): Uint8Array {
  let json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  if (pad && json.length % 8 !== 0) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}
