/**
 * Theorem 4 (proofs/04-every-heads.md): a count-based (`every`) induction
 * head under greedy decoding (mode, ties to the lowest index; ⊥ → token 0)
 * freezes each token's successor at its first generation-time visit, so
 * pre-period + period ≤ V, attained, and pre-period ≤ V − 2 (V ≥ 2).
 * Checked exhaustively in the reference semantics and with the direct count
 * machine, and through compiled weights.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../src/compiler/compile.ts";
import { generateCompiled } from "../src/generate/compiled.ts";
import { findCycle } from "../src/generate/cycles.ts";
import { generateSymbolic } from "../src/generate/symbolic.ts";
import { loadProgram } from "../test/support/programs.ts";
import { SymbolicRun } from "../src/semantics/interpret.ts";
import { analyseEvery, CountMachine, countTrace, everyLongPrePeriodPrompt, everyProgram, everyTightPrompt, exhaustiveEvery, symbolicEveryTrace } from "./checks/every.ts";
import { fcParams } from "../test/support/seed.ts";

describe("every-head greedy generation: frozen successors, pre-period + period ≤ V", () => {
  it.each([
    [2, 11, false],
    [2, 11, true],
    [3, 7, false],
    [3, 7, true],
    [4, 6, false],
    [4, 6, true],
  ])("V=%i, all prompts of length ≤ %i, strict=%s: reference semantics = count machine; no unfrozen successor; μ + p ≤ V, attained; μ ≤ V − 2, attained", (V, L, strict) => {
    const s = exhaustiveEvery(V, L, strict, true);
    expect(s.disagreements).toBe(0);
    expect(s.unfrozen).toBe(0);
    expect(s.cycleMismatch).toBe(0);
    expect(s.aboveV).toBe(0);
    expect(s.maxSum).toBe(V);
    expect(s.maxPrePeriod).toBe(V - 2);
  });

  it.each([
    [3, 11],
    [4, 9],
    [5, 7],
  ])("count machine, V=%i, all prompts of length ≤ %i (both strictness variants): μ + p ≤ V, attained; μ ≤ V − 2, attained", (V, L) => {
    for (const strict of [false, true]) {
      const s = exhaustiveEvery(V, L, strict);
      expect([s.unfrozen, s.cycleMismatch, s.aboveV, s.maxSum, s.maxPrePeriod]).toEqual([0, 0, 0, V, V - 2]);
    }
  });

  it("the prompt 0 1 … V−1 0 attains μ + p = V (μ = 0, p = V) for V = 2 … 10", () => {
    for (let V = 2; V <= 10; V++) {
      const a = analyseEvery(countTrace(new CountMachine(V, false).pushAll(everyTightPrompt(V)), 2 * V + 2));
      expect(a.cycle).toEqual({ prePeriod: 0, period: V });
    }
  });

  it("the prompt 0 1 … (V−2) (V−2) (V−1) attains μ = V − 2 (p = 1) for V = 2 … 12, both strictness variants, count machine and reference semantics", () => {
    for (let V = 2; V <= 12; V++) {
      const prompt = everyLongPrePeriodPrompt(V);
      const steps = 3 * V + 3;
      const expected = [...Array.from({ length: V - 1 }, (_, v) => v), ...Array.from({ length: steps - V + 1 }, () => V - 2)];
      for (const strict of [false, true]) {
        const r = countTrace(new CountMachine(V, strict).pushAll(prompt), steps);
        expect(r.emitted).toEqual(expected);
        expect(analyseEvery(r).cycle).toEqual({ prePeriod: V - 2, period: 1 });
        expect(findCycle(r.emitted)).toMatchObject({ prePeriod: V - 2, period: 1 });
        const run = new SymbolicRun(everyProgram(V, prompt.length + steps + 2, strict));
        for (const t of prompt) run.push(t);
        expect(symbolicEveryTrace(run, steps).emitted).toEqual(expected);
      }
    }
  });

  it("programs/every-average.circ (j < i, V = 4): the reference semantics' greedy run shows the certified cycle (fast-check)", () => {
    const program = loadProgram("every-average");
    const V = program.vocab.length;
    fc.assert(
      fc.property(fc.array(fc.nat({ max: V - 1 }), { maxLength: 20 }), (prompt) => {
        const steps = program.context - 1 - prompt.length;
        const g = generateSymbolic(program, prompt, { steps }).generated;
        const a = analyseEvery(countTrace(new CountMachine(V, true).pushAll(prompt), steps));
        expect(a.unfrozen).toBe(0);
        expect(a.cycle!.prePeriod + a.cycle!.period).toBeLessThanOrEqual(V);
        expect(findCycle(g)).toMatchObject(a.cycle!);
      }),
      fcParams({ numRuns: 200, seed: 4 }),
    );
  });

  it("through compiled weights (fast-check): greedy runs of the compiled every-head programs show the certified cycle", () => {
    const models = new Map<string, ReturnType<typeof compile>>();
    const modelFor = (V: number, strict: boolean) => {
      const key = `${V}${strict}`;
      if (!models.has(key)) models.set(key, compile(everyProgram(V, 32, strict)));
      return models.get(key)!;
    };
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), fc.boolean(), fc.array(fc.nat({ max: 4 }), { maxLength: 12 }), (V, strict, raw) => {
        const prompt = raw.map((t) => t % V);
        const model = modelFor(V, strict);
        const steps = 31 - prompt.length;
        const c = generateCompiled(model, prompt, { steps }).generated;
        const r = countTrace(new CountMachine(V, strict).pushAll(prompt), steps);
        expect(c).toEqual(r.emitted);
        const a = analyseEvery(r);
        expect(a.cycle!.prePeriod + a.cycle!.period).toBeLessThanOrEqual(V);
        expect(findCycle(c)).toMatchObject(a.cycle!);
      }),
      fcParams({ numRuns: 120, seed: 5 }),
    );
  });
});
