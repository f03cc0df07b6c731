/** The program section: its source, highlighted, and the residual stream's layout (blocks, writers, readers). */
import type { Layout } from "../../compiler/layout.ts";
import type { NamedLayout } from "../../analysis/named.ts";
import type { Program } from "../../lang/program.ts";
import { highlightSource } from "../highlight.ts";
import { esc, htmlTable, section } from "../html.ts";

/** Readers of each feature, from the program's heads: query side (Q), key side (K), copied (V). */
function readersFromProgram(program: Program): Map<string, string[]> {
  const readers = new Map<string, string[]>();
  const add = (feature: string, who: string) => readers.set(feature, [...(readers.get(feature) ?? []), who]);
  for (const h of program.layers.flat()) {
    if (h.select.kind === "match") {
      for (const c of h.select.conditions) {
        add(c.query, `${h.name}:Q`);
        add(c.key, `${h.name}:K`);
      }
    }
    for (const c of h.copies) add(c.from, `${h.name}:V`);
  }
  return readers;
}

const isCompilerLayout = (l: NamedLayout | Layout): l is Layout => l.blocks.every((b) => "readBy" in b);

/** The section, or "" when there is neither a program nor a layout. */
export function sourceSection(program: Program | null, layout: NamedLayout | Layout | null): string {
  if (!program && !layout) return "";
  const parts: string[] = [];
  if (program) parts.push(`<p class="path">${esc(program.source.path)}</p>`, highlightSource(program.source.text));
  if (layout) {
    const fromProgram = program ? readersFromProgram(program) : new Map<string, string[]>();
    const rows = layout.blocks.map((b) => {
      const readers = isCompilerLayout(layout)
        ? (b as Layout["blocks"][number]).readBy.map((r) => `${r.head}:${r.side}`)
        : (fromProgram.get(b.name) ?? []);
      const writer = b.writtenBy ? `layer ${b.layer} (${b.writtenBy})` : b.kind === "bos" || b.kind === "token" ? "W_E" : "W_pos";
      const read = readers.join(", ") || (program && b.name === program.output ? "W_U" : "—");
      return [esc(b.name), b.size === 1 ? String(b.offset) : `${b.offset}–${b.offset + b.size - 1}`, String(b.size), esc(writer), esc(read)];
    });
    parts.push(
      `<h3>Residual stream (d_model = ${layout.dModel})</h3>`,
      `<div class="layout-bar">${layout.blocks.map((b) => `<span class="block block-${esc(b.kind)}" style="flex-grow:${b.size}" title="${esc(`${b.name}: ${b.size} dims`)}">${b.size >= 3 ? esc(b.name) : ""}</span>`).join("")}</div>`,
      htmlTable(["block", "dims", "size", "written by", "read by"], rows, "layout"),
    );
  }
  return section("program", program ? "Program" : "Residual stream", parts.join("\n"));
}
