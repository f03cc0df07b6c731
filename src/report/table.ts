/** Plain-text tables for terminal reports. */

/** Align rows of cells into columns; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, k) => (widths[k] = Math.max(widths[k] ?? 0, [...c].length)));
  const line = (r: readonly string[]) =>
    r.map((c, k) => (k === r.length - 1 ? c : c + " ".repeat(widths[k]! - [...c].length))).join("  ");
  const [head, ...body] = rows;
  if (!head) return "";
  return [line(head), widths.map((w) => "─".repeat(w)).join("  "), ...body.map(line)].join("\n");
}
