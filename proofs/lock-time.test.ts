/**
 * Theorem 3 (proofs/03-lock-time.md): from the first match to the final gap
 * greedy I_k takes at most V^k − 1 steps (and at most g₀ − 2 when g₀ ≥ 2).
 * RESEARCH.md's known k = 1 checks are reproduced exactly (maximum V − 1),
 * k = 2, 3 are searched exhaustively to CI bounds and randomly beyond, and
 * the bound is shown attained.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { exhaustiveIk, overallMaxLock } from "./checks/exhaustive.ts";
import { analyse, IkMachine, ikViolations } from "./checks/ik.ts";
import { climbLockTime, lockTimeOf, shrinkPrompt } from "./checks/search.ts";

describe("lock time ≤ V^k − 1", () => {
  it.each([
    [2, 14],
    [3, 11],
    [4, 9],
    [5, 8],
  ])("k = 1, V = %i, all prompts of length ≤ %i (RESEARCH's known check): maximum exactly V − 1", (V, L) => {
    const s = exhaustiveIk(V, 1, L);
    expect(s.firstViolation).toEqual({});
    expect(overallMaxLock(s).lockTime).toBe(V - 1);
  });

  it.each([
    [2, 2, 14, 7],
    [3, 2, 12, 12],
    [2, 3, 15, 12],
  ])("k-gram search: V = %i, k = %i, all prompts of length ≤ %i: no counterexample, V^k − 1 attained first at length %i", (V, k, L, firstAt) => {
    const s = exhaustiveIk(V, k, L);
    expect(s.firstViolation).toEqual({});
    const best = overallMaxLock(s);
    expect(best.lockTime).toBe(V ** k - 1);
    expect(best.witness.split(" ").length).toBe(firstAt);
  });

  it("k = 1: the family 0 0 1 2 … V−1 V−1 0 has lock time exactly V − 1 (first gap V + 1, final gap V)", () => {
    for (let V = 2; V <= 16; V++) {
      const p = [0, 0, ...Array.from({ length: V - 1 }, (_, i) => i + 1), V - 1, 0];
      const a = analyse(new IkMachine(V, 1).pushAll(p), V);
      expect([a.lockTime, a.firstGap, a.finalGap]).toEqual([V - 1, V + 1, V]);
      expect(ikViolations(a, V, 1)).toEqual([]);
    }
  });

  it("random long prompts (fast-check, shrinking on failure): no violation of Theorems 1–3", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.nat({ max: 4 }), { maxLength: 80 }),
        (V, k, raw) => {
          const prompt = raw.map((t) => t % V);
          const a = analyse(new IkMachine(V, k).pushAll(prompt), V ** k);
          expect(ikViolations(a, V, k)).toEqual([]);
        },
      ),
      { numRuns: 3000, seed: 424242 },
    );
  });

  it("hill climbing (seeded) reaches V^k − 1 and never exceeds it for (V, k) beyond exhaustive reach", () => {
    for (const [V, k] of [[4, 2], [3, 3], [2, 4]] as const) {
      const r = climbLockTime(V, k, { seed: 7, restarts: 10, iters: 2000, maxLen: 40 + 2 * V ** k });
      expect(r.counterexample).toBeNull();
      expect(r.lockTime).toBe(V ** k - 1);
      expect(lockTimeOf(V, k, r.best)).toBe(V ** k - 1);
    }
  });

  it("the shrinker finds a shortest prompt with lock time 3 for V = k = 2 (length 7, as the exhaustive walk says)", () => {
    const long = [1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1];
    expect(lockTimeOf(2, 2, long)).toBe(3);
    const small = shrinkPrompt(long, (p) => lockTimeOf(2, 2, p) >= 3);
    expect(small.length).toBe(7);
    expect(lockTimeOf(2, 2, small)).toBe(3);
  });
});
