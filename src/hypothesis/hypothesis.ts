/**
 * Hypotheses about circuits, tested like properties: a statement, a generator
 * of cases (programs, prompts, inputs), and a check. fast-check searches for
 * a counterexample and shrinks it to the smallest program and prompt; the
 * result prints the program as source, so a refutation is something a reader
 * can run (`circuits run`, `circuits generate`) and see for themselves.
 */
import fc from "fast-check";
import type { Program } from "../lang/program.ts";

export interface Hypothesis<T> {
  readonly name: string;
  readonly statement: string;
  /** What is known: "holds" (a theorem), "fails" (a known refutation), or "open". */
  readonly expected: "holds" | "fails" | "open";
  readonly cases: fc.Arbitrary<T>;
  /** true when the case agrees with the hypothesis; otherwise false or the reason it does not. */
  readonly check: (c: T) => boolean | string;
  /** The case as text: program source, prompt, what happened. */
  readonly show: (c: T) => string;
  /**
   * Optional: the case for one program and prompt of the bounded canonical
   * space (`circuits hypothesis --exhaustive`). Without it a hypothesis is
   * searched randomly only.
   */
  readonly exhaustiveCase?: (c: { readonly source: string; readonly program: Program; readonly prompt: number[] }) => T;
}

/** A hypothesis over some case type, for lists of mixed ones (see `eraseCaseType`). */
export type SomeHypothesis = Hypothesis<unknown>;

/** Forget a hypothesis's case type: sound, since a case only travels from `cases` to `check` and `show`. */
export function eraseCaseType<T>(h: Hypothesis<T>): SomeHypothesis {
  return h as unknown as SomeHypothesis;
}

export interface HypothesisResult {
  readonly name: string;
  readonly statement: string;
  readonly verdict: "not refuted" | "refuted";
  readonly runs: number;
  readonly seed: number;
  readonly shrinks: number;
  /** The shrunk counterexample, as source and prompt. */
  readonly counterexample: string | null;
  readonly reason: string | null;
  readonly seconds: number;
  /** How the cases were drawn: at random, or every program and prompt of the bounded space. */
  readonly mode?: "random" | "exhaustive";
  /** Exhaustive runs: the canonical programs covered. */
  readonly programs?: number;
  /** Exhaustive runs: the canonical programs in the space (all of them were covered unless refuted). */
  readonly spacePrograms?: number;
}

/** Search for a counterexample; deterministic for a seed. */
export function testHypothesis<T>(h: Hypothesis<T>, opts: { runs?: number; seed?: number } = {}): HypothesisResult {
  const t0 = performance.now();
  // A check that throws refutes too (the case broke something); say what it threw.
  const verdictOf = (c: T): string | null => {
    try {
      const r = h.check(c);
      return r === true ? null : typeof r === "string" ? r : "the check returned false";
    } catch (e) {
      return `the check threw: ${e instanceof Error ? e.message : String(e)}`;
    }
  };
  const property = fc.property(h.cases, (c) => verdictOf(c) === null);
  const seed = opts.seed ?? 1;
  const details = fc.check(property, { numRuns: opts.runs ?? 200, seed });
  const failed = details.failed && details.counterexample !== null;
  // The reason is the shrunk case's own, not that of the last case shrinking tried.
  const reason = failed ? (verdictOf(details.counterexample![0] as T) ?? "fails only intermittently") : null;
  return {
    name: h.name,
    statement: h.statement,
    verdict: failed ? "refuted" : "not refuted",
    runs: details.numRuns,
    seed,
    shrinks: details.numShrinks,
    counterexample: failed ? h.show(details.counterexample![0] as T) : null,
    reason,
    seconds: (performance.now() - t0) / 1000,
  };
}
