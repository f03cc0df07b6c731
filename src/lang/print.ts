/**
 * Program → source text: the one printer. Whatever the checker accepted is
 * printed in the language of grammar/circuits.ohm so that loading the text
 * gives back the same checked program (same vocabulary, context, heads,
 * selections, conjuncts in order, copies, features and output) — the law
 * `load(print(p)) ≡ p` is property-tested on random programs.
 *
 * Conditions print in the normalised form the checker stores them in
 * (`key[j] == query[i] + shift`), so a program written `g[i] == f[j]` prints
 * as `f[j] == g[i]`: a different text, the same program.
 */
import type { Condition, Head, Program, Selection } from "./program.ts";

/** Options of {@link printProgram}. */
export interface PrintOptions {
  /** Comment lines printed first (each gets a leading `# `). */
  readonly header?: readonly string[];
}

/** A vocabulary as the range `0..9` when it is one, else its names. */
export function printVocab(vocab: readonly string[]): string {
  const first = Number(vocab[0]);
  const isRange =
    vocab.length > 1 && vocab.every((t, k) => /^[0-9]+$/.test(t) && Number(t) === first + k && String(first + k) === t);
  return isRange ? `${first}..${first + vocab.length - 1}` : vocab.join(" ");
}

const shiftText = (s: number): string => (s > 0 ? ` + ${s}` : s < 0 ? ` - ${-s}` : "");

/** One conjunct, key side first. */
export function printCondition(c: Condition): string {
  return `${c.key}[j] == ${c.query}[i]${shiftText(c.shift)}`;
}

/** A selection (`select …`) as text. */
export function printSelection(s: Selection): string {
  if (s.kind === "offset") return s.k === 0 ? "select j = i" : `select j = i - ${s.k}`;
  const where = s.conditions.length ? ` where ${s.conditions.map(printCondition).join(" and ")}` : "";
  return `select ${s.rule} j ${s.strict ? "<" : "<="} i${where}`;
}

/** A head line without indentation: `head NAME: select …; copy …`. */
export function printHead(h: Head): string {
  return `head ${h.name}: ${printSelection(h.select)}; copy ${h.copies.map((c) => `${c.from}[j] as ${c.to}`).join(", ")}`;
}

/** The whole program as source text, ending in a newline. */
export function printProgram(p: Program, opts: PrintOptions = {}): string {
  const lines = (opts.header ?? []).map((l) => `# ${l}`);
  lines.push(`vocab ${printVocab(p.vocab)}`, `context ${p.context}`);
  p.layers.forEach((heads, l) => {
    lines.push("", `layer ${l + 1}`);
    for (const h of heads) lines.push(`  ${printHead(h)}`);
  });
  lines.push("", `output ${p.output}`, "");
  return lines.join("\n");
}
