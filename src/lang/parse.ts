/**
 * Text → syntax tree. The grammar file is the single source of truth for the
 * syntax; this module only maps Ohm's parse tree onto `ast.ts` nodes, keeping
 * each node's span. A failed match never reaches the semantics: it becomes a
 * located `ProgramError` (Ohm's rightmost-failure position and expectation).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as ohm from "ohm-js";
import type {
  CopyNode,
  EqualityNode,
  FeatureRefNode,
  HeadNode,
  LayerNode,
  OperandNode,
  ProgramNode,
  Rule,
  SelectNode,
  Side,
  Span,
  VocabNode,
} from "./ast.ts";
import { ProgramError, type Source } from "./diagnostics.ts";

const grammarPath = fileURLToPath(new URL("../../grammar/circuits.ohm", import.meta.url));

/** The language's Ohm grammar, loaded once from grammar/circuits.ohm. */
export const grammar: ohm.Grammar = ohm.grammar(readFileSync(grammarPath, "utf8"));

const spanOf = (n: ohm.Node): Span => ({ start: n.source.startIdx, end: n.source.endIdx });

const semantics = grammar.createSemantics().addOperation<unknown>("ast", {
  Program(headers, layers, output) {
    const hs = headers.children.map((h) => h.ast() as VocabNode | { value: number; span: Span });
    return {
      vocab: hs.filter((h): h is VocabNode => "kind" in h),
      context: hs.filter((h): h is { value: number; span: Span } => !("kind" in h)),
      layers: layers.children.map((l) => l.ast()),
      output: output.children.length ? output.children[0].ast() : null,
      span: spanOf(this),
    } satisfies ProgramNode;
  },
  Header(h) {
    return h.ast();
  },
  VocabDecl_range(_kw, from, _dots, to) {
    return { kind: "range", from: from.ast(), to: to.ast(), span: spanOf(this) } satisfies VocabNode;
  },
  VocabDecl_names(_kw, names) {
    return {
      kind: "names",
      names: names.children.map((n) => ({ name: n.sourceString, span: spanOf(n) })),
      span: spanOf(this),
    } satisfies VocabNode;
  },
  ContextDecl(_kw, n) {
    return { value: n.ast(), span: spanOf(n) };
  },
  Layer(_kw, n, heads) {
    return { number: n.ast(), heads: heads.children.map((h) => h.ast()), span: spanOf(this) } satisfies LayerNode;
  },
  Head(_kw, name, _colon, select, _semi, copy) {
    return {
      name: name.sourceString,
      nameSpan: spanOf(name),
      select: select.ast(),
      copies: copy.ast(),
      span: spanOf(this),
    } satisfies HeadNode;
  },
  Select_offset(_kw, _j, _eq, _i, offset) {
    const k = offset.children.length ? (offset.children[0].ast() as number) : 0;
    return { kind: "offset", k, span: spanOf(this) } satisfies SelectNode;
  },
  Select_match(_kw, rule, _j, bound, _i, where) {
    return {
      kind: "match",
      rule: rule.sourceString as Rule,
      strict: bound.sourceString === "<",
      where: where.children.length ? (where.children[0].ast() as EqualityNode[]) : [],
      span: spanOf(this),
    } satisfies SelectNode;
  },
  Offset(_minus, n) {
    return n.ast();
  },
  Where(_kw, list) {
    return list.asIteration().children.map((c) => c.ast());
  },
  Equality(left, _eq, right) {
    return { left: left.ast(), right: right.ast(), span: spanOf(this) } satisfies EqualityNode;
  },
  Operand(ref, shift) {
    return {
      ref: ref.ast(),
      shift: shift.children.length ? (shift.children[0].ast() as number) : 0,
      span: spanOf(this),
    } satisfies OperandNode;
  },
  Shift(sign, n) {
    return sign.sourceString === "-" ? -(n.ast() as number) : (n.ast() as number);
  },
  FeatureRef(name, _open, index, _close) {
    return { name: name.sourceString, index: index.sourceString as Side, span: spanOf(this) } satisfies FeatureRefNode;
  },
  Copy(_kw, list) {
    return list.asIteration().children.map((c) => c.ast());
  },
  CopyItem(from, _as, name) {
    return { from: from.ast(), as: name.sourceString, asSpan: spanOf(name) } satisfies CopyNode;
  },
  Output(_kw, name) {
    return { name: name.sourceString, span: spanOf(name) };
  },
  number(_digits) {
    return Number(this.sourceString);
  },
});

/** Parse program text into a syntax tree, or throw a located ProgramError. */
export function parse(source: Source): ProgramNode {
  const match = grammar.match(source.text);
  if (match.failed()) {
    const at = match.getRightmostFailurePosition();
    // shortMessage is "Line L, col C: expected …"; we print our own location.
    const expected = match.shortMessage?.replace(/^Line \d+, col \d+: /, "") ?? "syntax error";
    throw new ProgramError(source, [{ code: "E001", message: `syntax: ${expected}`, span: { start: at, end: at + 1 } }]);
  }
  return semantics(match).ast() as ProgramNode;
}
