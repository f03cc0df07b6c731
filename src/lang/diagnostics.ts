/**
 * Located diagnostics: a code, a one-line message, the source line with a
 * caret under the offending text, and an optional hint. Every static error in
 * the language is one of these, so the CLI and the library print alike.
 */
import type { Span } from "./ast.ts";

/** A program's text and the name it is reported under. */
export interface Source {
  readonly path: string;
  readonly text: string;
}

export interface Diagnostic {
  readonly code: string;
  readonly message: string;
  readonly span: Span;
  readonly hint?: string;
}

/** 1-based line and column of a character offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text[k] === "\n") {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** `path:line:col: error CODE: message`, the excerpt with a caret, and the hint. */
export function formatDiagnostic(source: Source, d: Diagnostic): string {
  const { line, column } = lineAndColumn(source.text, d.span.start);
  const lineText = source.text.split("\n")[line - 1] ?? "";
  const width = Math.max(1, Math.min(d.span.end, d.span.start + lineText.length - column + 1) - d.span.start);
  const gutter = `${line} | `;
  const out = [
    `${source.path}:${line}:${column}: error ${d.code}: ${d.message}`,
    `  ${gutter}${lineText}`,
    `  ${" ".repeat(gutter.length + column - 1)}${"^".repeat(width)}`,
  ];
  if (d.hint) out.push(`  hint: ${d.hint}`);
  return out.join("\n");
}

/** Diagnostics sorted by position, formatted one after another. */
export function formatDiagnostics(source: Source, ds: readonly Diagnostic[]): string {
  return [...ds]
    .sort((a, b) => a.span.start - b.span.start)
    .map((d) => formatDiagnostic(source, d))
    .join("\n");
}

/** Thrown by `parse`/`check`/`load` when a program has static errors. */
export class ProgramError extends Error {
  constructor(
    readonly source: Source,
    readonly diagnostics: readonly Diagnostic[],
  ) {
    super(formatDiagnostics(source, diagnostics));
    this.name = "ProgramError";
  }
}
