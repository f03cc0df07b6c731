/**
 * Named circuits → dense TransformerLens tensors. This is the only place
 * where directions become indices: heads of a layer are stacked along H,
 * every head's spaces are padded to a shared d_head, and W_Q is multiplied by
 * √d_head to cancel the 1/√d_head that TransformerLens applies to scores.
 */
import type { Program } from "../lang/program.ts";
import { type LayerWeights, type ModelConfig, type Weights, zeros } from "../model/weights.ts";
import type { HeadCircuit } from "./heads.ts";
import { clockCos, clockPeriods, clockSin, type Layout } from "./layout.ts";
import type { Scales } from "./scales.ts";
import { BOS_ID, modelVocabSize, tokenId } from "../model/tokenIds.ts";

/** Dense weights of a compiled program. */
export function headsToWeights(program: Program, layout: Layout, circuits: readonly HeadCircuit[], scales: Scales): Weights {
  const D = layout.dModel;
  const V = modelVocabSize(program.vocab.length);
  const C = program.context;
  const L = program.layers.length;
  // A count's .mean head sits after the program's heads of the layer before the count.
  const H = Math.max(1, ...program.layers.map((_, l) => circuits.filter((c) => c.block === l).length));
  const E = Math.max(1, ...circuits.map((c) => Math.max(c.qkSpace.size, c.ovSpace.size)));
  const at = (label: string) => layout.space.at(label);

  const W_E = zeros([V, D]);
  W_E.data[BOS_ID * D + at("bos")] = 1;
  program.vocab.forEach((t, v) => (W_E.data[tokenId(v) * D + at(`token:${t}`)] = 1));

  const W_pos = zeros([C, D]);
  const hasPosOneHot = layout.space.has("pos:1");
  const periods = clockPeriods(program);
  const countKeys = layout.space.has("pos.u");
  for (let p = 0; p < C; p++) {
    W_pos.data[p * D + at("one")] = 1;
    W_pos.data[p * D + at("pos.lin")] = p / C;
    // A count's keys, BOS included (BOS is where a count of 0 lands: ⊥).
    if (countKeys) {
      W_pos.data[p * D + at("pos.u")] = p + 1;
      W_pos.data[p * D + at("pos.u2")] = (p + 1) * (p + 1);
    }
    if (hasPosOneHot && p >= 1) W_pos.data[p * D + at(`pos:${p}`)] = 1;
    // The clock stays zero at BOS so that BOS scores only through `bos`.
    if (p === 0) continue;
    for (const n of periods) {
      W_pos.data[p * D + at(`pos.cos${n}`)] = clockCos(p, n);
      W_pos.data[p * D + at(`pos.sin${n}`)] = clockSin(p, n);
    }
  }

  const qScale = Math.sqrt(E);
  const blocks: LayerWeights[] = [];
  for (let l = 0; l < L; l++) {
    const layer = {
      W_Q: zeros([H, D, E]),
      W_K: zeros([H, D, E]),
      W_V: zeros([H, D, E]),
      W_O: zeros([H, E, D]),
      b_Q: zeros([H, E]),
      b_K: zeros([H, E]),
      b_V: zeros([H, E]),
      b_O: zeros([D]),
    };
    for (const c of circuits.filter((x) => x.block === l)) {
      c.W_Q.writeInto(layer.W_Q.data as Float64Array, c.index * D * E, E, qScale);
      c.W_K.writeInto(layer.W_K.data as Float64Array, c.index * D * E, E);
      c.W_V.writeInto(layer.W_V.data as Float64Array, c.index * D * E, E);
      c.W_O.writeInto(layer.W_O.data as Float64Array, c.index * E * D, D);
    }
    blocks.push(layer);
  }

  // Unembed the output block: ⊥ (zero) gives flat logits; BOS is never predicted.
  const W_U = zeros([D, V]);
  const out = layout.blocks.find((b) => b.name === program.output)!;
  out.labels.forEach((label, v) => (W_U.data[at(label) * V + tokenId(v)] = scales.logitScale));
  const b_U = zeros([V]);
  b_U.data[BOS_ID] = -2 * scales.logitScale;

  const config: ModelConfig = {
    d_model: D,
    d_head: E,
    n_heads: H,
    n_layers: L,
    n_ctx: C,
    d_vocab: V,
    d_vocab_out: V,
    attn_only: true,
    normalization_type: null,
    positional_embedding_type: "standard",
    act_fn: null,
    d_mlp: null,
    use_attn_result: false,
    dtype: scales.precision,
  };
  return { config, W_E, W_pos, blocks, W_U, b_U };
}
