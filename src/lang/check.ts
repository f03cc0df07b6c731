/**
 * Syntax tree → typed, layered Program. Collects every static error (with its
 * span) before throwing, so a user fixes a program in one pass. Also derives
 * the composition graph: which earlier heads each head reads on its query (Q),
 * key (K) and value (V) side.
 */
import type { EqualityNode, FeatureRefNode, HeadNode, ProgramNode, Span } from "./ast.ts";
import { type Diagnostic, ProgramError, type Source } from "./diagnostics.ts";
import { parse } from "./parse.ts";
import type { CompositionEdge, Condition, Copy, Feature, Head, Program, Selection } from "./program.ts";

/** Limits on what a program may declare; the messages quote them. */
export const LIMITS = { vocab: 4096, context: 8192, layers: 64, headsPerLayer: 64 } as const;

/** The checker keeps at most this many diagnostics and counts the rest. */
export const MAX_KEPT_DIAGNOSTICS = 200;

const RESERVED = new Set(["i", "j", "token", "pos", "bos", "one"]);

/**
 * The static check of a parsed program (names, domains, layers, limits) — what
 * `circuits check-syntax` runs; throws ProgramError listing every problem found.
 * "Check" alone, in the CLI and the library, is the differential check of
 * compiled weights against the semantics (src/verify/check.ts).
 */
export function checkSyntax(source: Source, ast: ProgramNode): Program {
  const errors: Diagnostic[] = [];
  let omitted = 0;
  // Kept diagnostics are bounded so a hostile program cannot make the report itself huge.
  const err = (code: string, span: Span, message: string, hint?: string) => {
    if (errors.length >= MAX_KEPT_DIAGNOSTICS) omitted++;
    else errors.push(hint ? { code, span, message, hint } : { code, span, message });
  };

  const vocab = checkVocab(ast, err);
  const context = checkContext(ast, err);

  const features = new Map<string, Feature>([
    ["token", { name: "token", domain: "token", distribution: false, layer: 0, head: null, span: null }],
    ["pos", { name: "pos", domain: "pos", distribution: false, layer: 0, head: null, span: null }],
  ]);
  // Where each feature is written, so a read from the same or a later layer
  // is reported as such (E033) rather than as an unknown name.
  const writtenIn = new Map<string, number>();
  ast.layers.forEach((l, idx) => l.heads.forEach((h) => h.copies.forEach((c) => {
    if (!writtenIn.has(c.as)) writtenIn.set(c.as, idx + 1);
  })));
  const headNames = new Set<string>();
  const layers: Head[][] = [];
  const composition: CompositionEdge[] = [];
  const beyondInduction: string[] = [];

  if (ast.layers.length > LIMITS.layers) {
    err("E020", ast.layers[LIMITS.layers]!.span, `too many layers: ${ast.layers.length} (at most ${LIMITS.layers})`);
  }
  ast.layers.forEach((layerNode, idx) => {
    const layer = idx + 1;
    if (layerNode.number !== layer) {
      err("E020", layerNode.span, `layer ${layerNode.number} out of order: expected layer ${layer}`,
        "layers are numbered 1, 2, 3 … in order");
    }
    if (layerNode.heads.length === 0) err("E021", layerNode.span, `layer ${layerNode.number} has no heads`);
    if (layerNode.heads.length > LIMITS.headsPerLayer) {
      err("E021", layerNode.span, `layer ${layer} has ${layerNode.heads.length} heads (at most ${LIMITS.headsPerLayer})`);
    }
    const heads: Head[] = [];
    // Features this layer writes become visible only to later layers.
    const written: Feature[] = [];
    const writtenNames = new Set<string>();
    for (const h of layerNode.heads) {
      if (headNames.has(h.name)) err("E030", h.nameSpan, `duplicate head name '${h.name}'`);
      headNames.add(h.name);
      const head = checkHead(h, layer, context, features, writtenIn, err, composition);
      if (head.select.kind === "match" && (head.select.rule === "count" || head.select.conditions.some((c) => c.shift !== 0 || features.get(c.key)?.domain === "pos"))) {
        beyondInduction.push(head.name);
      }
      for (const c of h.copies) {
        const src = features.get(c.from.name);
        if (RESERVED.has(c.as)) err("E032", c.asSpan, `'${c.as}' is reserved and cannot name a feature`);
        else if (features.has(c.as) || writtenNames.has(c.as)) {
          err("E032", c.asSpan, `feature '${c.as}' is already defined`, "every feature is written by exactly one head");
        }
        writtenNames.add(c.as);
        written.push({
          name: c.as,
          domain: src?.domain ?? "token",
          distribution: (src?.distribution ?? false) || (h.select.kind === "match" && h.select.rule === "every"),
          layer,
          head: h.name,
          span: c.asSpan,
        });
      }
      heads.push(head);
    }
    for (const f of written) if (!features.has(f.name)) features.set(f.name, f);
    layers.push(heads);
  });

  let output = "";
  if (!ast.output) {
    err("E040", { start: ast.span.end, end: ast.span.end }, "program has no 'output' line", "end with e.g. 'output next'");
  } else {
    const f = features.get(ast.output.name);
    if (!f) err("E031", ast.output.span, `unknown feature '${ast.output.name}'`);
    else if (f.domain !== "token") {
      err("E041", ast.output.span, `output '${f.name}' holds positions, not tokens`, "the output predicts the next token");
    }
    output = ast.output.name;
  }

  if (errors.length) throw new ProgramError(source, errors, omitted);
  return { source, vocab, context, features, layers, output, composition, beyondInduction };
}

type Report = (code: string, span: Span, message: string, hint?: string) => void;

function checkVocab(ast: ProgramNode, err: Report): string[] {
  if (ast.vocab.length === 0) {
    err("E010", { start: 0, end: 1 }, "program declares no vocabulary", "add e.g. 'vocab a b c' or 'vocab 0..63'");
    return [];
  }
  for (const extra of ast.vocab.slice(1)) err("E010", extra.span, "vocabulary declared twice");
  const v = ast.vocab[0]!;
  let names: string[];
  if (v.kind === "range") {
    if (!Number.isSafeInteger(v.from) || !Number.isSafeInteger(v.to)) {
      err("E010", v.span, `vocabulary range ${v.from}..${v.to} uses numbers beyond 2^53`);
      return [];
    }
    if (v.to < v.from) {
      err("E010", v.span, `empty range ${v.from}..${v.to}`);
      return [];
    }
    if (v.to - v.from + 1 > LIMITS.vocab) {
      err("E010", v.span, `vocabulary of ${v.to - v.from + 1} tokens is too large (at most ${LIMITS.vocab})`);
      return [];
    }
    names = Array.from({ length: v.to - v.from + 1 }, (_, k) => String(v.from + k));
  } else {
    names = [];
    const seen = new Set<string>();
    for (const n of v.names) {
      if (seen.has(n.name)) err("E010", n.span, `token '${n.name}' declared twice`);
      seen.add(n.name);
      names.push(n.name);
    }
    if (names.length > LIMITS.vocab) err("E010", v.span, `vocabulary of ${names.length} tokens is too large (at most ${LIMITS.vocab})`);
  }
  return names;
}

function checkContext(ast: ProgramNode, err: Report): number {
  if (ast.context.length === 0) {
    err("E011", { start: 0, end: 1 }, "program declares no context length", "add e.g. 'context 64'");
    return 2;
  }
  for (const extra of ast.context.slice(1)) err("E011", extra.span, "context declared twice");
  const c = ast.context[0]!;
  if (c.value < 2 || c.value > LIMITS.context) {
    err("E011", c.span, `context ${c.value} out of range: it must be between 2 and ${LIMITS.context}`,
      "context counts positions including BOS");
    return Math.min(Math.max(c.value, 2), LIMITS.context);
  }
  return c.value;
}

function checkHead(
  h: HeadNode,
  layer: number,
  context: number,
  features: ReadonlyMap<string, Feature>,
  writtenIn: ReadonlyMap<string, number>,
  err: Report,
  composition: CompositionEdge[],
): Head {
  const edges = new Map<string, CompositionEdge>();
  const read = (ref: FeatureRefNode, side: "i" | "j", kind: "Q" | "K" | "V"): Feature | undefined => {
    const f = features.get(ref.name);
    const later = writtenIn.get(ref.name);
    if (!f && later !== undefined) {
      err("E033", ref.span, `feature '${ref.name}' is written in layer ${later} and cannot be read in layer ${layer}`,
        "a head reads only features written by earlier layers");
      return undefined;
    }
    if (!f) {
      err("E031", ref.span, `unknown feature '${ref.name}'`, `features defined before layer ${layer}: ${listSome(features.keys(), features.size)}`);
      return undefined;
    }
    if (f.layer >= layer) {
      err("E033", ref.span, `feature '${ref.name}' is written in layer ${f.layer} and cannot be read in layer ${layer}`,
        "a head reads only features written by earlier layers");
      return undefined;
    }
    if (ref.index !== side) {
      const what = kind === "V" ? "a copied value" : kind === "K" ? "the key side" : "the query side";
      err("E034", ref.span, `'${ref.name}[${ref.index}]' used as ${what}: write '${ref.name}[${side}]'`,
        "j is the key (attended) position, i the query position");
    }
    if (f.head) {
      const key = `${f.head}/${kind}/${f.name}`;
      if (!edges.has(key)) edges.set(key, { from: f.head, to: h.name, kind, feature: f.name });
    }
    return f;
  };

  let select: Selection;
  if (h.select.kind === "offset") {
    if (h.select.k >= context) err("E050", h.select.span, `offset ${h.select.k} reaches before the context (${context} positions)`);
    select = { kind: "offset", k: h.select.k };
  } else {
    const conditions: Condition[] = [];
    for (const eq of h.select.where) {
      const c = checkEquality(eq, read, err, context);
      if (c) conditions.push(c);
    }
    select = { kind: "match", rule: h.select.rule, strict: h.select.strict, conditions };
    if (h.select.rule === "count") checkCountLayers(h, layer, conditions, features, err);
  }
  const copies: Copy[] = h.copies.map((c) => {
    read(c.from, "j", "V");
    return { from: c.from.name, to: c.as };
  });
  composition.push(...edges.values());
  return { name: h.name, layer, select, copies, span: h.span };
}

/**
 * A count is two attention layers once compiled: the layer before it
 * averages over the matches and BOS to learn 1/(m+1), its own layer reads
 * that and attends to position m. So its conditions must be written two
 * layers before it, and layer 1 holds no count.
 */
function checkCountLayers(h: HeadNode, layer: number, conditions: readonly Condition[], features: ReadonlyMap<string, Feature>, err: Report): void {
  if (layer === 1) {
    err("E038", h.select.span, "a count cannot be in layer 1", "a count needs the layer before it: move the head to layer 2 or later");
    return;
  }
  for (const c of conditions) {
    for (const name of [c.key, c.query]) {
      const f = features.get(name);
      if (f && f.layer > layer - 2) {
        const eq = h.select.kind === "match" ? h.select.where.find((w) => w.left.ref.name === name || w.right.ref.name === name) : undefined;
        err("E038", eq?.span ?? h.select.span, `count in layer ${layer} compares '${name}', written in layer ${f.layer}: a count's conditions must be written by layer ${layer - 2}`,
          "a count takes two layers in the compiled model (the layer before it averages over the matches)");
        return;
      }
    }
  }
}

function checkEquality(
  eq: EqualityNode,
  read: (ref: FeatureRefNode, side: "i" | "j", kind: "Q" | "K" | "V") => Feature | undefined,
  err: Report,
  context: number,
): Condition | null {
  const sides = [eq.left.ref.index, eq.right.ref.index];
  if (sides[0] === sides[1]) {
    err("E034", eq.span, `both sides of '==' are indexed by ${sides[0]}`, "compare a key feature f[j] with a query feature g[i]");
    return null;
  }
  const [keyOp, queryOp] = eq.left.ref.index === "j" ? [eq.left, eq.right] : [eq.right, eq.left];
  const kf = read(keyOp.ref, "j", "K");
  const qf = read(queryOp.ref, "i", "Q");
  if (!kf || !qf) return null;
  for (const [f, op] of [[kf, keyOp], [qf, queryOp]] as const) {
    if (f.distribution) {
      err("E036", op.ref.span, `'${f.name}' is a distribution (written by an 'every' head) and cannot be compared`);
      return null;
    }
  }
  if (kf.domain !== qf.domain) {
    err("E035", eq.span, `cannot compare '${kf.name}' (${kf.domain}) with '${qf.name}' (${qf.domain})`,
      "both sides of '==' must range over the same domain");
    return null;
  }
  // Like offsets, shifts are positions: one of |context| or more can never match (and may not even be a safe integer).
  for (const op of [keyOp, queryOp]) {
    if (!(Math.abs(op.shift) < context)) {
      err("E050", op.span, `shift ${op.shift > 0 ? "+" : ""}${op.shift} is out of range: a shift must be less than the context (${context} positions)`);
      return null;
    }
  }
  // key + ks == query + qs  ⇔  key == query + (qs - ks)
  const shift = queryOp.shift - keyOp.shift;
  if (shift !== 0 && kf.domain !== "pos") {
    err("E037", eq.span, `a shift needs position-valued features, but '${kf.name}' holds tokens`);
    return null;
  }
  return { key: kf.name, query: qf.name, shift };
}

/** At most the first dozen names, then how many more: hints stay one short line. */
function listSome(names: Iterable<string>, count: number): string {
  const shown: string[] = [];
  for (const n of names) {
    if (shown.length === 12) break;
    shown.push(n);
  }
  return count > 12 ? `${shown.join(", ")}, … (${count - 12} more)` : shown.join(", ");
}

/** Parse and check program text in one step. */
export function load(source: Source): Program {
  return checkSyntax(source, parse(source));
}
