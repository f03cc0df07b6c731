/**
 * An independent oracle for *which* key positions a head selects, written
 * from the language's rules over a finished symbolic run (not from the
 * interpreter's indexes): used to check the compiler's ε bound on the
 * attention patterns the simulator actually produces.
 */
import type { Head } from "../../src/lang/program.ts";
import type { SymbolicRun } from "../../src/semantics/interpret.ts";

/** Key positions head `h` selects at query `i` (BOS = [0] when none). */
export function selectedKeys(run: SymbolicRun, h: Head, i: number): number[] {
  const sel = h.select;
  if (i === 0) return [0];
  if (sel.kind === "offset") return i - sel.k >= 1 ? [i - sel.k] : [0];
  const hits: number[] = [];
  for (let j = 1; j <= (sel.strict ? i - 1 : i); j++) {
    const ok = sel.conditions.every((c) => {
      const k = run.value(c.key, j);
      const q = run.value(c.query, i);
      return typeof k === "number" && typeof q === "number" && k === q + c.shift;
    });
    if (ok) hits.push(j);
  }
  if (hits.length === 0) return [0];
  if (sel.rule === "latest") return [hits[hits.length - 1]!];
  if (sel.rule === "earliest") return [hits[0]!];
  return hits;
}
