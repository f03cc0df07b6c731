/**
 * The circuit as a graph: every head a node, placed by layer (column) and
 * index (row) — the layering is given by the model, so there is no layout
 * problem a graph library would solve — and every composition edge drawn
 * with its kind, written score and the random-baseline threshold it beat;
 * the program's own edges are marked. Rendered here as SVG, so it needs no
 * script and is the same bytes for the same model.
 */
import type { ModelAnalysis } from "../../analysis/analyze.ts";
import { drawnEdges, type DrawnEdge } from "../../analysis/graphEdges.ts";
import { headId } from "../../analysis/named.ts";
import { esc, fmt, htmlTable, section } from "../html.ts";

const NODE_W = 150;
const NODE_H = 46;
const COL = 360;
const ROW = 78;
const PAD = 30;
const STATUS_TEXT = { program: "in the program and detected", extra: "detected, not in the program", missing: "in the program, not detected", detected: "detected" } as const;

/** The SVG of the graph. */
function graphSvg(a: ModelAnalysis, edges: readonly DrawnEdge[]): string {
  const { n_layers: L, n_heads: H } = a.model;
  const named = new Map(a.composition.heads.map((h) => [h.id, h.name]));
  const pos = new Map<string, { x: number; y: number }>();
  const nodes: string[] = [];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const id = headId({ block: l, head: h });
      const x = PAD + l * COL;
      const y = PAD + 24 + h * ROW;
      const name = named.get(id);
      pos.set(name ?? id, { x, y });
      const label = name && name !== id ? `<text x="${x + NODE_W / 2}" y="${y + 19}" class="node-name">${esc(name)}</text><text x="${x + NODE_W / 2}" y="${y + 36}" class="node-id">${id}</text>`
        : `<text x="${x + NODE_W / 2}" y="${y + 28}" class="node-name">${id}</text>`;
      nodes.push(`<g class="node${name ? "" : " inactive"}" data-id="${id}"><title>${esc(name ? `${name} (${id})` : `${id}: all weights zero`)}</title><rect x="${x}" y="${y}" width="${NODE_W}" height="${NODE_H}" rx="8"/>${label}</g>`);
    }
  }
  const headers = Array.from({ length: L }, (_, l) => `<text x="${PAD + l * COL + NODE_W / 2}" y="${PAD + 6}" class="layer-label">layer ${l}</text>`);
  // Edges between the same pair of heads fan out; the labels of edges leaving one head sit at different
  // fractions of their curves, so they separate where the curves diverge.
  const perPair = new Map<string, number>();
  const perSource = new Map<string, number>();
  const fromCount = new Map<string, number>();
  for (const e of edges) fromCount.set(e.from, (fromCount.get(e.from) ?? 0) + 1);
  const paths = edges.map((e) => {
    const a0 = pos.get(e.from)!;
    const b0 = pos.get(e.to)!;
    const pair = `${e.from}\u0000${e.to}`;
    const k = perPair.get(pair) ?? 0;
    perPair.set(pair, k + 1);
    const s = perSource.get(e.from) ?? 0;
    perSource.set(e.from, s + 1);
    const n = fromCount.get(e.from)!;
    const t = n === 1 ? 0.5 : 0.25 + (0.5 * s) / (n - 1);
    const x1 = a0.x + NODE_W;
    const y1 = a0.y + NODE_H / 2;
    const x2 = b0.x;
    const y2 = b0.y + NODE_H / 2;
    const bend = (k % 2 ? 1 : -1) * Math.ceil(k / 2) * 26;
    const cx = (x1 + x2) / 2;
    const cy = (y1 + y2) / 2 + 2 * bend;
    const d = `M${x1},${y1} Q${cx},${cy} ${x2},${y2}`;
    // The point at fraction t of the quadratic curve.
    const lx = (1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t ** 2 * x2;
    const ly = (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t ** 2 * y2;
    const label = `${e.kind}${e.feature ? ` ${e.feature}` : ""} ${fmt(e.written)}`;
    const title = `${e.from} → ${e.to}, ${e.kind}-composition${e.feature ? ` through ${e.feature}` : ""}: written score ${fmt(e.written)} (threshold ${fmt(e.threshold)}), TransformerLens score ${fmt(e.score, 4)} — ${STATUS_TEXT[e.status]}`;
    return `<g class="edge edge-${e.status} kind-${e.kind}" data-from="${esc(e.from)}" data-to="${esc(e.to)}" data-kind="${e.kind}" data-status="${e.status}"><title>${esc(title)}</title>` +
      `<path d="${d}" marker-end="url(#arrow-${e.kind})"/><text x="${lx.toFixed(1)}" y="${(ly - 4).toFixed(1)}">${esc(label)}</text></g>`;
  });
  const width = PAD * 2 + (L - 1) * COL + NODE_W;
  const height = PAD * 2 + 24 + (H - 1) * ROW + NODE_H;
  const markers = (["Q", "K", "V"] as const).map((k) => `<marker id="arrow-${k}" class="kind-${k}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`);
  return `<svg class="graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="composition graph"><defs>${markers.join("")}</defs>${headers.join("")}${paths.join("")}${nodes.join("")}</svg>`;
}

/** The section: graph, legend, the rule edges were decided by, and every pair's scores. */
export function graphSection(a: ModelAnalysis): string {
  const comp = a.composition;
  const edges = drawnEdges(a);
  const rule = comp.threshold !== null
    ? `an edge needs a written score above the fixed threshold ${comp.threshold}`
    : `an edge needs a written score above mean + ${comp.sigmas}·sd of seeded random models of these shapes: ${comp.randomBaseline.map((c) => `layer ${c.block} ${fmt(c.mean)} ± ${fmt(c.sd)} → ${fmt(c.threshold)} (${c.samples} scores)`).join("; ") || "no pairs of heads"}`;
  const source = comp.featureScores.length ? comp.featureScores : comp.scores;
  const rows = source.map((s) => [esc(s.from), esc(s.to), esc(s.feature ?? "(all)"), s.kind, fmt(s.score, 4), fmt(s.written),
    comp.detected.includes(s) ? "edge" : ""]);
  const verdict = a.program
    ? a.program.recovered ? `<p class="verdict ok">The detected graph equals the program's composition graph.</p>`
      : `<p class="verdict bad">Not recovered — missing: ${esc(a.program.missing.join(", ") || "none")}; extra: ${esc(a.program.extra.join(", ") || "none")}.</p>`
    : "";
  const legend = `<p class="legend"><span class="sw kind-Q">Q</span> <span class="sw kind-K">K</span> <span class="sw kind-V">V</span> composition; ` +
    (a.program ? `<span class="sw-line program"></span> the program's edge, detected; <span class="sw-line extra"></span> detected, not the program's; <span class="sw-line missing"></span> the program's, not detected.` : "no program known: every edge is what the weights show.") +
    ` Labels give the written score; hover an edge for TransformerLens's score (random ≈ 1/√d_model = ${fmt(comp.baseline)}) and the threshold.</p>`;
  return section("graph", "Composition graph", [
    `<div class="graph-wrap">${graphSvg(a, edges)}</div>`,
    legend,
    `<p>Edges: ${esc(rule)}.</p>`,
    verdict,
    `<details><summary>Every pair's scores (${rows.length})</summary>${htmlTable(["from", "to", "feature", "kind", "score", "written", ""], rows, "scores")}</details>`,
  ].join("\n"));
}
