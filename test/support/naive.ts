/**
 * A second, deliberately naive reading of the formal model (grammar/README.md): for
 * every head and every query position, scan all key positions. O(n²) per head
 * and written without indexes, undo logs or shared state, so that it can be an
 * independent oracle for the incremental interpreter (and for the compiled
 * model later). Values use the same representation as src/semantics/values.ts
 * (null = ⊥, a number, or a Map from index to exact fraction).
 */
import type { Fraction } from "fraction.js";
import type { Head, Program } from "../../src/lang/program.ts";
import { frac, type Value } from "../../src/semantics/values.ts";

/** Every feature's value at positions 0 … tokens.length (position 0 = BOS). */
export type NaiveTrace = ReadonlyMap<string, readonly Value[]>;

export function naiveRun(program: Program, tokens: readonly number[]): NaiveTrace {
  const n = tokens.length;
  const vals = new Map<string, Value[]>();
  for (const name of program.features.keys()) vals.set(name, new Array<Value>(n + 1).fill(null));
  // BOS (position 0) carries no values, not even token or pos.
  for (let p = 1; p <= n; p++) {
    vals.get("token")![p] = tokens[p - 1]!;
    vals.get("pos")![p] = p;
  }
  for (const layer of program.layers) {
    for (const head of layer) {
      for (let i = 1; i <= n; i++) runHead(head, i, vals);
    }
  }
  return vals;
}

function runHead(head: Head, i: number, vals: Map<string, Value[]>): void {
  const get = (f: string, p: number): Value => vals.get(f)![p]!;
  const set = (f: string, v: Value) => (vals.get(f)![i] = v);
  const sel = head.select;
  if (sel.kind === "offset") {
    const j = i - sel.k;
    for (const c of head.copies) set(c.to, j >= 1 ? get(c.from, j) : null);
    return;
  }
  const selected: number[] = [];
  const last = sel.strict ? i - 1 : i;
  for (let j = 1; j <= last; j++) {
    const ok = sel.conditions.every((cond) => {
      const k = get(cond.key, j);
      const q = get(cond.query, i);
      // ⊥ equals nothing; compared features are categorical (the checker forbids distributions).
      return typeof k === "number" && typeof q === "number" && k === q + cond.shift;
    });
    if (ok) selected.push(j);
  }
  if (selected.length === 0) {
    for (const c of head.copies) set(c.to, null);
    return;
  }
  if (sel.rule === "count") {
    // The key j = m, the number of matching candidates (m ≤ i, so a real position).
    for (const c of head.copies) set(c.to, get(c.from, selected.length));
    return;
  }
  if (sel.rule === "latest" || sel.rule === "earliest") {
    const j = sel.rule === "latest" ? Math.max(...selected) : Math.min(...selected);
    for (const c of head.copies) set(c.to, get(c.from, j));
    return;
  }
  for (const c of head.copies) {
    const sum = new Map<number, Fraction>();
    for (const j of selected) {
      const v = get(c.from, j);
      const items: [number, Fraction][] = v === null ? [] : typeof v === "number" ? [[v, frac(1)]] : [...v];
      for (const [k, p] of items) sum.set(k, (sum.get(k) ?? frac(0)).add(p));
    }
    const avg = new Map<number, Fraction>();
    for (const [k, s] of sum) if (!s.equals(0)) avg.set(k, s.div(selected.length));
    set(c.to, avg.size ? avg : null);
  }
}
