/**
 * The composition graph in Graphviz DOT (`circuits analyze --format dot`):
 * heads as nodes ranked by layer, detected edges labelled with kind, feature
 * and written score, the program's own edges marked (bold when detected,
 * dashed red when the weights do not show them, orange when only detected).
 */
import type { ModelAnalysis } from "./analyze.ts";
import { drawnEdges, type EdgeStatus } from "./graphEdges.ts";

const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
const KIND_COLOR = { Q: "#1f77b4", K: "#d62728", V: "#2ca02c" } as const;
const STYLE: Record<EdgeStatus, string> = {
  program: "style=bold",
  detected: "style=solid",
  extra: 'style=solid, color="#ff7f0e", fontcolor="#ff7f0e"',
  missing: 'style=dashed, color="#999999", fontcolor="#999999"',
};

/** The analysis's composition graph as a DOT digraph. */
export function compositionDot(a: ModelAnalysis, title = "composition"): string {
  const heads = a.composition.heads;
  const lines = [
    `digraph ${quote(title)} {`,
    "  rankdir=LR;",
    '  node [shape=box, style="rounded,filled", fillcolor="#f4f4f8", fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  const layers = [...new Set(heads.map((h) => h.block))].sort((x, y) => x - y);
  for (const l of layers) {
    lines.push(`  subgraph ${quote(`cluster_layer${l}`)} {`, `    label=${quote(`layer ${l}`)}; color="#cccccc";`);
    for (const h of heads.filter((x) => x.block === l)) {
      lines.push(`    ${quote(h.name)} [label=${quote(h.name === h.id ? h.id : `${h.name}\n${h.id}`)}];`);
    }
    lines.push("  }");
  }
  for (const e of drawnEdges(a)) {
    const score = e.written === null ? "" : ` ${e.written.toFixed(3)}`;
    const label = `${e.kind}${e.feature ? ` (${e.feature})` : ""}${score}${e.status === "missing" ? " missing" : e.status === "extra" ? " extra" : ""}`;
    lines.push(`  ${quote(e.from)} -> ${quote(e.to)} [label=${quote(label)}, color=${quote(KIND_COLOR[e.kind])}, ${STYLE[e.status]}];`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
