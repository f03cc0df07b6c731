/** Escaping and small builders for the report's HTML, so every string that reaches the page is escaped once. */

/** Text escaped for HTML element content and double-quoted attributes. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** JSON safe inside a <script> element: no "</script", "<!--" or U+2028/9 can end or confuse it. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** A fixed-precision number for display ("—" for null or non-finite). */
export function fmt(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);
}

/** An HTML table from a header row and body rows of already-escaped cell HTML. */
export function htmlTable(header: readonly string[], rows: readonly (readonly string[])[], cls = "", rowClass?: (k: number) => string): string {
  const head = `<tr>${header.map((h) => `<th>${h}</th>`).join("")}</tr>`;
  const body = rows.map((r, k) => {
    const rc = rowClass?.(k);
    return `<tr${rc ? ` class="${rc}"` : ""}>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`;
  }).join("\n");
  return `<table${cls ? ` class="${cls}"` : ""}><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

/** A report section with an id the page's table of contents links to. */
export function section(id: string, title: string, body: string): string {
  return `<section id="${esc(id)}"><h2>${esc(title)}</h2>\n${body}\n</section>`;
}
