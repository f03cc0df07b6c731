/**
 * Programs edited as values: change the vocabulary or some heads of a checked
 * program and get a checked program back. The edit is printed and loaded
 * again (load(print(p)) ≡ p is a tested law), so the checker re-derives
 * everything downstream — features, layers, the composition graph — and
 * refuses an edit that makes an ill-formed program, exactly as it would the
 * text. No caller builds program text by string surgery.
 */
import { load } from "./check.ts";
import { printProgram } from "./print.ts";
import type { Rule } from "./ast.ts";
import type { Head, Program } from "./program.ts";

/** What to change. */
export interface ProgramEdit {
  readonly vocab?: readonly string[];
  readonly context?: number;
  /** Applied to every head (return the head unchanged to keep it). */
  readonly head?: (h: Head) => Head;
}

/** The program with the edit applied, checked again; `path` names it in diagnostics. */
export function editProgram(p: Program, edit: ProgramEdit, path = `${p.source.path} (edited)`): Program {
  const edited: Program = {
    ...p,
    vocab: edit.vocab ?? p.vocab,
    context: edit.context ?? p.context,
    layers: edit.head ? p.layers.map((heads) => heads.map(edit.head!)) : p.layers,
  };
  return load({ path, text: printProgram(edited) });
}

/** The same program with every match head's rule replaced (e.g. latest → earliest). */
export function withRule(p: Program, rule: Rule): Program {
  return editProgram(p, { head: (h) => (h.select.kind === "match" ? { ...h, select: { ...h.select, rule } } : h) });
}
