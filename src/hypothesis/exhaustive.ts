/**
 * A hypothesis checked on every program of the bounded canonical space of
 * src/recover/space.ts (each program once up to renaming) and every prompt
 * up to a length, instead of random cases. The enumeration goes one-head
 * programs first and prompts shortest first, so the first counterexample
 * found is already small: there is nothing to shrink.
 */
import { candidateProgram, enumerateSpace, type SpaceOptions } from "../recover/space.ts";
import { printProgram } from "../lang/print.ts";
import type { Hypothesis, HypothesisResult } from "./hypothesis.ts";

/** Bounds of an exhaustive run. */
export interface ExhaustiveOptions {
  /** Vocabulary size of every program (default 2). */
  readonly vocab?: number;
  /** Longest prompt (default 3); the context is one more, at least 4. */
  readonly maxLength?: number;
  /** The space's own knobs (offsets, conjuncts per match); default the decompiler's. */
  readonly space?: SpaceOptions;
  /** Called after each program with (programs done, programs in the space). */
  readonly onProgress?: (done: number, total: number) => void;
}

const VOCAB = ["a", "b", "c", "d", "e"];

/** Every sequence over 0 … v−1 of length 0 … maxLength, shortest first. */
export function* promptsUpTo(v: number, maxLength: number): Generator<number[]> {
  let level: number[][] = [[]];
  for (let len = 0; len <= maxLength; len++) {
    yield* level;
    level = level.flatMap((p) => Array.from({ length: v }, (_, t) => [...p, t]));
  }
}

/** Check `h` on every canonical program × prompt; stops at the first counterexample. */
export function testExhaustive<T>(h: Hypothesis<T>, opts: ExhaustiveOptions = {}): HypothesisResult {
  const caseOf = h.exhaustiveCase;
  if (!caseOf) throw new Error(`${h.name} has no exhaustiveCase`);
  const t0 = performance.now();
  const vocab = VOCAB.slice(0, opts.vocab ?? 2);
  const maxLength = opts.maxLength ?? 3;
  const context = Math.max(4, maxLength + 1);
  let programs = 0;
  let runs = 0;
  const done = (counterexample: string | null, reason: string | null): HypothesisResult => ({
    name: h.name,
    statement: h.statement,
    verdict: counterexample === null ? "not refuted" : "refuted",
    runs,
    seed: 0,
    shrinks: 0,
    counterexample,
    reason,
    seconds: (performance.now() - t0) / 1000,
    mode: "exhaustive",
    programs,
    spacePrograms: space.length,
  });
  const space = [...enumerateSpace(opts.space)];
  for (const candidate of space) {
    const program = candidateProgram(candidate, vocab, context);
    const source = printProgram(program);
    programs++;
    for (const prompt of promptsUpTo(vocab.length, maxLength)) {
      runs++;
      let c: T | undefined;
      let made = false; // whether exhaustiveCase returned, so that show has a case to print
      let reason: string | null;
      try {
        c = caseOf({ source, program, prompt });
        made = true;
        const r = h.check(c);
        reason = r === true ? null : typeof r === "string" ? r : "the check returned false";
      } catch (e) {
        reason = `the check threw: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (reason !== null) return done(!made ? `${source.trimEnd()}\n\nprompt: ${prompt.map((t) => vocab[t]).join(" ") || "(empty)"}` : h.show(c as T), reason);
    }
    opts.onProgress?.(programs, space.length);
  }
  return done(null, null);
}
