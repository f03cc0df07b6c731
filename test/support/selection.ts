/**
 * An independent oracle for *which* key positions a head selects, written
 * from the language's rules over a finished symbolic run (not from the
 * interpreter's indexes): used to check the compiler's ε bound on the
 * attention patterns the simulator actually produces.
 */
import type { Head } from "../../src/lang/program.ts";
import type { SymbolicRun } from "../../src/semantics/interpret.ts";

/** Key positions head `h` selects at query `i` (BOS = [0] when none); a count selects position m = its number of matches. */
export function selectedKeys(run: SymbolicRun, h: Head, i: number): number[] {
  const sel = h.select;
  if (i === 0) return [0];
  if (sel.kind === "offset") return i - sel.k >= 1 ? [i - sel.k] : [0];
  const hits = matches(run, h, i);
  if (hits.length === 0) return [0];
  if (sel.rule === "latest") return [hits[hits.length - 1]!];
  if (sel.rule === "earliest") return [hits[0]!];
  if (sel.rule === "count") return [hits.length];
  return hits;
}

/**
 * Keys a count's compiled `.mean` head (one layer before the count) spreads
 * its attention over, uniformly: BOS and every match, so BOS gets 1/(m + 1).
 */
export function meanKeys(run: SymbolicRun, count: Head, i: number): number[] {
  return i === 0 ? [0] : [0, ...matches(run, count, i)];
}

/** Candidate positions 1 … i (or i − 1) of a match or count head whose every condition holds. */
function matches(run: SymbolicRun, h: Head, i: number): number[] {
  const sel = h.select;
  if (sel.kind !== "match") throw new Error(`selection: '${h.name}' is not a match head`);
  const hits: number[] = [];
  for (let j = 1; j <= (sel.strict ? i - 1 : i); j++) {
    const ok = sel.conditions.every((c) => {
      const k = run.value(c.key, j);
      const q = run.value(c.query, i);
      return typeof k === "number" && typeof q === "number" && k === q + c.shift;
    });
    if (ok) hits.push(j);
  }
  return hits;
}
