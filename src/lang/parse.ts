/**
 * Text → syntax tree. The grammar file is the single source of truth for the
 * syntax; this module only maps Ohm's parse tree onto `ast.ts` nodes, keeping
 * each node's span. A failed match never reaches the semantics: it becomes a
 * located `ProgramError` (Ohm's rightmost-failure position and expectation).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type * as ohm from "ohm-js";
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
import { compact, firstControl } from "./compact.ts";
import { ProgramError, type Source } from "./diagnostics.ts";
import { buildGrammar } from "./grammarRecipe.ts";

/**
 * Size limits on program text, checked before Ohm sees it: Ohm needs about
 * 1 KB of memory and, on a loaded 2-core machine, some 40 µs of CPU per
 * character it parses, so 32 KiB keeps a parse under ~1.5 s and 200 MB.
 * `text` bounds the whole text; `tokens` what is left once comments and
 * blank space are collapsed.
 */
export const SOURCE_LIMITS = { text: 1 << 20, tokens: 32 * 1024 } as const;

const grammarPath = fileURLToPath(new URL("../../grammar/circuits.ohm", import.meta.url));

/** The language's Ohm grammar, loaded once from grammar/circuits.ohm. */
export const grammar: ohm.Grammar = buildGrammar(readFileSync(grammarPath, "utf8"));

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
  const text = source.text;
  if (text.length > SOURCE_LIMITS.text) {
    throw new ProgramError(source, [{
      code: "E003",
      message: `program text is ${text.length} characters long (at most ${SOURCE_LIMITS.text})`,
      span: { start: SOURCE_LIMITS.text, end: SOURCE_LIMITS.text + 1 },
    }]);
  }
  const control = firstControl(text);
  if (control) {
    const hex = control.code.toString(16).toUpperCase().padStart(4, "0");
    throw new ProgramError(source, [{
      code: "E002",
      message: `control character U+${hex} is not allowed in a program`,
      span: { start: control.offset, end: control.offset + 1 },
      hint: "a program is plain text: names, numbers, punctuation, spaces, tabs and newlines",
    }]);
  }
  const c = compact(text);
  if (c.text.length > SOURCE_LIMITS.tokens) {
    const at = c.toOriginal(SOURCE_LIMITS.tokens);
    throw new ProgramError(source, [{
      code: "E003",
      message: `program is ${c.text.length} characters long without comments and blank space (at most ${SOURCE_LIMITS.tokens})`,
      span: { start: at, end: at + 1 },
    }]);
  }
  const match = grammar.match(c.text);
  if (match.failed()) {
    const at = c.toOriginal(match.getRightmostFailurePosition());
    // shortMessage is "Line L, col C: expected …"; we print our own location.
    const expected = match.shortMessage?.replace(/^Line \d+, col \d+: /, "") ?? "syntax error";
    throw new ProgramError(source, [{ code: "E001", message: `syntax: ${expected}`, span: { start: at, end: at + 1 } }]);
  }
  return remapSpans(semantics(match).ast() as ProgramNode, c.spanToOriginal);
}

const SPAN_KEYS = new Set(["span", "nameSpan", "asSpan"]);

/** Every span in the tree, mapped from compact to original offsets (the tree is fresh, so in place). */
function remapSpans<T>(node: T, map: (s: Span) => Span): T {
  if (Array.isArray(node)) {
    for (const x of node) remapSpans(x, map);
  } else if (node !== null && typeof node === "object") {
    const rec = node as Record<string, unknown>;
    for (const [k, v] of Object.entries(rec)) {
      if (SPAN_KEYS.has(k)) rec[k] = map(v as Span);
      else if (typeof v === "object") remapSpans(v, map);
    }
  }
  return node;
}
