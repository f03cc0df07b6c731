/**
 * The checked, typed, layered program: what the checker produces and every
 * later stage (semantics, compiler, analyses) consumes. Names are resolved,
 * sides are normalised (key feature at j, query feature at i) and the
 * composition graph is explicit.
 */
import type { Rule, Span } from "./ast.ts";
import type { Source } from "./diagnostics.ts";

/** Value domain of a categorical feature: vocabulary tokens or positions. */
export type DomainKind = "token" | "pos";

export interface Feature {
  readonly name: string;
  readonly domain: DomainKind;
  /** Written by an `every` head (directly or by copying one): a (sub-)distribution. */
  readonly distribution: boolean;
  /** 0 for the built-ins `token` and `pos`. */
  readonly layer: number;
  /** The head that writes it; null for built-ins. */
  readonly head: string | null;
  readonly span: Span | null;
}

/** One conjunct of a match: key[j] == query[i] + shift. */
export interface Condition {
  readonly key: string;
  readonly query: string;
  readonly shift: number;
}

export type Selection =
  | { readonly kind: "offset"; readonly k: number }
  | { readonly kind: "match"; readonly rule: Rule; readonly strict: boolean; readonly conditions: readonly Condition[] };

export interface Copy {
  readonly from: string;
  readonly to: string;
}

export interface Head {
  readonly name: string;
  readonly layer: number;
  readonly select: Selection;
  readonly copies: readonly Copy[];
  readonly span: Span;
}

export type CompositionKind = "Q" | "K" | "V";

/** Head `to` reads, on the given side, feature `feature` written by head `from`. */
export interface CompositionEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: CompositionKind;
  readonly feature: string;
}

export interface Program {
  readonly source: Source;
  readonly vocab: readonly string[];
  /** n_ctx: positions 0 … context-1, position 0 being BOS; inputs hold ≤ context-1 tokens. */
  readonly context: number;
  /** Built-ins first, then features in the order heads write them. */
  readonly features: ReadonlyMap<string, Feature>;
  /** layers[ℓ-1] holds the heads of `layer ℓ`. */
  readonly layers: readonly (readonly Head[])[];
  readonly output: string;
  readonly composition: readonly CompositionEdge[];
  /** Heads that compare positions with a constant shift: beyond pure induction. */
  readonly beyondInduction: readonly string[];
}

/** Number of values a feature's domain holds (vocabulary size or context length). */
export function domainSize(program: Program, domain: DomainKind): number {
  return domain === "token" ? program.vocab.length : program.context;
}

/** Every head in layer order. */
export function allHeads(program: Program): Head[] {
  return program.layers.flat();
}

/** The name a domain value prints as: a token name, or a position number. */
export function valueName(program: Program, domain: DomainKind, v: number): string {
  return domain === "token" ? program.vocab[v]! : String(v);
}
