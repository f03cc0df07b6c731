/**
 * The report page: one self-contained HTML file. The stylesheet, the page's
 * script and uPlot (read from its npm package's prebuilt browser bundle) are
 * inlined, fonts are the system's, and the data travel as JSON in the page,
 * so it opens offline and makes no network request.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { esc, scriptJson } from "../html.ts";

const require = createRequire(import.meta.url);
const asset = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), "utf8");
const packageFile = (spec: string) => readFileSync(require.resolve(spec), "utf8");

/** Inline script text: "</script" inside it would end the element early. */
const inlineScript = (js: string) => js.replace(/<\/(script)/gi, "<\\/$1");

/** The parts of a page. */
export interface PageParts {
  readonly title: string;
  readonly meta: string;
  readonly notes: readonly string[];
  /** [id, title, html] of each section, in order; empty html leaves the section out. */
  readonly sections: readonly (readonly [string, string, string])[];
  /** JSON the page's script reads (attention, training, tokens). */
  readonly data: unknown;
  /** Whether the page draws charts (uPlot is inlined only then). */
  readonly charts: boolean;
}

/** The whole page as a string (deterministic for equal parts). */
export function renderPage(p: PageParts): string {
  const shown = p.sections.filter(([, , html]) => html !== "");
  const uplotCss = p.charts ? packageFile("uplot/dist/uPlot.min.css") : "";
  const uplotJs = p.charts ? packageFile("uplot/dist/uPlot.iife.min.js") : "";
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    // No request may leave the page: the policy forbids every fetch, and inline code is all there is.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src data: blob:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(p.title)}</title>`,
    `<style>\n${asset("style.css")}\n${uplotCss}\n</style>`,
    "</head><body>",
    `<header class="top"><h1>${esc(p.title)}</h1><div class="meta">${esc(p.meta)}</div>${p.notes.length ? `<ul class="notes">${p.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}</header>`,
    `<nav class="toc">${shown.map(([id, title]) => `<a href="#${esc(id)}">${esc(title)}</a>`).join("")}</nav>`,
    "<main>",
    ...shown.map(([, , html]) => html),
    `<footer>circuits report</footer>`,
    "</main>",
    `<script type="application/json" id="report-data">${scriptJson(p.data)}</script>`,
    p.charts ? `<script>\n${inlineScript(uplotJs)}\n</script>` : "",
    `<script>\n${inlineScript(asset("client.js"))}\n</script>`,
    "</body></html>",
    "",
  ].join("\n");
}
