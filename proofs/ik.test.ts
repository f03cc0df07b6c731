/**
 * Theorems 1 and 2 (proofs/01-monotone-gap.md, proofs/02-eventual-periodicity.md):
 * greedy I_k generation — monotone gap, eventual periodicity with period =
 * final gap ≤ first gap, ≤ V^k, distinct k-grams in the period, ≤ k + 1
 * fallback steps. Exhaustive over all prompts to CI bounds, against the
 * reference semantics, the library's cycle predictor, and compiled weights.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findCycle } from "../src/generate/cycles.ts";
import { generateCompiled } from "../src/generate/compiled.ts";
import { asInduction, predictInductionCycle } from "../src/generate/predict.ts";
import { exhaustiveIk } from "./checks/exhaustive.ts";
import { analyse, IkMachine, ikViolations, traceSteps, walkPrompts } from "./checks/ik.ts";
import { compiledIk, compiledTrace, crossCheckReference, ikGapProgram, ikProgram, symbolicTraceOf } from "./checks/reference.ts";
import { fcParams } from "../test/support/seed.ts";

/** (V, k, max prompt length) for the CI-sized exhaustive runs; npm run proofs goes further. */
const CI_BOUNDS: readonly [number, number, number][] = [
  [2, 1, 16],
  [3, 1, 11],
  [4, 1, 9],
  [5, 1, 8],
  [2, 2, 16],
  [3, 2, 10],
  [4, 2, 7],
  [2, 3, 16],
  [3, 3, 8],
];

describe("the direct I_k machine is I_k", () => {
  it.each([
    [3, 1, 8],
    [4, 1, 6],
    [2, 2, 12],
    [3, 2, 6],
    [2, 3, 11],
    [1, 2, 5],
  ])("V=%i k=%i: every prompt of length ≤ %i — tokens and gaps equal the reference semantics (SymbolicRun, `pos[j] as at`)", (V, k, L) => {
    const r = crossCheckReference(V, k, L, 2 * V ** k + k + 4);
    expect(r.first).toBeNull();
    expect(r.prompts).toBe(V === 1 ? L + 1 : (V ** (L + 1) - 1) / (V - 1));
  });

  it("V=3 k=1/2, all prompts of length ≤ 6: the emitted tokens, cycle, first match and fallback count equal predictInductionCycle's", () => {
    for (const k of [1, 2]) {
      const shape = asInduction(ikProgram(k, 3, 64))!;
      walkPrompts(new IkMachine(3, k), 6, (m, prompt) => {
        const a = analyse(m, 0);
        const p = predictInductionCycle(shape, prompt);
        expect(p.cycle).toEqual(a.cycle);
        const n = Math.min(p.emitted.length, a.emitted.length);
        expect(p.emitted.slice(0, n)).toEqual(a.emitted.slice(0, n));
        // Regression: before the k-gram existed, prompts shorter than k−1 closed the "cycle" too early.
        expect(p.firstMatch).toBe(a.firstMatch);
        expect(p.fallbackSteps).toBe(a.fallbackSteps);
      });
    }
  });
});

describe("Theorems 1–2 on every prompt (exhaustive)", () => {
  it.each(CI_BOUNDS)("V=%i k=%i, all prompts of length ≤ %i: no violation; ≤ k+1 fallback steps, attained", (V, k, L) => {
    const s = exhaustiveIk(V, k, L);
    expect(s.firstViolation).toEqual({});
    expect(s.maxFallback).toBe(k + 1);
    expect(s.fallbackAboveVk).toBe(0);
    expect(s.maxFinalGap).toBeLessThanOrEqual(V ** k);
    expect(s.maxPeriod).toBe(s.maxFinalGap);
  });

  it("the period bound V^k is attained (prompts of length ≤ V^k + k − 1 suffice at these sizes)", () => {
    for (const [V, k] of [[2, 1], [3, 1], [4, 1], [2, 2], [3, 2], [2, 3]] as const) {
      expect(exhaustiveIk(V, k, V ** k + k - 1).maxPeriod).toBe(V ** k);
    }
  });

  it("the original statement's '≤ V^k fallback steps' is refuted for V = 1 (k+1 > 1 = V^k) and holds for V ≥ 2", () => {
    // k = 1, empty prompt: BOS has no k-gram, then 'a' has no earlier 'a'.
    const a1 = analyse(new IkMachine(1, 1), 0);
    expect(a1.fallbackSteps).toBe(2);
    // k = 2, prompt 'a': fewer than k tokens, then 'a a' has no earlier occurrence.
    const a2 = analyse(new IkMachine(1, 2).pushAll([0]), 0);
    expect(a2.fallbackSteps).toBe(2);
    for (const k of [1, 2, 3]) {
      const s = exhaustiveIk(1, k, 8);
      expect(s.firstViolation).toEqual({});
      expect(s.maxFallback).toBe(k + 1);
      expect(s.fallbackAboveVk).toBeGreaterThan(0);
      expect(s.fallbackAboveVkExample).toBe("");
    }
    // The same counterexample in the reference semantics: `at` is ⊥ (no selected j) at the first two steps.
    expect(symbolicTraceOf(ikGapProgram(1, 1, 8), [], 4).gaps).toEqual([0, 0, 1, 1]);
    expect(symbolicTraceOf(ikGapProgram(2, 1, 8), [0], 4).gaps).toEqual([0, 0, 1, 1]);
  });

  it("k + 1 fallback steps is attained from the one-token prompt 'b' for every k (V = 2)", () => {
    for (let k = 1; k <= 6; k++) expect(analyse(new IkMachine(2, k).pushAll([1]), 0).fallbackSteps).toBe(k + 1);
  });

  it("with prompts of length ≥ k: V = 1 gives at most 1 = V^k fallback step, and V ≥ 2 still attains k + 1 (prompt c^k, c ≠ 0)", () => {
    for (let k = 1; k <= 6; k++) {
      // V = 1: a^k gives 1 fallback step, a^n with n > k gives 0.
      for (let n = k; n <= k + 4; n++) {
        expect(analyse(new IkMachine(1, k).pushAll(new Array<number>(n).fill(0)), 0).fallbackSteps).toBe(n === k ? 1 : 0);
      }
      for (const V of [2, 3]) {
        for (let c = 1; c < V; c++) expect(analyse(new IkMachine(V, k).pushAll(new Array<number>(k).fill(c)), 0).fallbackSteps).toBe(k + 1);
      }
    }
  });
});

describe("Theorems 1–2 through compiled weights (fast-check)", () => {
  it("the simulator's greedy run: same tokens and same gaps (induction head's attention argmax) as the direct machine; the observed cycle is the predicted one", () => {
    const CONTEXT = 40;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.nat({ max: 3 }), { maxLength: 12 }),
        (k, V, raw) => {
          const prompt = raw.map((t) => t % V);
          const model = compiledIk(k, V, CONTEXT);
          const steps = CONTEXT - 1 - prompt.length;
          const c = compiledTrace(model, prompt, steps);
          const m = new IkMachine(V, k).pushAll(prompt);
          const d = traceSteps(m, steps);
          expect(c.emitted).toEqual(d.emitted);
          expect(c.gaps).toEqual(d.gaps);
          expect(c.maxLeak).toBeLessThan(model.scales.epsilon);
          // Theorem 1 as the weights show it: fallback prefix, then matched steps (gap > 0) with non-increasing gaps.
          const f = c.gaps.findIndex((g) => g > 0);
          expect(f).toBeGreaterThanOrEqual(0);
          expect(f).toBeLessThanOrEqual(k + 1);
          expect(c.gaps.slice(f).every((g) => g > 0)).toBe(true);
          for (let s = f + 1; s < c.gaps.length; s++) expect(c.gaps[s]!).toBeLessThanOrEqual(c.gaps[s - 1]!);
          // Theorem 2: predicted (certified) cycle = observed cycle when the run shows two periods.
          // V^k + k steps past the certified lock test the locking lemma (d) itself.
          const a = analyse(m, V ** k + k);
          expect(ikViolations(a, V, k)).toEqual([]);
          if (a.cycle.prePeriod + 2 * a.cycle.period <= c.emitted.length) {
            expect(findCycle(c.emitted)).toMatchObject(a.cycle);
          }
          // And the library's path (generateCompiled) emits the same tokens.
          expect(generateCompiled(model, prompt, { steps }).generated).toEqual(c.emitted);
        },
      ),
      fcParams({ numRuns: 150, seed: 20240601 }),
    );
  });
});
