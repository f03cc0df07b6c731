/**
 * Located diagnostics: a code, a one-line message, the source line with a
 * caret under the offending text, and an optional hint. Every static error in
 * the language is one of these, so the CLI and the library print alike.
 */
import type { Span } from "./ast.ts";
import { CircuitsError } from "../errors.ts";

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

/** At most this many diagnostics are printed; the rest are counted. */
export const MAX_PRINTED_DIAGNOSTICS = 50;
/** Excerpts of longer lines show a window of this many characters around the error. */
const EXCERPT_WIDTH = 120;

/** `s` with control characters (C0 but tab, DEL, C1, ESC sequences included) escaped as \xNN, so nothing reaches a terminal raw. */
export function escapeControls(s: string): string {
  return s.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\ufeff]/g, (ch) => {
    const c = ch.charCodeAt(0);
    return c <= 0xff ? `\\x${c.toString(16).padStart(2, "0")}` : `\\u${c.toString(16).padStart(4, "0")}`;
  });
}

/** The excerpt of one line around `column` (1-based), escaped, and the caret's column in it. */
function excerpt(lineText: string, column: number, width: number): { text: string; caretAt: number; caretWidth: number } {
  let from = 0;
  let to = lineText.length;
  if (lineText.length > EXCERPT_WIDTH) {
    from = Math.max(0, Math.min(column - 1 - EXCERPT_WIDTH / 2, lineText.length - EXCERPT_WIDTH));
    to = from + EXCERPT_WIDTH;
  }
  // Escapes widen the text (NUL is four characters), so the window is cut again after escaping.
  const half = EXCERPT_WIDTH / 2;
  let before = escapeControls(lineText.slice(from, column - 1));
  if (from > 0 || before.length > half) before = `…${before.slice(-half)}`;
  let marked = escapeControls(lineText.slice(column - 1, Math.min(to, column - 1 + width)));
  if (marked.length > half) marked = marked.slice(0, half);
  let after = escapeControls(lineText.slice(column - 1 + width, to));
  if (to < lineText.length || after.length > half) after = `${after.slice(0, half)}…`;
  return { text: before + marked + after, caretAt: before.length, caretWidth: Math.max(1, marked.length) };
}

/** `path:line:col: error CODE: message`, the excerpt with a caret, and the hint. */
export function formatDiagnostic(source: Source, d: Diagnostic): string {
  const { line, column } = lineAndColumn(source.text, d.span.start);
  const lineStart = d.span.start - (column - 1);
  const nl = source.text.indexOf("\n", lineStart);
  const lineText = source.text.slice(lineStart, nl < 0 ? source.text.length : nl);
  const width = Math.max(1, Math.min(d.span.end, d.span.start + lineText.length - column + 1) - d.span.start);
  const ex = excerpt(lineText, column, width);
  const gutter = `${line} | `;
  const out = [
    `${escapeControls(source.path)}:${line}:${column}: error ${d.code}: ${escapeControls(d.message)}`,
    `  ${gutter}${ex.text}`,
    `  ${" ".repeat(gutter.length + ex.caretAt)}${"^".repeat(ex.caretWidth)}`,
  ];
  if (d.hint) out.push(`  hint: ${escapeControls(d.hint)}`);
  return out.join("\n");
}

/** Diagnostics sorted by position, formatted one after another; past {@link MAX_PRINTED_DIAGNOSTICS} only counted. */
export function formatDiagnostics(source: Source, ds: readonly Diagnostic[], omitted = 0): string {
  const sorted = [...ds].sort((a, b) => a.span.start - b.span.start);
  const shown = sorted.slice(0, MAX_PRINTED_DIAGNOSTICS).map((d) => formatDiagnostic(source, d));
  const more = sorted.length - shown.length + omitted;
  if (more > 0) shown.push(`${escapeControls(source.path)}: … and ${more} more error${more > 1 ? "s" : ""}`);
  return shown.join("\n");
}

/** Thrown by `parse`/`check`/`load` when a program has static errors. */
export class ProgramError extends CircuitsError {
  readonly kind = "program";
  constructor(
    readonly source: Source,
    readonly diagnostics: readonly Diagnostic[],
    /** Further errors found but not kept (the checker keeps a bounded number). */
    readonly omitted = 0,
  ) {
    super("", { path: source.path });
    // The one error whose message is several lines: one located line per diagnostic.
    this.message = formatDiagnostics(source, diagnostics, omitted);
    this.name = "ProgramError";
  }
}
