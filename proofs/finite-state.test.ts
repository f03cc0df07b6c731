/**
 * Theorem 6 (finite-state collapse): the checks behind proofs/06-finite-state.md.
 * The fast-check runs are seeded, so every case is reproducible.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../src/compiler/compile.ts";
import { generateCompiled } from "../src/generate/compiled.ts";
import { findCycle } from "../src/generate/cycles.ts";
import { finiteStateLoop, stateWindow } from "../src/generate/finiteState.ts";
import { inductionProgramText } from "../src/generate/ik.ts";
import { mode } from "../src/semantics/values.ts";
import { arbProgram } from "../src/hypothesis/arbitrary.ts";
import { load } from "../src/lang/check.ts";
import type { Program } from "../src/lang/program.ts";
import { finiteStateObstacle, SymbolicRun } from "../src/semantics/interpret.ts";
import { fcParams } from "../test/support/seed.ts";

const finite = arbProgram().filter(({ program }) => finiteStateObstacle(program) === null);

/** Greedy steps with the state key before each, on an unbounded-context copy of the program. */
function trajectory(program: Program, prompt: readonly number[], steps: number): { keys: string[]; emitted: number[] } {
  const run = new SymbolicRun({ ...program, context: prompt.length + steps + 2 });
  for (const t of prompt) run.push(t);
  const keys: string[] = [];
  const emitted: number[] = [];
  for (let s = 0; s < steps; s++) {
    keys.push(run.stateKey(stateWindow(program)));
    const next = mode(run.prediction(run.length - 1)) ?? 0;
    emitted.push(next);
    run.push(next);
  }
  return { keys, emitted };
}

/** Every prompt of length ≤ L over V tokens. */
function* prompts(V: number, L: number): Generator<number[]> {
  const walk = function* (prefix: number[]): Generator<number[]> {
    yield prefix;
    if (prefix.length < L) for (let t = 0; t < V; t++) yield* walk([...prefix, t]);
  };
  yield* walk([]);
}

describe("Theorem 6: finite-state collapse", () => {
  it("lemma: equal state keys have equal futures (two runs from different prompts)", () => {
    let merges = 0;
    fc.assert(
      fc.property(finite, fc.array(fc.nat({ max: 4 }), { maxLength: 6 }), fc.array(fc.nat({ max: 4 }), { maxLength: 6 }), ({ program }, ra, rb) => {
        const V = program.vocab.length;
        const a = trajectory(program, ra.map((t) => t % V), 40);
        const b = trajectory(program, rb.map((t) => t % V), 40);
        const at = new Map(a.keys.map((k, s) => [k, s] as const));
        b.keys.forEach((k, sb) => {
          const sa = at.get(k);
          if (sa === undefined) return;
          merges++;
          const n = Math.min(40 - sa, 40 - sb);
          expect(b.emitted.slice(sb, sb + n)).toEqual(a.emitted.slice(sa, sa + n));
        });
      }),
      fcParams({ numRuns: 150, seed: 6150 }),
    );
    expect(merges).toBeGreaterThan(50); // the lemma was exercised, not vacuous
  });

  it("V = 2, exhaustively: every I_k (k ≤ 3, latest/earliest, j < i / j <= i) on every prompt of length ≤ 8 cycles with period ≤ 2^k", () => {
    let cases = 0;
    for (const k of [1, 2, 3]) {
      for (const rule of ["latest", "earliest"] as const) {
        for (const strict of [false, true]) {
          const program = load({ path: "I_k", text: inductionProgramText({ k, vocab: ["a", "b"], context: 16, rule, strict }) });
          for (const prompt of prompts(2, 8)) {
            const c = finiteStateLoop(program, prompt).cycle!;
            expect(c.period).toBeLessThanOrEqual(2 ** k);
            cases++;
          }
        }
      }
    }
    expect(cases).toBe(3 * 2 * 2 * 511);
  });

  it("random finite-state programs (V ≤ 5): the proved cycle is the one compiled weights generate", () => {
    fc.assert(
      fc.property(finite, fc.array(fc.nat({ max: 4 }), { maxLength: 5 }), ({ program }, raw) => {
        const prompt = raw.slice(0, program.context - 1).map((t) => t % program.vocab.length);
        const { cycle } = finiteStateLoop(program, prompt);
        const run = generateCompiled(compile(program), prompt, { steps: program.context });
        if (cycle!.prePeriod + 3 * cycle!.period <= run.generated.length) {
          expect(findCycle(run.generated)).toMatchObject({ prePeriod: cycle!.prePeriod, period: cycle!.period });
        }
      }),
      fcParams({ numRuns: 60, seed: 6060 }),
    );
  });

  it("halting is decided: with the stop rule the walk ends either at ⊥ or at a repeated state", () => {
    fc.assert(
      fc.property(finite, fc.array(fc.nat({ max: 4 }), { maxLength: 5 }), ({ program }, raw) => {
        const prompt = raw.slice(0, program.context - 1).map((t) => t % program.vocab.length);
        const loop = finiteStateLoop(program, prompt, "stop");
        expect((loop.cycle === null) !== (loop.stopsAt === null)).toBe(true);
      }),
      fcParams({ numRuns: 100, seed: 6100 }),
    );
  });
});
