/**
 * Theorem 3 (proofs/03-lock-time.md): from the first match to the final gap
 * greedy I_k takes at most V^k − 1 steps, at most g₀ − 2 when g₀ ≥ 2, and at
 * most n₀ − k − 2 when n₀ ≥ k + 2 (n₀ the prompt length).
 * the known k = 1 checks are reproduced exactly (maximum V − 1),
 * k = 2, 3 are searched exhaustively to CI bounds and randomly beyond, the
 * per-length maxima are min(V^k − 1, max(0, n − k − 2)), and V^k − 1 is
 * attained for every (V, k) by the de Bruijn family.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ExhaustiveSummary, exhaustiveIk, overallMaxLock } from "./checks/exhaustive.ts";
import { analyse, cycleLockPrompt, deBruijn, deBruijnCycleThroughZero, deBruijnLockPrompt, IkMachine, ikViolations } from "./checks/ik.ts";
import { climbLockTime, lockTimeOf, shrinkPrompt } from "./checks/search.ts";
import { fcParams } from "../test/support/seed.ts";

/** The proved per-length bound min(V^k − 1, max(0, n − k − 2)) for prompt lengths n = 0 … L. */
const lengthBound = (V: number, k: number, L: number): number[] =>
  Array.from({ length: L + 1 }, (_, n) => Math.min(V ** k - 1, Math.max(0, n - k - 2)));

/** The exhaustive per-length maxima equal the bound: no prompt exceeds it, and every length attains it. */
const expectLengthMaxima = (s: ExhaustiveSummary): void => {
  expect(s.maxLockByLength).toEqual(lengthBound(s.V, s.k, s.maxLen));
};

describe("lock time ≤ V^k − 1", () => {
  it.each([
    [2, 14],
    [3, 11],
    [4, 9],
    [5, 8],
  ])("k = 1, V = %i, all prompts of length ≤ %i (the known check): maximum exactly V − 1", (V, L) => {
    const s = exhaustiveIk(V, 1, L);
    expect(s.firstViolation).toEqual({});
    expect(overallMaxLock(s).lockTime).toBe(V - 1);
    expectLengthMaxima(s);
  });

  it.each([
    [2, 2, 14, 7],
    [3, 2, 12, 12],
    [2, 3, 15, 12],
  ])("k-gram search: V = %i, k = %i, all prompts of length ≤ %i: no counterexample, V^k − 1 attained first at length %i, by the de Bruijn prompt", (V, k, L, firstAt) => {
    const s = exhaustiveIk(V, k, L);
    expect(s.firstViolation).toEqual({});
    const best = overallMaxLock(s);
    expect(best.lockTime).toBe(V ** k - 1);
    expect(best.witness.split(" ").length).toBe(firstAt);
    expect(firstAt).toBe(V ** k + k + 1);
    // The shortest, then lexicographically least, witness is the de Bruijn family's prompt.
    expect(best.witness).toBe(deBruijnLockPrompt(V, k).join(" "));
    expectLengthMaxima(s);
  });

  it.each([
    [4, 2, 8],
    [3, 3, 9],
  ])("prompt-length bound: V = %i, k = %i, all prompts of length ≤ %i: the maximum lock time at length n is exactly max(0, n − k − 2)", (V, k, L) => {
    const s = exhaustiveIk(V, k, L);
    expect(s.firstViolation).toEqual({});
    expectLengthMaxima(s);
  });

  it("prompt-length bound: every maxLockByLength row of the stored full-size run (results.json) is min(V^k − 1, max(0, n − k − 2))", () => {
    const stored = JSON.parse(readFileSync(new URL("./results.json", import.meta.url), "utf8")) as {
      exhaustive: { V: number; k: number; maxLen: number; maxLockByLength: number[] }[];
    };
    expect(stored.exhaustive.length).toBe(10);
    for (const e of stored.exhaustive) expect(e.maxLockByLength).toEqual(lengthBound(e.V, e.k, e.maxLen));
  });

  it("the de Bruijn family attains V^k − 1 for every (V, k) with 2 ≤ V, V^k ≤ 300 (first gap V^k + 1, final gap V^k), also behind any prefix", () => {
    let pairs = 0;
    for (let k = 1; 2 ** k <= 300; k++) {
      for (let V = 2; V ** k <= 300; V++) {
        const N = V ** k;
        // The sequence is de Bruijn: cyclically, each k-gram exactly once; it starts with 0^k.
        const d = deBruijn(V, k);
        expect(d.length).toBe(N);
        expect(d.slice(0, k)).toEqual(new Array<number>(k).fill(0));
        const grams = new Set(d.map((_, i) => Array.from({ length: k }, (_, r) => d[(i + r) % N]).join(",")));
        expect(grams.size).toBe(N);
        const p = deBruijnLockPrompt(V, k);
        expect(p.length).toBe(N + k + 1);
        const a = analyse(new IkMachine(V, k).pushAll(p), N + k);
        expect([a.firstMatch, a.firstGap, a.lockTime, a.finalGap]).toEqual([0, N + 1, N - 1, N]);
        expect(ikViolations(a, V, k)).toEqual([]);
        // Prefixing keeps the window W₀, hence the lock time.
        const prefix = Array.from({ length: 2 * k + 1 }, (_, i) => (i * 7 + 1) % V);
        expect(analyse(new IkMachine(V, k).pushAll([...prefix, ...p]), N + k).lockTime).toBe(N - 1);
        pairs++;
      }
    }
    expect(pairs).toBe(299 + 16 + 5 + 3 + 2 + 1 + 1 + 1);
  });

  it("every prompt length n ≥ 2k + 2 up to V^k + k + 1 attains n − k − 2: a simple cycle of each length L ∈ [k+1, V^k] through 0^k gives lock time L − 1 (V^k ≤ 32)", () => {
    let cycles = 0;
    for (const [V, k] of [[2, 1], [3, 1], [5, 1], [8, 1], [2, 2], [3, 2], [4, 2], [5, 2], [2, 3], [3, 3], [2, 4], [2, 5]] as const) {
      const N = V ** k;
      expect(deBruijnCycleThroughZero(V, k, k)).toBeNull(); // too short to leave 0^k and come back
      for (let L = k + 1; L <= N; L++) {
        const cycle = deBruijnCycleThroughZero(V, k, L);
        expect(cycle, `V=${V} k=${k} L=${L}`).not.toBeNull();
        // A simple cycle through 0^k: distinct k-grams, each the shift of the one before.
        expect(cycle!.length).toBe(L);
        expect(cycle![0]).toEqual(new Array<number>(k).fill(0));
        expect(new Set(cycle!.map((g) => g.join())).size).toBe(L);
        cycle!.forEach((g, i) => expect(cycle![(i + 1) % L]!.slice(0, -1)).toEqual(g.slice(1)));
        const p = cycleLockPrompt(cycle!);
        expect(p.length).toBe(L + k + 1);
        const a = analyse(new IkMachine(V, k).pushAll(p), N + k);
        expect([a.firstMatch, a.firstGap, a.lockTime, a.finalGap], `V=${V} k=${k} L=${L}: ${p.join(" ")}`).toEqual([0, L + 1, L - 1, L]);
        expect(a.lockTime).toBe(p.length - k - 2); // the prompt-length bound, attained
        expect(ikViolations(a, V, k)).toEqual([]);
        cycles++;
      }
    }
    expect(cycles).toBe(1 + 2 + 4 + 7 + 2 + 7 + 14 + 23 + 5 + 24 + 12 + 27);
  });

  it("the de Bruijn family gives the shortest witnesses quoted in proofs/03 (and 1 2 … V−1 0 0 1 for k = 1)", () => {
    expect(deBruijnLockPrompt(2, 2).join(" ")).toBe("0 1 1 0 0 0 1");
    expect(deBruijnLockPrompt(3, 2).join(" ")).toBe("0 1 0 2 1 1 2 2 0 0 0 1");
    expect(deBruijnLockPrompt(2, 3).join(" ")).toBe("0 0 1 0 1 1 1 0 0 0 0 1");
    for (let V = 2; V <= 16; V++) {
      expect(deBruijnLockPrompt(V, 1)).toEqual([...Array.from({ length: V - 1 }, (_, i) => i + 1), 0, 0, 1]);
    }
  });

  it("k = 1: the family 0 0 1 2 … V−1 V−1 0 also has lock time exactly V − 1 (first gap V + 1, final gap V)", () => {
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
          const a = analyse(new IkMachine(V, k).pushAll(prompt), V ** k + k);
          expect(ikViolations(a, V, k)).toEqual([]);
        },
      ),
      fcParams({ numRuns: 3000, seed: 424242 }),
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
