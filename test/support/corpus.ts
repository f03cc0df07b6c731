/**
 * The shared case corpus: (program, input, expected predictions), worked out
 * by hand from the language's rules (README, "The language") — never copied from an implementation.
 * Every stage (symbolic semantics, compiled weights, simulator) is tested
 * against this one table, as tracr tests every stage against test_cases.py.
 *
 * Conventions. Positions are 1-based: position 0 is BOS, the input's k-th
 * token (k from 0) sits at position k+1, and `predictions[k]` is the output
 * feature at position k+1 (the prediction for the token after it). An
 * expected value is
 *   - null: ⊥ (no value),
 *   - a string: a token name,
 *   - a number: a position (for position-valued features),
 *   - an object {token: "p/q"}: an exact (sub-)distribution; tokens with
 *     probability 0 are left out.
 * `features` optionally pins intermediate features the same way.
 *
 * The rules used in the derivations (the language's rules, README "The language"):
 *   BOS   every feature at position 0 is ⊥; a match never selects j = 0;
 *         `j = i - k` reaching 0 copies ⊥; no match ⇒ the head's outputs are ⊥.
 *   ⊥     a `where` equality with ⊥ on either side is false.
 *   every the uniform average over the selected j; a ⊥ value carries no mass,
 *         so the result is a sub-distribution (and ⊥ if no mass at all).
 */
import type { DomainKind, Program } from "../../src/lang/program.ts";
import { frac, type Value } from "../../src/semantics/values.ts";
import { loadProgram, loadSource } from "./programs.ts";

/** A hand-derived value: ⊥, a token name, a position, or {token: "p/q"}. */
export type Expected = null | string | number | { readonly [token: string]: string };

export interface CorpusCase {
  /** Unique and readable: "program/what it shows". */
  readonly name: string;
  /** A file in programs/ (without .circ), or a key of INLINE_PROGRAMS. */
  readonly program: string;
  /** Token names; BOS is implicit. */
  readonly input: readonly string[];
  /** The output feature at positions 1 … input.length. */
  readonly predictions: readonly Expected[];
  /** Other features at positions 1 … input.length. */
  readonly features?: Readonly<Record<string, readonly Expected[]>>;
  /** The hand derivation, or what the case is for. */
  readonly why: string;
}

/**
 * Small programs for edge cases the examples in programs/ do not reach:
 * pointers that land on BOS, on i itself or past the context, `every` over
 * ⊥ values, copied distributions, offsets 0 and context-1, empty `where`.
 */
export const INLINE_PROGRAMS: Readonly<Record<string, string>> = {
  "unigram-every": `# the empirical distribution of tokens so far, current one included
vocab a b c
context 8

layer 1
  head counts: select every j <= i; copy token[j] as freq

output freq
`,
  "every-sub-distribution": `# averaging a feature that is ⊥ at position 1: mass below 1
vocab a b c
context 8

layer 1
  head previous: select j = i - 1; copy token[j] as prev

layer 2
  head mean: select every j <= i; copy prev[j] as mix

output mix
`,
  "copy-distribution": `# an offset head copying a distribution written by an every head
vocab a b
context 8

layer 1
  head counts: select every j < i; copy token[j] as past

layer 2
  head back: select j = i - 1; copy past[j] as lagged

output lagged
`,
  "pointer-before": `# Q-composition whose pointer (seen - 1) can land on BOS
vocab a b c
context 8

layer 1
  head seen: select latest j < i where token[j] == token[i]; copy pos[j] as seen

layer 2
  head before: select latest j < i where pos[j] == seen[i] - 1; copy token[j] as prior

output prior
`,
  "pointer-strict-self": `# q-composition with a strict bound: a pointer to i itself selects nothing
vocab a b
context 4

layer 1
  head seen: select latest j < i where token[j] == token[i]; copy pos[j] as seen

layer 2
  head after: select latest j < i where pos[j] == seen[i] + 1; copy token[j] as next

output next
`,
  "pointer-past-end": `# a pointer i + 1 is never <= i, and at the last position it leaves the context
vocab a b
context 4

layer 1
  head here: select latest j <= i where token[j] == token[i]; copy pos[j] as here

layer 2
  head ahead: select latest j <= i where pos[j] == here[i] + 1; copy token[j] as next

output next
`,
  "offset-edges": `# offsets 0 (the position itself) and context-1 (always BOS)
vocab a b c
context 6

layer 1
  head here: select j = i; copy token[j] as same
  head far: select j = i - 5; copy token[j] as far

output same
`,
  "first-token": `# an empty where clause selects every earlier position
vocab a b c
context 8

layer 1
  head first: select earliest j < i; copy token[j] as first

output first
`,
};

const words = (s: string): string[] => (s === "" ? [] : s.split(" "));

/** Build a case from space-separated input text. */
function c(
  name: string,
  program: string,
  input: string,
  predictions: Expected[],
  why: string,
  features?: Record<string, Expected[]>,
): CorpusCase {
  const tokens = words(input);
  if (predictions.length !== tokens.length) throw new Error(`corpus case ${name}: ${predictions.length} predictions for ${tokens.length} tokens`);
  for (const [f, vs] of Object.entries(features ?? {})) {
    if (vs.length !== tokens.length) throw new Error(`corpus case ${name}: feature ${f} has ${vs.length} values for ${tokens.length} tokens`);
  }
  return features ? { name, program, input: tokens, predictions, features, why } : { name, program, input: tokens, predictions, why };
}

const _ = null;

export const CORPUS: readonly CorpusCase[] = [
  // ── induction: at i, the latest j < i with prev[j] = token[j-1] == token[i];
  //    prev[1] = ⊥, so j ≥ 2, i.e. an earlier occurrence m = j-1 ≤ i-2.
  c("induction/empty", "induction", "", [], "no positions besides BOS"),
  c("induction/one-token", "induction", "a", [_], "j < 1 leaves only BOS: fallback, ⊥"),
  c("induction/abcd-abc", "induction", "a b c d a b c", [_, _, _, _, "b", "c", "d"],
    "at 5 (a) j=2 has prev a → b; at 6 j=3 → c; at 7 j=4 → d",
    { prev: [_, "a", "b", "c", "d", "a", "b"] }),
  c("induction/adjacent-repeat", "induction", "a a", [_, _],
    "at 2, j=1 has prev ⊥ (BOS carries no value) and j=2 is not < 2"),
  c("induction/triple", "induction", "a a a", [_, _, "a"], "at 3, j=2 has prev a → token[2] = a"),
  c("induction/latest-wins", "induction", "a b a c a", [_, _, "b", _, "c"],
    "at 5 (a), j=2 (→ b) and j=4 (→ c) match; latest is 4"),
  c("induction/three-matches", "induction", "c a c b c d c", [_, _, "a", _, "b", _, "d"],
    "c at 1, 3, 5: at 7 the latest match is j=6 → d; at 5 it is j=4 → b"),
  c("induction/long-gap", "induction", "h g f e d c b a h", [_, _, _, _, _, _, _, _, "g"],
    "only repeat: h at 9 matches j=2 (prev h) → g"),

  // ── induction-earliest: the first such j.
  c("induction-earliest/empty", "induction-earliest", "", [], "no positions"),
  c("induction-earliest/one-token", "induction-earliest", "e", [_], "BOS fallback"),
  c("induction-earliest/earliest-wins", "induction-earliest", "a b a c a", [_, _, "b", _, "b"],
    "at 5, j=2 (→ b) and j=4 (→ c) match; earliest is 2"),
  c("induction-earliest/three-matches", "induction-earliest", "c a c b c d c", [_, _, "a", _, "a", _, "a"],
    "every repeat of c goes back to j=2 → a"),
  c("induction-earliest/run", "induction-earliest", "b b b b", [_, _, "b", "b"],
    "at 2 only j=1 (prev ⊥); at 3 and 4 earliest j=2 → b"),

  // ── previous-token: prev[i] = token[i-1], ⊥ at 1 (j = 0 is BOS).
  c("previous-token/empty", "previous-token", "", [], "no positions"),
  c("previous-token/one-token", "previous-token", "h", [_], "j = 0 is BOS: ⊥"),
  c("previous-token/abc", "previous-token", "a b c", [_, "a", "b"], "a shift by one"),
  c("previous-token/repeat", "previous-token", "c c", [_, "c"], "copies, whatever the token"),
  c("previous-token/whole-vocab", "previous-token", "a b c d e f g h", [_, "a", "b", "c", "d", "e", "f", "g"], "a shift by one"),

  // ── v-composition: prev3[i] = prev[i-2] = token[i-3], ⊥ for i ≤ 3.
  c("v-composition/empty", "v-composition", "", [], "no positions"),
  c("v-composition/one-token", "v-composition", "a", [_], "j = -1: nothing, ⊥"),
  c("v-composition/three", "v-composition", "a b c", [_, _, _],
    "at 3, j=1 and prev[1] = ⊥: ⊥ passes through the copy"),
  c("v-composition/five", "v-composition", "a b c d e", [_, _, _, "a", "b"], "token[i-3]",
    { prev: [_, "a", "b", "c", "d"] }),
  c("v-composition/reverse", "v-composition", "h g f e d c b a", [_, _, _, "h", "g", "f", "e", "d"], "token[i-3]"),

  // ── duplicate-token: latest j < i with token[j] == token[i]; before = prev[j].
  c("duplicate-token/empty", "duplicate-token", "", [], "no positions"),
  c("duplicate-token/one-token", "duplicate-token", "a", [_], "BOS fallback"),
  c("duplicate-token/copy-bos-value", "duplicate-token", "a b a", [_, _, _],
    "at 3 the duplicate is j=1 whose prev is ⊥"),
  c("duplicate-token/cab-a", "duplicate-token", "c a b a", [_, _, _, "c"], "at 4, j=2, prev[2] = c"),
  c("duplicate-token/adjacent", "duplicate-token", "a a", [_, _], "at 2, j=1, prev[1] = ⊥"),
  c("duplicate-token/adjacent-after", "duplicate-token", "b a a", [_, _, "b"], "at 3, j=2, prev[2] = b"),
  c("duplicate-token/latest", "duplicate-token", "c a d a e a", [_, _, _, "c", _, "d"],
    "at 6, duplicates j=2 and j=4: latest 4, prev[4] = d"),

  // ── every-average: every j < i with prev[j] == token[i]: successors of token[i].
  c("every-average/empty", "every-average", "", [], "no positions"),
  c("every-average/one-token", "every-average", "a", [_], "nothing selected: ⊥"),
  c("every-average/adjacent", "every-average", "a a", [_, _], "at 2, j=1 has prev ⊥: nothing selected"),
  c("every-average/tie", "every-average", "a b a c a", [_, _, { b: "1" }, _, { b: "1/2", c: "1/2" }],
    "at 5, j=2 (b) and j=4 (c): a tie, 1/2 each"),
  c("every-average/thirds", "every-average", "a b a b a c a", [_, _, { b: "1" }, { a: "1" }, { b: "1" }, _, { b: "2/3", c: "1/3" }],
    "at 7, successors of a at 2, 4, 6 are b, b, c"),
  c("every-average/run", "every-average", "a a a a", [_, _, { a: "1" }, { a: "1" }],
    "at 4, j=2 and j=3 both carry a"),
  c("every-average/uniform", "every-average", "d a d b d c d",
    [_, _, { a: "1" }, _, { a: "1/2", b: "1/2" }, _, { a: "1/3", b: "1/3", c: "1/3" }],
    "successors of d: a, then a b, then a b c"),

  // ── q-composition: seen[i] = latest m < i with token[m] == token[i];
  //    next[i] = token[j] for the latest j ≤ i with pos[j] == seen[i] + 1.
  c("q-composition/empty", "q-composition", "", [], "no positions"),
  c("q-composition/one-token", "q-composition", "a", [_], "seen ⊥, so the where clause is false: ⊥", { seen: [_] }),
  c("q-composition/abcd-abc", "q-composition", "a b c d a b c", [_, _, _, _, "b", "c", "d"],
    "pointers 2, 3, 4: the same as induction here", { seen: [_, _, _, _, 1, 2, 3] }),
  c("q-composition/pointer-to-self", "q-composition", "a a", [_, "a"],
    "at 2, seen = 1, pointer 2 = i, allowed by <=: copies token[2] (induction gives ⊥)", { seen: [_, 1] }),
  c("q-composition/adjacent-repeat", "q-composition", "a b a a", [_, _, "b", "a"],
    "at 4, seen = 3 (latest), pointer 4 = i → a (induction gives b)", { seen: [_, _, 1, 3] }),
  c("q-composition/bab", "q-composition", "b a b", [_, _, "a"], "at 3, seen = 1 → token[2] = a", { seen: [_, _, 1] }),

  // ── bigram-induction: latest j < i with token[j-1] == token[i] and
  //    token[j-2] == token[i-1] (so j ≥ 3 and i ≥ 2); copy token[j].
  c("bigram-induction/empty", "bigram-induction", "", [], "no positions"),
  c("bigram-induction/one-token", "bigram-induction", "a", [_], "prev[1] = ⊥: no match"),
  c("bigram-induction/two", "bigram-induction", "a b", [_, _], "needs j ≥ 3"),
  c("bigram-induction/abcab", "bigram-induction", "a b c a b", [_, _, _, _, "c"], "at 5 (a b), j=3 (after a b) → c"),
  c("bigram-induction/beats-unigram", "bigram-induction", "a b c d b a b", [_, _, _, _, _, _, "c"],
    "at 7 (a b): j=3 matches both; j=6 has token[5] = b but token[4] = d ≠ a. Unigram induction would say a",
    { prev: [_, "a", "b", "c", "d", "b", "a"], prev2: [_, _, "a", "b", "c", "d", "b"] }),
  c("bigram-induction/run", "bigram-induction", "a a a a", [_, _, _, "a"], "at 4, j=3 is the only j ≥ 3 below 4"),
  c("bigram-induction/alternating", "bigram-induction", "a b a b a b", [_, _, _, "a", "b", "a"],
    "at 4 j=3 → a; at 5 j=4 → b; at 6 j=5 → a"),

  // ── inline edge-case programs.
  c("unigram-every/empty", "unigram-every", "", [], "no positions"),
  c("unigram-every/one-token", "unigram-every", "c", [{ c: "1" }], "j <= 1 selects position 1 itself"),
  c("unigram-every/tie", "unigram-every", "a b a", [{ a: "1" }, { a: "1/2", b: "1/2" }, { a: "2/3", b: "1/3" }],
    "counts of a and b over positions 1 … i"),
  c("unigram-every/thirds", "unigram-every", "a b c", [{ a: "1" }, { a: "1/2", b: "1/2" }, { a: "1/3", b: "1/3", c: "1/3" }],
    "three-way tie"),
  c("every-sub-distribution/one-token", "every-sub-distribution", "a", [_], "j=1 selected, prev[1] = ⊥: no mass at all"),
  c("every-sub-distribution/mass-below-one", "every-sub-distribution", "a b c", [_, { a: "1/2" }, { a: "1/3", b: "1/3" }],
    "at 3, prev over 1..3 is ⊥, a, b: each 1/3, mass 2/3"),
  c("copy-distribution/lagged", "copy-distribution", "a b b a", [_, _, { a: "1" }, { a: "1/2", b: "1/2" }],
    "past = ⊥, {a:1}, {a:1/2,b:1/2}, {a:1/3,b:2/3}; lagged[i] = past[i-1]",
    { past: [_, { a: "1" }, { a: "1/2", b: "1/2" }, { a: "1/3", b: "2/3" }] }),
  c("pointer-before/to-bos", "pointer-before", "a b a", [_, _, _], "at 3 seen = 1, pointer 0 is BOS: never selected",
    { seen: [_, _, 1] }),
  c("pointer-before/to-first", "pointer-before", "b a c a", [_, _, _, "b"], "at 4 seen = 2, pointer 1 → b", { seen: [_, _, _, 2] }),
  c("pointer-before/run", "pointer-before", "a a a", [_, _, "a"], "seen 1, 2: pointers 0 (BOS) and 1", { seen: [_, 1, 2] }),
  c("pointer-strict-self/self", "pointer-strict-self", "a a", [_, _], "pointer 2 = i is not < i", { seen: [_, 1] }),
  c("pointer-strict-self/before", "pointer-strict-self", "a b a", [_, _, "b"], "pointer 2 < 3 → b"),
  c("pointer-strict-self/full-context", "pointer-strict-self", "b a a", [_, _, _], "at 3 pointer 3 = i: ⊥"),
  c("pointer-past-end/all-bot", "pointer-past-end", "a b a", [_, _, _],
    "here[i] = i; pointer i+1 > i, and at 3 it is 4 = context (no such position)", { here: [1, 2, 3] }),
  c("offset-edges/identity", "offset-edges", "c a b c a", ["c", "a", "b", "c", "a"],
    "j = i copies the token itself; j = i-5 is ≤ 0 for every i ≤ 5", { far: [_, _, _, _, _] }),
  c("first-token/first", "first-token", "b c a", [_, "b", "b"], "earliest j < i with no condition is 1"),
  c("first-token/empty", "first-token", "", [], "no positions"),
];

/** Load a corpus program: an INLINE_PROGRAMS entry or programs/NAME.circ. */
export function corpusProgram(name: string): Program {
  const inline = INLINE_PROGRAMS[name];
  return inline === undefined ? loadProgram(name) : loadCached(name, inline);
}

const inlineLoaded = new Map<string, Program>();
function loadCached(name: string, text: string): Program {
  let p = inlineLoaded.get(name);
  if (!p) {
    p = loadSource(text, `<corpus:${name}>`);
    inlineLoaded.set(name, p);
  }
  return p;
}

/** Token names → vocabulary indices (throws on an unknown name). */
export function encodeNames(program: Program, names: readonly string[]): number[] {
  return names.map((n) => {
    const t = program.vocab.indexOf(n);
    if (t < 0) throw new Error(`token '${n}' is not in the vocabulary ${program.vocab.join(" ")}`);
    return t;
  });
}

/** An expected value as a semantic Value of the given domain. */
export function expectedValue(program: Program, domain: DomainKind, e: Expected): Value {
  if (e === null) return null;
  if (typeof e === "number") {
    if (domain !== "pos") throw new Error(`expected a token, got position ${e}`);
    return e;
  }
  if (typeof e === "string") {
    if (domain !== "token") throw new Error(`expected a position, got token '${e}'`);
    return encodeNames(program, [e])[0]!;
  }
  const m = new Map<number, ReturnType<typeof frac>>();
  for (const [name, p] of Object.entries(e)) {
    const [num, den = "1"] = p.split("/");
    m.set(encodeNames(program, [name])[0]!, frac(Number(num), Number(den)));
  }
  return m;
}
