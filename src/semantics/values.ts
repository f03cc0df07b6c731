/**
 * Symbolic values of features: a domain index, ⊥ (none), or — for features
 * written by `every` heads — an exact (sub-)distribution over domain indices
 * with rational probabilities.
 *
 * Rationals are fraction.js's BigInt fractions — the very class mathjs's
 * `fraction()` returns — imported directly because loading all of mathjs
 * costs every CLI start about two seconds.
 */
import { Fraction } from "fraction.js";

export { Fraction };
import type { DomainKind, Program } from "../lang/program.ts";
import { valueName } from "../lang/program.ts";

/** value index → exact probability; total mass ≤ 1 (⊥ values carry none). */
export type Dist = ReadonlyMap<number, Fraction>;

/** null is ⊥; a number is a domain index; a Map is a distribution. */
export type Value = null | number | Dist;

/** Exact rational p/q. */
export const frac = (p: number, q = 1): Fraction => new Fraction(p, q);

/** True when a value is a distribution. */
export const isDist = (v: Value): v is Dist => v !== null && typeof v === "object";

/** Structural equality of two values (exact for distributions). */
export function valueEquals(a: Value, b: Value): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === "number" || typeof b === "number") return a === b;
  const nonzero = (d: Dist) => [...d].filter(([, p]) => p.n !== 0n);
  const ea = nonzero(a);
  const eb = nonzero(b);
  if (ea.length !== eb.length) return false;
  return ea.every(([k, p]) => {
    const q = b.get(k);
    return q !== undefined && p.equals(q);
  });
}

/** Total probability mass of a distribution. */
export function mass(d: Dist): Fraction {
  let s = frac(0);
  for (const p of d.values()) s = s.add(p);
  return s;
}

/**
 * The most likely value, ties broken toward the smaller index (the same rule
 * argmax over logits uses); null for ⊥ or an empty distribution.
 */
export function mode(v: Value): number | null {
  if (v === null || typeof v === "number") return v;
  let best: number | null = null;
  let bestP: Fraction | null = null;
  for (const [k, p] of [...v].sort((x, y) => x[0] - y[0])) {
    if (p.n === 0n) continue;
    if (bestP === null || p.compare(bestP) > 0) {
      best = k;
      bestP = p;
    }
  }
  return best;
}

/** JSON form: null, the value's name, or {name: probability}. */
export function valueToJson(program: Program, domain: DomainKind, v: Value): null | string | Record<string, number> {
  if (v === null) return null;
  if (typeof v === "number") return valueName(program, domain, v);
  const out: Record<string, number> = {};
  for (const [k, p] of [...v].sort((x, y) => x[0] - y[0])) out[valueName(program, domain, k)] = p.valueOf();
  return out;
}

/** Human form: ⊥, the value's name, or {a: 1/2, b: 1/2} with exact fractions. */
export function formatValue(program: Program, domain: DomainKind, v: Value): string {
  if (v === null) return "⊥";
  if (typeof v === "number") return valueName(program, domain, v);
  const parts = [...v].sort((x, y) => x[0] - y[0]).map(([k, p]) => `${valueName(program, domain, k)}: ${p.toFraction()}`);
  return `{${parts.join(", ")}}`;
}
