/**
 * A layout read from a file is a claim about the weights; before any analysis
 * names a direction by it, the claim is checked — against itself (the block
 * kinds the compiler writes, unique names and labels, feature values that
 * match their domain) and against the tensors and token list (sizes, the
 * writer of every feature block is a head of the right layer whose W_O writes
 * it, one name per head). A tampered layout would otherwise rename heads,
 * move features between layers or change the program `decompile` prints.
 * Every failure is one LayoutError line.
 */
import type { Weights } from "../model/weights.ts";
import { activeHeads } from "./circuits.ts";
import { headId, LayoutError, type NamedBlock, type NamedLayout } from "./named.ts";

const fail = (msg: string): never => {
  throw new LayoutError(`layout: ${msg}`);
};

/** Embedding blocks with fixed labels, and the kinds with one block each. */
const FIXED_LABELS: Readonly<Record<string, readonly string[]>> = { one: ["one"], bos: ["bos"] };
const EMBEDDING_KINDS = ["one", "bos", "token", "position", "pos"] as const;

/** The value part of a label "prev:a" → "a", checking the block-name prefix. */
function valuesOf(b: NamedBlock, prefix: string): string[] {
  return b.labels.map((l, k) => (l.startsWith(`${prefix}:`) ? l.slice(prefix.length + 1) : fail(`block '${b.name}' label ${k} is ${JSON.stringify(l)}, expected '${prefix}:…'`)));
}

/** The position block: pos.lin, then the clock's hands in order (pos.cos4, pos.sin4, pos.cos16, …) or none, then a counting program's pos.u, pos.u2. */
function checkClockLabels(all: readonly string[], fail: (msg: string) => never): void {
  const counts = all.length >= 3 && all[all.length - 2] === "pos.u" && all[all.length - 1] === "pos.u2";
  const labels = counts ? all.slice(0, -2) : all;
  const want = ["pos.lin"];
  for (let n = 4; want.length < labels.length; n *= 4) want.push(`pos.cos${n}`, `pos.sin${n}`);
  if (labels.length !== want.length || labels.some((l, k) => l !== want[k])) {
    fail(`block 'position' must have labels pos.lin then clock hands pos.cos4, pos.sin4, pos.cos16, … (got ${labels.slice(0, 5).join(", ")}${labels.length > 5 ? ", …" : ""})`);
  }
}

/** Check a layout against itself: kinds, names, labels, domains, layers, writers. */
export function checkLayoutSelf(layout: NamedLayout): void {
  const names = new Set<string>();
  const labels = new Set<string>();
  for (const b of layout.blocks) {
    if (b.name === "" || names.has(b.name)) fail(`block name ${JSON.stringify(b.name)} is ${b.name === "" ? "empty" : "used twice"}`);
    names.add(b.name);
    for (const l of b.labels) {
      if (labels.has(l)) fail(`label ${JSON.stringify(l)} appears twice`);
      labels.add(l);
    }
  }
  for (const kind of EMBEDDING_KINDS) {
    const n = layout.blocks.filter((b) => b.kind === kind).length;
    if (n > 1 || (n === 0 && kind !== "pos")) fail(`expected ${kind === "pos" ? "at most" : "exactly"} one '${kind}' block, found ${n}`);
  }
  const token = layout.blocks.find((b) => b.kind === "token")!;
  if (token.name !== "token") fail(`the token block is named '${token.name}', expected 'token'`);
  const vocab = valuesOf(token, "token");
  const writerLayer = new Map<string, number>();
  for (const b of layout.blocks) {
    const embedding = (EMBEDDING_KINDS as readonly string[]).includes(b.kind);
    if (!embedding && b.kind !== "feature" && b.kind !== "count") fail(`block '${b.name}' has unknown kind ${JSON.stringify(b.kind)}`);
    if (b.kind === "count") {
      // A count's 1/(m + 1): one direction named like the block, written by its .mean head.
      if (b.layer < 1 || b.domain !== null || b.labels.length !== 1 || b.labels[0] !== b.name || typeof b.writtenBy !== "string" || b.writtenBy === "") {
        fail(`count block '${b.name}' must have layer ≥ 1, no domain, the one label '${b.name}' and a writer`);
      }
      continue;
    }
    if (embedding) {
      if (b.layer !== 0 || b.writtenBy !== null) fail(`embedding block '${b.name}' must have layer 0 and no writer`);
      if (b.kind !== "token" && b.kind !== "pos" && b.name !== b.kind) fail(`the ${b.kind} block is named '${b.name}'`);
      const fixed = FIXED_LABELS[b.kind];
      if (fixed && (b.labels.length !== fixed.length || b.labels.some((l, k) => l !== fixed[k]))) fail(`block '${b.name}' must have labels ${fixed.join(", ")}`);
      if (b.kind === "position") checkClockLabels(b.labels, fail);
      const domain = b.kind === "token" ? "token" : b.kind === "pos" ? "pos" : null;
      if (b.domain !== domain) fail(`block '${b.name}' of kind ${b.kind} has domain ${JSON.stringify(b.domain)}, expected ${JSON.stringify(domain)}`);
      if (b.kind === "pos") {
        if (b.name !== "pos") fail(`the pos block is named '${b.name}'`);
        valuesOf(b, "pos").forEach((v, p) => v === String(p) || fail(`block 'pos' label ${p} is 'pos:${v}', expected 'pos:${p}'`));
      }
      continue;
    }
    if (b.layer < 1) fail(`feature block '${b.name}' has layer ${b.layer}; features are written by layers 1…`);
    if (typeof b.writtenBy !== "string" || b.writtenBy === "") fail(`feature block '${b.name}' names no writer`);
    const at = writerLayer.get(b.writtenBy!);
    if (at !== undefined && at !== b.layer) fail(`head '${b.writtenBy}' writes blocks in layers ${at} and ${b.layer}`);
    writerLayer.set(b.writtenBy!, b.layer);
    const values = valuesOf(b, b.name);
    if (b.domain === "token") {
      if (values.length !== vocab.length || values.some((v, k) => v !== vocab[k])) fail(`token-valued block '${b.name}' has values ${values.join(" ")}, not the vocabulary ${vocab.join(" ")}`);
    } else if (b.domain === "pos") {
      values.forEach((v, p) => v === String(p) || fail(`position-valued block '${b.name}' label ${p} is '${b.name}:${v}'`));
    } else fail(`feature block '${b.name}' has domain null (must be token or pos)`);
  }
}

/** Check a (self-consistent) layout against the weights and the file's token list. */
export function checkLayoutAgainst(layout: NamedLayout, weights: Weights, tokens: readonly string[] | undefined): void {
  const { d_vocab: V, d_vocab_out: Vo, n_ctx: C, n_layers: L, d_model: D } = weights.config;
  if (layout.dModel !== D) fail(`d_model ${layout.dModel} does not match the weights' d_model ${D}`);
  const token = layout.blocks.find((b) => b.kind === "token")!;
  if (token.size !== V - 1) fail(`the token block has ${token.size} values, but embed.W_E has d_vocab=${V} rows (BOS + one per token)`);
  if (Vo !== V) fail(`d_vocab_out ${Vo} differs from d_vocab ${V}`);
  if (tokens !== undefined) {
    const vocab = token.labels.map((l) => l.slice("token:".length));
    if (tokens[0] !== "<bos>" || tokens.length !== V || vocab.some((t, v) => tokens[v + 1] !== t)) {
      fail(`the token block's tokens (${vocab.join(" ")}) differ from the file's token list after "<bos>"`);
    }
  }
  for (const b of layout.blocks) {
    if (b.domain === "pos" && b.size !== C) fail(`position-valued block '${b.name}' has ${b.size} values, but n_ctx is ${C}`);
    if (b.layer > L) fail(`block '${b.name}' is written in layer ${b.layer}, but the model has ${L} layers`);
  }
  // Each feature block's writer is the one head whose W_O writes into it, in the block's layer.
  const heads = activeHeads(weights);
  const headOfName = new Map<string, string>();
  const nameOfHead = new Map<string, string>();
  for (const b of layout.blocks.filter((x) => x.kind === "feature")) {
    const writers = heads.filter((h) => {
      const { rows: E, cols, data } = h.W_O;
      for (let e = 0; e < E; e++) for (let d = b.offset; d < b.offset + b.size; d++) if (data[e * cols + d] !== 0) return true;
      return false;
    });
    if (writers.length !== 1) {
      fail(`feature block '${b.name}' is written by ${writers.length ? writers.map(headId).join(", ") : "no head"}; the layout says by '${b.writtenBy}' alone`);
    }
    const h = writers[0]!;
    if (h.block !== b.layer - 1) fail(`feature block '${b.name}' says layer ${b.layer}, but its writer ${headId(h)} is in layer ${h.block + 1}`);
    const id = headId(h);
    const known = headOfName.get(b.writtenBy!);
    if (known !== undefined && known !== id) fail(`'${b.writtenBy}' names two heads, ${known} and ${id}`);
    const other = nameOfHead.get(id);
    if (other !== undefined && other !== b.writtenBy) fail(`head ${id} is named both '${other}' and '${b.writtenBy}'`);
    headOfName.set(b.writtenBy!, id);
    nameOfHead.set(id, b.writtenBy!);
  }
}
