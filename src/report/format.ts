/** Printing decoded values and disagreements, for people and as JSON. */
import type { Decoded } from "../compiler/decode.ts";
import type { DomainKind, Program } from "../lang/program.ts";
import { valueName } from "../lang/program.ts";
import { formatValue, valueToJson } from "../semantics/values.ts";
import type { Disagreement } from "../verify/compare.ts";

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** JSON form of a decoded value, shaped like valueToJson's. */
export function decodedToJson(program: Program, domain: DomainKind, d: Decoded): null | string | Record<string, number> {
  if (d === null) return null;
  if (typeof d === "number") return valueName(program, domain, d);
  return Object.fromEntries([...d].sort((a, b) => a[0] - b[0]).map(([k, p]) => [valueName(program, domain, k), round(p)]));
}

/** Human form of a decoded value: ⊥, a name, or {a: 0.5, …}. */
export function formatDecoded(program: Program, domain: DomainKind, d: Decoded): string {
  if (d === null || typeof d === "number") return d === null ? "⊥" : valueName(program, domain, d);
  return `{${[...d].sort((a, b) => a[0] - b[0]).map(([k, p]) => `${valueName(program, domain, k)}: ${round(p)}`).join(", ")}}`;
}

function domainOf(program: Program, feature: string): DomainKind {
  return program.features.get(feature)?.domain ?? "token";
}

/** A disagreement as JSON: the input, where, and both values. */
export function disagreementToJson(program: Program, d: Disagreement): unknown {
  const dom = domainOf(program, d.feature === "logits" ? program.output : d.feature);
  return {
    program: program.source.path,
    input: d.tokens.map((t) => program.vocab[t]),
    position: d.position,
    layer: d.layer,
    feature: d.feature,
    symbolic: valueToJson(program, dom, d.symbolic),
    decoded: decodedToJson(program, dom, d.decoded),
  };
}

/** A disagreement as a few readable lines. */
export function formatDisagreement(program: Program, d: Disagreement): string {
  const dom = domainOf(program, d.feature === "logits" ? program.output : d.feature);
  return [
    `first disagreement in ${program.source.path}:`,
    `  input     ${d.tokens.map((t) => program.vocab[t]).join(" ")}`,
    `  position  ${d.position} (token ${program.vocab[d.tokens[d.position - 1]!]})`,
    `  layer     ${d.layer}${d.feature === "logits" ? " (unembedding)" : ""}`,
    `  feature   ${d.feature}`,
    `  symbolic  ${formatValue(program, dom, d.symbolic)}`,
    `  decoded   ${formatDecoded(program, dom, d.decoded)}`,
  ].join("\n");
}
