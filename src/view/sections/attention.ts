/**
 * The attention section's markup: per layer, a head selector, one small
 * heatmap per head and a large one for the selected head, like CircuitsVis's
 * `attention_patterns`. The page's script paints them from the packed
 * patterns (canvas, one pixel block per cell: a 1,000-token input has a
 * million cells per head, more than DOM or SVG cells can carry) and shows
 * query token, key token and weight on hover.
 */
import { esc, fmt, section } from "../html.ts";
import type { AttentionView } from "../attention.ts";

/** The section; `why` replaces it when the patterns could not be computed. */
export function attentionSection(view: AttentionView | null, why: string | null, hasProgram: boolean): string {
  if (!view) return section("attention", "Attention patterns", `<p class="note">Not shown: ${esc(why ?? "no input")}.</p>`);
  const layers = [...new Set(view.heads.map((h) => h.block))];
  const overlay = view.heads.some((h) => h.selection);
  const intro = `<p>Every head's attention over the ${view.T} positions of the input: row = query (destination), column = key (source), darker = more weight; the greyed triangle is masked (j &gt; i). ` +
    `Hover a cell for the query token, key token and weight; click a head to enlarge it.` +
    (overlay ? ` <span class="sw-sel"></span> marks the key the program selects at each query, so you can see where the weights follow the program; the percentage beside a head is its attention on that selection.` : hasProgram ? "" : " No program is known for these weights, so there is no symbolic overlay.") + `</p>` +
    (overlay ? `<label class="toggle"><input type="checkbox" id="overlay" checked> show the program's selection</label>` : "");
  const blocks = layers.map((l) => {
    const heads = view.heads.map((h, k) => ({ h, k })).filter(({ h }) => h.block === l);
    const first = heads.find(({ h }) => !h.inactive) ?? heads[0]!;
    const buttons = heads.map(({ h, k }) => {
      const agree = h.agreement === null ? "" : ` <small>${(h.agreement * 100).toFixed(1)}%</small>`;
      return `<button type="button" class="head-button${k === first.k ? " selected" : ""}${h.inactive ? " inactive" : ""}" data-head-index="${k}" title="${esc(`${h.id}${h.programHead ? ` = program head ${h.programHead}` : ""}${h.inactive ? " (all weights zero)" : ""}`)}">${esc(h.name)}${agree}</button>`;
    });
    const thumbs = heads.map(({ h, k }) =>
      `<figure class="thumb${k === first.k ? " selected" : ""}" data-head-index="${k}"><canvas class="heatmap thumb-canvas" data-head-index="${k}" aria-label="${esc(`attention of ${h.name}`)}"></canvas><figcaption>${esc(h.name === h.id ? h.id : `${h.name} · ${h.id}`)}</figcaption></figure>`);
    return `<div class="layer" data-block="${l}"><h3>Layer ${l + 1} <small>blocks.${l}</small></h3>` +
      `<div class="head-selector">${buttons.join("")}</div>` +
      `<div class="layer-body"><div class="thumbs">${thumbs.join("")}</div>` +
      `<div class="focus"><div class="focus-title"></div><div class="focus-grid"><div class="labels-top"></div><div class="labels-left"></div><canvas class="heatmap focus-canvas" data-head-index="${first.k}"></canvas></div></div></div></div>`;
  });
  const agreeLine = view.heads.filter((h) => h.agreement !== null).map((h) => `${esc(h.name)} ${fmt(h.agreement)}`).join(", ");
  return section("attention", "Attention patterns", [intro, ...blocks, agreeLine ? `<p class="agreement">Attention on the program's selection, mean over positions where it selects: ${agreeLine}.</p>` : "", `<div id="tooltip" class="tooltip" hidden></div>`].join("\n"));
}
