/**
 * Syntax highlighting of program source for the report: a lexer that mirrors
 * the grammar's lexical rules (keywords, identifiers, numbers, comments,
 * operators), done here rather than by a browser library because no library
 * knows this language and the page then needs no script for it.
 */
import { esc } from "./html.ts";

const KEYWORDS = new Set(["vocab", "context", "layer", "head", "select", "latest", "earliest", "every", "count", "where", "and", "copy", "as", "output"]);
const INDICES = new Set(["i", "j"]);
/** Comment, word, number, operator, whitespace — one alternative per token class, tried in this order. */
const TOKEN = /(#[^\n]*)|([A-Za-z_][A-Za-z0-9_']*)|([0-9]+)|(<=|==|\.\.|[<=+\-;:,[\]])|(\s+)|(.)/gsy;

/** The source as HTML, one <span class="tok-…"> per token, lines numbered by the stylesheet. */
export function highlightSource(text: string): string {
  const lines: string[] = [];
  for (const line of text.replace(/\r\n?/g, "\n").replace(/\n$/, "").split("\n")) {
    let html = "";
    TOKEN.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = TOKEN.exec(line)) !== null) {
      const [all, comment, word, number, op] = m;
      const cls = comment !== undefined ? "comment"
        : word !== undefined ? (KEYWORDS.has(word) ? "keyword" : INDICES.has(word) ? "index" : "name")
        : number !== undefined ? "number"
        : op !== undefined ? "op" : null;
      html += cls ? `<span class="tok-${cls}">${esc(all)}</span>` : esc(all);
    }
    lines.push(`<span class="line">${html}</span>`);
  }
  return `<pre class="source"><code>${lines.join("\n")}</code></pre>`;
}
