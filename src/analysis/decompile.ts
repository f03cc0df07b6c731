/**
 * Weights → program text. With the layout a compiled model carries (named
 * residual blocks, no reader lists — see named.ts), every head is read back
 * from its QK and OV circuits (readHead.ts), the vocabulary from the `token`
 * block, the context from n_ctx and the output from the block W_U reads.
 * The text is then parsed and checked by the real checker, so what comes
 * out is a program, or an error saying which part of the weights is not one.
 *
 * Without a layout the residual stream has no names: nothing says which
 * dimensions form a feature, which values they stand for, or which heads'
 * conjuncts compare what. What the weights alone do determine — each head's
 * behaviour on repeated sequences, its copying score and the head-level
 * composition graph — is reported by analyze.ts; a program is then found
 * by search instead (src/recover/search.ts), and when none fits decompile
 * says so rather than invent names (see `noLayoutExplanation`).
 */
import { clockCos, clockSin } from "../compiler/layout.ts";
import { load } from "../lang/check.ts";
import { ProgramError } from "../lang/diagnostics.ts";
import { printSelection, printVocab } from "../lang/print.ts";
import type { Program } from "../lang/program.ts";
import type { Weights } from "../model/weights.ts";
import { activeHeads } from "./circuits.ts";
import { checkLayoutAgainst, checkLayoutSelf } from "./layoutCheck.ts";
import { headId, headNames, type NamedLayout, namedBlock } from "./named.ts";
import { DecompileError, readHead, type RecoveredHead, type RecoveredSelect } from "./readHead.ts";
import { modelVocabSize, tokenId } from "../model/tokenIds.ts";

export { DecompileError } from "./readHead.ts";

/** Options of {@link decompile}. */
export interface DecompileOptions {
  /** Named residual blocks (from the weights file's metadata). */
  readonly layout: NamedLayout;
  /** Token names by id, "<bos>" first, when the file stores them: checked against the layout. */
  readonly tokens?: readonly string[];
  /** Shown in diagnostics of the re-checked text. */
  readonly path?: string;
}

/** A recovered program: its text, the checked Program, and each head as read. */
export interface Decompiled {
  readonly text: string;
  readonly program: Program;
  readonly heads: readonly (RecoveredHead & { readonly name: string })[];
}

/**
 * Counts compile to two heads and extra position directions that readHead
 * does not read back yet; say so, rather than fail later on the embedding.
 */
function refuseCounts(layout: NamedLayout): void {
  const counts = layout.blocks.filter((b) => b.kind === "count").map((b) => b.writtenBy ?? b.name);
  if (counts.length) {
    throw new DecompileError(`the model has count heads (${counts.map((n) => n.replace(/\.mean$/, "")).join(", ")}), which decompile cannot read back yet; analyze and verify do read counting models`);
  }
}

/** Recover the program a compiled model implements (needs the model's layout). */
export function decompile(weights: Weights, opts: DecompileOptions): Decompiled {
  const { layout } = opts;
  const { n_ctx: C, n_layers: L, d_model: D } = weights.config;
  // A tampered layout would print a different program: refuse it here, for library callers too.
  checkLayoutSelf(layout);
  checkLayoutAgainst(layout, weights, opts.tokens);
  refuseCounts(layout);
  checkEmbedding(weights, layout);
  const active = activeHeads(weights);
  if (!active.length) throw new DecompileError("the model has no nonzero heads");
  const names = headNames(active, layout);
  const heads = active.map((h) => ({ ...readHead(h, layout, C), name: names.get(headId(h))! }));
  for (let l = 0; l < L; l++) {
    if (!heads.some((h) => h.block === l)) throw new DecompileError(`layer ${l} (blocks.${l}) has no nonzero head`);
  }
  const vocab = vocabulary(layout, opts.tokens);
  const output = outputBlock(weights, layout);

  const lines = [`# decompiled from weights (d_model ${D}, ${L} layer${L === 1 ? "" : "s"}): each head read from its QK and OV circuits`];
  lines.push(`vocab ${printVocab(vocab)}`, `context ${C}`);
  for (let l = 0; l < L; l++) {
    lines.push("", `layer ${l + 1}`);
    for (const h of heads.filter((x) => x.block === l)) {
      const copies = h.copies.map((c) => `${c.from}[j] as ${c.to}`).join(", ");
      lines.push(`  head ${h.name}: ${renderSelect(h.select)}; copy ${copies}`);
    }
  }
  lines.push("", `output ${output}`, "");
  const text = lines.join("\n");
  try {
    return { text, program: load({ path: opts.path ?? "<decompiled>", text }), heads };
  } catch (e) {
    if (!(e instanceof ProgramError)) throw e;
    throw new DecompileError(`the recovered text does not check: ${e.message}`);
  }
}

/**
 * The program text names tokens and positions through the layout, so the
 * tensors that carry them must be exactly the compiled embedding of that
 * layout: W_E[BOS] = bos, W_E[v+1] = token:v, W_pos[p] = one + (p/C)·pos.lin
 * (+ pos:p and the clock's cos/sin(2πp/n) for p ≥ 1), no biases, and b_U zero except a
 * non-positive BOS logit. Otherwise the printed program would not be what
 * the weights compute.
 */
function checkEmbedding(weights: Weights, layout: NamedLayout): void {
  const { d_model: D, n_ctx: C, d_vocab: V } = weights.config;
  const at = new Map(layout.blocks.flatMap((b) => b.labels.map((l, k) => [l, b.offset + k] as const)));
  const dim = (label: string) => at.get(label) ?? -1;
  const token = namedBlock(layout, "token");
  const periods = [...at.keys()].filter((l) => l.startsWith("pos.cos")).map((l) => Number(l.slice("pos.cos".length)));
  const expectRow = (name: string, data: ArrayLike<number>, row: number, want: Map<number, number>) => {
    for (let d = 0; d < D; d++) {
      const x = data[row * D + d]!;
      const w = want.get(d) ?? 0;
      // Float32 storage rounds p/C; 1e-6 relative is far below any difference that changes a label.
      if (Math.abs(x - w) > 1e-6 * Math.max(1, Math.abs(w))) {
        throw new DecompileError(`${name}[${row},${d}] = ${x}, but the layout's embedding puts ${w} there (${name === "embed.W_E" ? "token id" : "position"} ${row})`);
      }
    }
  };
  expectRow("embed.W_E", weights.W_E.data, 0, new Map([[dim("bos"), 1]]));
  for (let v = 1; v < V; v++) expectRow("embed.W_E", weights.W_E.data, v, new Map([[token ? token.offset + v - 1 : -1, 1]]));
  for (let p = 0; p < C; p++) {
    const want = new Map([[dim("one"), 1], [dim("pos.lin"), p / C]]);
    if (p >= 1 && at.has(`pos:${p}`)) want.set(dim(`pos:${p}`), 1);
    if (p >= 1) {
      for (const n of periods) {
        want.set(dim(`pos.cos${n}`), clockCos(p, n));
        want.set(dim(`pos.sin${n}`), clockSin(p, n));
      }
    }
    expectRow("pos_embed.W_pos", weights.W_pos.data, p, want);
  }
  weights.blocks.forEach((b, l) => {
    for (const k of ["b_Q", "b_K", "b_V", "b_O"] as const) {
      const i = b[k].data.findIndex((x) => x !== 0);
      if (i >= 0) throw new DecompileError(`blocks.${l}.attn.${k} has a nonzero entry (${b[k].data[i]} at flat index ${i}); compiled heads have no biases`);
    }
  });
  const bU = weights.b_U.data;
  const i = bU.findIndex((x, t) => (t === 0 ? x > 0 : x !== 0));
  if (i >= 0) throw new DecompileError(`unembed.b_U[${i}] = ${bU[i]}; a compiled model's only logit bias is a non-positive one on BOS`);
}

/** A selection as program text (the one printer, src/lang/print.ts). */
export function renderSelect(s: RecoveredSelect): string {
  return printSelection(s);
}

/** Token names from the layout's `token` block, checked against the file's token list. */
function vocabulary(layout: NamedLayout, tokens: readonly string[] | undefined): string[] {
  const block = namedBlock(layout, "token");
  if (!block) throw new DecompileError("the layout has no 'token' block");
  const vocab = block.labels.map((l) => l.slice("token:".length));
  if (tokens && (tokens.length !== modelVocabSize(vocab.length) || vocab.some((t, v) => tokens[tokenId(v)] !== t))) {
    throw new DecompileError(`the layout's tokens (${vocab.join(" ")}) differ from the file's token list`);
  }
  return vocab;
}

/** The block W_U reads: it must be a token-valued block mapped value v → token id v + 1. */
function outputBlock(weights: Weights, layout: NamedLayout): string {
  const Vo = weights.config.d_vocab_out;
  const U = weights.W_U.data; // [D, Vo]
  const read = layout.blocks.filter((b) => {
    for (let d = b.offset; d < b.offset + b.size; d++) for (let v = 0; v < Vo; v++) if (U[d * Vo + v] !== 0) return true;
    return false;
  });
  if (read.length !== 1) {
    throw new DecompileError(`W_U reads ${read.length ? read.map((b) => `'${b.name}'`).join(", ") : "nothing"}, expected one token-valued block`);
  }
  const out = read[0]!;
  if (out.domain !== "token") throw new DecompileError(`W_U reads '${out.name}', which does not hold tokens`);
  for (let v = 0; v < out.size; v++) {
    for (let t = 0; t < Vo; t++) {
      const x = U[(out.offset + v) * Vo + t]!;
      if ((x !== 0) !== (t === v + 1) || x < 0) {
        throw new DecompileError(`W_U maps ${out.labels[v]} to token id ${t} (${x}): not the unembedding of '${out.name}'`);
      }
    }
  }
  return out.name;
}

/** Why no program came out of a model without a layout, in a few lines (after the search found no fit). */
export function noLayoutExplanation(): string[] {
  return [
    "no program text recovered: nothing in the search space fits, and the weights carry no layout",
    "(named residual directions) to read one from — nothing says which dimensions form a feature,",
    "which token or position each direction stands for, or which features a head's QK compares.",
    "What the weights alone determine is below: each head's attention type on repeated random",
    "sequences, its copying score, and the head-level composition graph (written scores above the random baseline).",
  ];
}
