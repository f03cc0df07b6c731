/**
 * The untyped syntax tree the parser produces. Every node carries its source
 * span so the checker (and anything after it) can point back at the text.
 */

/** A half-open character range [start, end) in the source text. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export type Side = "i" | "j";

export interface FeatureRefNode {
  readonly name: string;
  readonly index: Side;
  readonly span: Span;
}

export interface OperandNode {
  readonly ref: FeatureRefNode;
  readonly shift: number;
  readonly span: Span;
}

export interface EqualityNode {
  readonly left: OperandNode;
  readonly right: OperandNode;
  readonly span: Span;
}

/** `count` selects the single key j = m, m the number of candidates that match (⊥ when none). */
export type Rule = "latest" | "earliest" | "every" | "count";

export type SelectNode =
  | { readonly kind: "offset"; readonly k: number; readonly span: Span }
  | {
      readonly kind: "match";
      readonly rule: Rule;
      readonly strict: boolean;
      readonly where: readonly EqualityNode[];
      readonly span: Span;
    };

export interface CopyNode {
  readonly from: FeatureRefNode;
  readonly as: string;
  readonly asSpan: Span;
}

export interface HeadNode {
  readonly name: string;
  readonly nameSpan: Span;
  readonly select: SelectNode;
  readonly copies: readonly CopyNode[];
  readonly span: Span;
}

export interface LayerNode {
  readonly number: number;
  readonly heads: readonly HeadNode[];
  readonly span: Span;
}

export type VocabNode =
  | { readonly kind: "range"; readonly from: number; readonly to: number; readonly span: Span }
  | { readonly kind: "names"; readonly names: readonly { name: string; span: Span }[]; readonly span: Span };

export interface ProgramNode {
  readonly vocab: readonly VocabNode[];
  readonly context: readonly { value: number; span: Span }[];
  readonly layers: readonly LayerNode[];
  readonly output: { readonly name: string; readonly span: Span } | null;
  readonly span: Span;
}
