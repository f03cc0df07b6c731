import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { load } from "../../src/lang/check.ts";
import { generateCompiled } from "../../src/generate/compiled.ts";
import { findCycle } from "../../src/generate/cycles.ts";
import { finiteStateLoop } from "../../src/generate/finiteState.ts";
import { inductionProgramText } from "../../src/generate/ik.ts";
import { asInduction, predictInductionCycle } from "../../src/generate/predict.ts";
import { generateSymbolic } from "../../src/generate/symbolic.ts";
import { finiteStateObstacle } from "../../src/semantics/interpret.ts";
import { arbProgram } from "../../src/hypothesis/arbitrary.ts";
import { loadProgram } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const finitePrograms = arbProgram().filter(({ program }) => finiteStateObstacle(program) === null);
const arbPrompt = fc.array(fc.nat({ max: 4 }), { maxLength: 8 });

describe("finite-state loops (state repetition proves the cycle)", () => {
  it("programs with every heads or position values are not finite-state, the others are", () => {
    expect(finiteStateObstacle(loadProgram("every-average"))).toMatch(/every/);
    expect(finiteStateObstacle(loadProgram("q-composition"))).toMatch(/position-valued/);
    for (const name of ["induction", "induction-earliest", "bigram-induction", "duplicate-token", "previous-token", "v-composition"]) {
      expect(finiteStateObstacle(loadProgram(name))).toBeNull();
    }
    expect(() => finiteStateLoop(loadProgram("every-average"), [0])).toThrow(/not a finite-state program/);
  });

  it("the emitted tokens are greedy symbolic generation's, and compiled generation shows the proved cycle", () => {
    fc.assert(
      fc.property(finitePrograms, arbPrompt, ({ program }, raw) => {
        const prompt = raw.slice(0, Math.min(4, program.context - 1)).map((t) => t % program.vocab.length);
        const loop = finiteStateLoop(program, prompt);
        const steps = program.context - 1 - prompt.length;
        const sym = generateSymbolic(program, prompt, { steps });
        const n = Math.min(steps, loop.emitted.length);
        expect(sym.generated.slice(0, n)).toEqual(loop.emitted.slice(0, n));
        const compiled = generateCompiled(compile(program), prompt, { steps });
        expect(compiled.generated).toEqual(sym.generated);
        const c = loop.cycle!;
        if (c.prePeriod + 3 * c.period <= compiled.generated.length) {
          expect(findCycle(compiled.generated)).toMatchObject({ prePeriod: c.prePeriod, period: c.period });
        }
      }),
      fcParams({ numRuns: 80 }),
    );
  });

  it("on I_k it proves the same cycle as the successor table", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 3 }), fc.boolean(), fc.constantFrom("latest" as const, "earliest" as const), arbPrompt, (k, v, strict, rule, raw) => {
        const vocab = ["a", "b", "c"].slice(0, v);
        const program = load({ path: "ik", text: inductionProgramText({ k, vocab, context: 16, rule, strict }) });
        const prompt = raw.map((t) => t % v);
        expect(finiteStateLoop(program, prompt).cycle).toEqual(predictInductionCycle(asInduction(program)!, prompt).cycle);
      }),
      fcParams({ numRuns: 100 }),
    );
  });

  it("the stop rule ends where ⊥ first appears", () => {
    const loop = finiteStateLoop(loadProgram("induction"), [0, 1, 2], "stop");
    expect(loop).toMatchObject({ cycle: null, stopsAt: 0, emitted: [] });
  });
});
