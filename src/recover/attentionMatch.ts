/**
 * Where a program head's symbolic selection is, and how much of a model
 * head's attention falls there.
 *
 * A head's targets at query position i are the key positions it selects:
 * one for `j = i − k`, `latest` and `earliest`, the whole matching set for
 * `every`, none (⊥) when nothing matches. A model head agrees with a program
 * head at i by the attention mass it puts on those targets; its agreement is
 * the mean of that over the positions where the selection is defined. Where
 * it is not, compiled models park attention on BOS; that mass is reported
 * separately (learned models need not follow the convention).
 */
import type { Head, Program } from "../lang/program.ts";
import type { SymbolicRun } from "../semantics/interpret.ts";
import type { Observation } from "./observe.ts";

/** Selected key positions per query position, compressed: js[start[i] … start[i+1]). */
export interface Targets {
  readonly start: Int32Array; // [T + 1]
  readonly js: Int32Array;
}

/** Sums over the probes of one (program head, model head) pair. */
export interface AttentionStats {
  /** Σ attention on the targets, over positions where the selection is defined. */
  readonly mass: number;
  readonly defined: number;
  /** Σ attention on BOS over positions where nothing is selected. */
  readonly bosMass: number;
  readonly none: number;
}

/** Mean attention on the targets where defined; null when never defined. */
export const agreementOf = (s: AttentionStats): number | null => (s.defined ? s.mass / s.defined : null);

/** Mean attention on BOS where nothing is selected; null when always defined. */
export const bosAgreementOf = (s: AttentionStats): number | null => (s.none ? s.bosMass / s.none : null);

/** Builds Targets position by position. */
export class TargetsBuilder {
  private readonly start: Int32Array;
  private js: Int32Array;
  private n = 0;
  private p = 0;
  constructor(T: number) {
    this.start = new Int32Array(T + 1);
    this.js = new Int32Array(Math.max(4, T));
  }
  /** Add a selected key to the current position. */
  add(j: number): void {
    if (this.n === this.js.length) {
      const grown = new Int32Array(this.js.length * 2);
      grown.set(this.js);
      this.js = grown;
    }
    this.js[this.n++] = j;
  }
  /** Close the current position and move to the next. */
  next(): void {
    this.start[++this.p] = this.n;
  }
  /** The finished targets (every position closed). */
  done(): Targets {
    return { start: this.start, js: this.js.subarray(0, this.n) };
  }
}

/** Attention of model head (layer, index) against targets, summed over the probes that have patterns. */
export function attentionStats(targets: readonly Targets[], obs: readonly Observation[], layer: number, index: number): AttentionStats {
  let mass = 0;
  let defined = 0;
  let bosMass = 0;
  let none = 0;
  for (let s = 0; s < obs.length; s++) {
    const { T, patterns } = obs[s]!;
    if (!patterns) continue;
    const A = patterns[layer]!;
    const base = index * T * T;
    const { start, js } = targets[s]!;
    for (let i = 1; i < T; i++) {
      const row = base + i * T;
      const a = start[i]!;
      const b = start[i + 1]!;
      if (a === b) {
        bosMass += A[row]!;
        none++;
      } else {
        let m = 0;
        for (let k = a; k < b; k++) m += A[row + js[k]!]!;
        mass += m;
        defined++;
      }
    }
  }
  return { mass, defined, bosMass, none };
}

/**
 * The targets of any checked program's head on one run, straight from the
 * definition (O(T²) per head): used for programs outside the search space.
 */
export function headTargets(program: Program, head: Head, run: SymbolicRun): Targets {
  const T = run.length;
  const b = new TargetsBuilder(T);
  b.next(); // BOS selects nothing
  const sel = head.select;
  const cat = (name: string, p: number): number | null => {
    const v = run.value(name, p);
    return typeof v === "number" ? v : null;
  };
  for (let i = 1; i < T; i++) {
    if (sel.kind === "offset") {
      if (i - sel.k >= 1) b.add(i - sel.k);
    } else {
      const queries = sel.conditions.map((c) => {
        const q = cat(c.query, i);
        return q === null ? null : q + c.shift;
      });
      if (!queries.includes(null)) {
        const hits: number[] = [];
        for (let j = 1; j < (sel.strict ? i : i + 1); j++) {
          if (sel.conditions.every((c, n) => cat(c.key, j) === queries[n])) hits.push(j);
        }
        if (hits.length) {
          if (sel.rule === "latest") b.add(hits[hits.length - 1]!);
          else if (sel.rule === "earliest") b.add(hits[0]!);
          else for (const j of hits) b.add(j);
        }
      }
    }
    b.next();
  }
  return b.done();
}

/** One way a program head may sit on a model head. */
export interface HeadOption {
  readonly block: number;
  readonly index: number;
  readonly agreement: number;
}

/** A program head's options and the program heads whose features it reads. */
export interface MappingProblem {
  readonly options: readonly (readonly HeadOption[])[];
  readonly parents: readonly (readonly number[])[];
}

/**
 * The assignment of program heads to distinct model heads, a head always in
 * a later model layer than every head it reads from, with the largest total
 * agreement; null when none exists. Exhaustive with a bound: programs here
 * have a handful of heads.
 */
export function bestMapping(problem: MappingProblem): HeadOption[] | null {
  const n = problem.options.length;
  const order = problem.options.map((_, k) => k); // parents precede children in every caller
  const bestRest = new Float64Array(n + 1);
  for (let k = n - 1; k >= 0; k--) bestRest[k] = bestRest[k + 1]! + Math.max(0, ...problem.options[order[k]!]!.map((o) => o.agreement));
  const chosen: HeadOption[] = [];
  let best: HeadOption[] | null = null;
  let bestScore = -Infinity;
  const used = new Set<string>();
  const visit = (k: number, score: number): void => {
    if (score + bestRest[k]! <= bestScore) return;
    if (k === n) {
      bestScore = score;
      best = [...chosen];
      return;
    }
    const minLayer = Math.max(-1, ...problem.parents[k]!.map((p) => chosen[p]!.block)) + 1;
    for (const o of problem.options[k]!) {
      const id = `${o.block}.${o.index}`;
      if (o.block < minLayer || used.has(id)) continue;
      used.add(id);
      chosen.push(o);
      visit(k + 1, score + o.agreement);
      chosen.pop();
      used.delete(id);
    }
  };
  visit(0, 0);
  return best;
}
