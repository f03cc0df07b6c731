import { describe, expect, it } from "vitest";
import type { PredictionAgreement } from "../../src/recover/agreement.ts";
import { makeProbes } from "../../src/recover/probes.ts";
import { partialFit } from "../../src/recover/search.ts";

describe("probes and partial fits", () => {
  it("[BOS] r r probes: r has distinct tokens when the vocabulary allows, so the second copy is unambiguous", () => {
    for (const [vocab, maxLength] of [[64, 63], [8, 16], [31, 63], [5, 20]] as const) {
      const set = makeProbes({ vocab, maxLength, repeats: 20, uniform: 0, seed: 3 });
      const half = Math.floor(maxLength / 2);
      let repeatedInR = 0;
      for (const p of set.probes) {
        const r = p.tokens.slice(0, half);
        expect(p.tokens.slice(half)).toEqual(r);
        expect(r.every((t) => t >= 0 && t < vocab)).toBe(true);
        if (new Set(r).size < r.length) repeatedInR++;
      }
      // Distinct when half ≤ V; with fewer tokens than |r| repeats are unavoidable.
      if (half <= vocab) expect(repeatedInR).toBe(0);
      else expect(repeatedInR).toBe(set.probes.length);
    }
  });

  it("a verdict names the classes where a non-fitting program still agrees, and those where it does not", () => {
    const cls = (name: string, agree: number, defined: number) => ({ class: name, agree, defined, none: 0, ties: 0, fraction: defined ? agree / defined : null });
    const p = (classes: ReturnType<typeof cls>[]): PredictionAgreement => {
      const agree = classes.reduce((a, c) => a + c.agree, 0), defined = classes.reduce((a, c) => a + c.defined, 0);
      return { agree, defined, none: 0, ties: 0, fraction: agree / defined, total: defined, explained: agree / defined, classes };
    };
    expect(partialFit(p([cls("second copy", 95, 100), cls("positions 8–15", 3, 10), cls("positions 2–3", 1, 2)]), 0.8, 5)).toBe(
      "; it does agree on second copy 95.0 % (95/100) but not on positions 8–15 30.0 % (3/10)",
    );
    expect(partialFit(p([cls("second copy", 50, 100), cls("positions 8–15", 3, 10)]), 0.8, 5)).toBe("");
    expect(partialFit(p([cls("second copy", 99, 100), cls("first copy", 4, 4)]), 0.8, 5)).toBe("; it does agree on second copy 99.0 % (99/100)");
  });
});
