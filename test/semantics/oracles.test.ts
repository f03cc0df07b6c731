/**
 * The example programs against independent oracles written here, directly
 * from what each program's header says it computes. Inputs are drawn over a
 * few tokens of the vocabulary so that repeats (and so matches) are common.
 *
 * Indexing in the oracles: `t` is the input (0-based); position p holds
 * t[p-1]; the value at position p predicts the token after it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Fraction } from "fraction.js";
import { interpret } from "../../src/semantics/interpret.ts";
import { type Dist, frac, isDist, mass, type Value, valueEquals } from "../../src/semantics/values.ts";
import { inductionProgramText } from "../../src/generate/ik.ts";
import { load } from "../../src/lang/check.ts";
import { loadProgram } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const RUNS = { numRuns: 150 };

/** Inputs over the first `tokens` vocabulary entries, up to `max` long. */
const arbTokens = (tokens: number, max: number) => fc.array(fc.integer({ min: 0, max: tokens - 1 }), { maxLength: max });

/** Short inputs (many repeats) and, sometimes, inputs filling the whole context of 64. */
const arbText = (tokens: number) => fc.oneof({ weight: 4, arbitrary: arbTokens(tokens, 20) }, { weight: 1, arbitrary: arbTokens(tokens, 63) });

/** The program's predictions at positions 1 … t.length. */
function predictions(name: string, t: readonly number[]): Value[] {
  const run = interpret(loadProgram(name), t);
  return t.map((_, k) => run.prediction(k + 1));
}

/** tok(p): the token at position p ≥ 1, or null (⊥) at BOS and before. */
const at = (t: readonly number[]) => (p: number): number | null => (p >= 1 && p <= t.length ? t[p - 1]! : null);

/** Induction oracle: successor of the latest (or first) occurrence m ≤ i-2 of token[i]. */
function inductionOracle(t: readonly number[], which: "latest" | "earliest"): (number | null)[] {
  const tok = at(t);
  return t.map((_, k) => {
    const i = k + 1;
    const ms: number[] = [];
    for (let m = 1; m <= i - 2; m++) if (tok(m) === tok(i)) ms.push(m);
    if (ms.length === 0) return null;
    const m = which === "latest" ? ms[ms.length - 1]! : ms[0]!;
    return tok(m + 1);
  });
}

function expectSame(got: readonly Value[], want: readonly Value[], t: readonly number[]): void {
  const bad = want.findIndex((w, k) => !valueEquals(got[k]!, w));
  expect(bad, `input ${JSON.stringify(t)}: first difference at position ${bad + 1}`).toBe(-1);
  expect(got.length).toBe(want.length);
}

describe("induction", () => {
  it("predicts the token after the latest earlier occurrence of token[i] (⊥ if none)", () => {
    fc.assert(fc.property(arbText(4), (t) => expectSame(predictions("induction", t), inductionOracle(t, "latest"), t)), fcParams(RUNS));
  });

  it("induction-earliest predicts the token after the first occurrence", () => {
    fc.assert(
      fc.property(arbText(4), (t) => expectSame(predictions("induction-earliest", t), inductionOracle(t, "earliest"), t)),
      fcParams(RUNS),
    );
  });

  it("latest and earliest agree when every token occurs at most twice", () => {
    const twice = Array.from({ length: 16 }, (_, k) => k >> 1); // 0 0 1 1 … 7 7
    fc.assert(
      fc.property(fc.shuffledSubarray(twice), (t) => {
        expectSame(predictions("induction", t), predictions("induction-earliest", t), t);
      }),
      fcParams(RUNS),
    );
  });

  it("and they do differ once a token occurs three times", () => {
    const t = [0, 1, 0, 2, 0]; // a b a c a
    expect(predictions("induction", t)[4]).toBe(2);
    expect(predictions("induction-earliest", t)[4]).toBe(1);
  });
});

describe("every-average", () => {
  it("is a distribution of mass exactly 1 equal to successor counts / occurrences", () => {
    fc.assert(
      fc.property(arbText(4), (t) => {
        const got = predictions("every-average", t);
        const tok = at(t);
        t.forEach((_, k) => {
          const i = k + 1;
          const counts = new Map<number, number>();
          let occurrences = 0;
          for (let m = 1; m <= i - 2; m++) {
            if (tok(m) !== tok(i)) continue;
            occurrences++;
            counts.set(tok(m + 1)!, (counts.get(tok(m + 1)!) ?? 0) + 1);
          }
          const v = got[k]!;
          if (occurrences === 0) {
            expect(v, `position ${i} of ${JSON.stringify(t)}`).toBeNull();
            return;
          }
          expect(isDist(v)).toBe(true);
          const d = v as Dist;
          expect(mass(d).equals(1), `mass at ${i}`).toBe(true);
          const want = new Map<number, Fraction>([...counts].map(([s, n]) => [s, frac(n, occurrences)]));
          expect(valueEquals(d, want), `position ${i} of ${JSON.stringify(t)}`).toBe(true);
        });
      }),
      fcParams(RUNS),
    );
  });
});

describe("shifts", () => {
  it("previous-token predicts token[i-1]; v-composition predicts token[i-3]", () => {
    fc.assert(
      fc.property(arbText(8), (t) => {
        const tok = at(t);
        expectSame(predictions("previous-token", t), t.map((_, k) => tok(k)), t);
        expectSame(predictions("v-composition", t), t.map((_, k) => tok(k - 2)), t);
      }),
      fcParams(RUNS),
    );
  });

  it("duplicate-token predicts the token before the latest earlier copy of token[i]", () => {
    fc.assert(
      fc.property(arbText(4), (t) => {
        const tok = at(t);
        const want = t.map((_, k) => {
          const i = k + 1;
          for (let m = i - 1; m >= 1; m--) if (tok(m) === tok(i)) return tok(m - 1);
          return null;
        });
        expectSame(predictions("duplicate-token", t), want, t);
      }),
      fcParams(RUNS),
    );
  });
});

describe("q-composition", () => {
  // Its pointer is the latest m ≤ i-1, induction's (j < i) the latest m ≤ i-2:
  // they differ only where token[i-1] == token[i]. It is exactly I_1 (j <= i).
  it("equals I_1, induction with j <= i, on every input (regressions: 'a a', 'a b a a')", () => {
    const q = loadProgram("q-composition");
    const i1 = load({ path: "I_1", text: inductionProgramText({ k: 1, vocab: q.vocab, context: q.context }) });
    fc.assert(
      fc.property(arbText(4), (t) => {
        const a = interpret(q, t);
        const b = interpret(i1, t);
        expectSame(t.map((_, k) => a.prediction(k + 1)), t.map((_, k) => b.prediction(k + 1)), t);
      }),
      fcParams({ ...RUNS, examples: [[[0, 0]], [[0, 1, 0, 0]]] }),
    );
    // …and so differs from programs/induction.circ on those inputs.
    expect(predictions("q-composition", [0, 0])).toEqual([null, 0]);
    expect(predictions("induction", [0, 0])).toEqual([null, null]);
    expect(predictions("q-composition", [0, 1, 0, 0])).toEqual([null, null, 1, 0]);
    expect(predictions("induction", [0, 1, 0, 0])).toEqual([null, null, 1, 1]);
  });

  it("equals induction wherever token[i-1] differs from token[i]", () => {
    fc.assert(
      fc.property(arbText(4), (t) => {
        const q = predictions("q-composition", t);
        const ind = predictions("induction", t);
        t.forEach((_, k) => {
          if (k > 0 && t[k - 1] === t[k]) return;
          expect(valueEquals(q[k]!, ind[k]!), `position ${k + 1} of ${JSON.stringify(t)}`).toBe(true);
        });
      }),
      fcParams(RUNS),
    );
  });

  it("equals induction on every input with no immediate repeat", () => {
    const noRepeat = arbTokens(4, 30).map((t) => t.filter((x, k) => k === 0 || x !== t[k - 1]));
    fc.assert(fc.property(noRepeat, (t) => expectSame(predictions("q-composition", t), predictions("induction", t), t)), fcParams(RUNS));
  });

  it("follows its own pointer: token[m+1] for the latest m < i with token[m] == token[i]", () => {
    fc.assert(
      fc.property(arbText(4), (t) => {
        const tok = at(t);
        const want = t.map((_, k) => {
          const i = k + 1;
          for (let m = i - 1; m >= 1; m--) if (tok(m) === tok(i)) return tok(m + 1);
          return null;
        });
        expectSame(predictions("q-composition", t), want, t);
      }),
      fcParams(RUNS),
    );
  });
});

describe("bigram-induction", () => {
  it("matches a brute-force search for the latest earlier bigram", () => {
    fc.assert(
      fc.property(arbText(3), (t) => {
        const tok = at(t);
        const want = t.map((_, k) => {
          const i = k + 1;
          let best: number | null = null;
          // j-1 and j-2 must be real positions (prev, prev2 are ⊥ at BOS), and so must i-1.
          for (let j = 3; j < i; j++) {
            if (i >= 2 && tok(j - 1) === tok(i) && tok(j - 2) === tok(i - 1)) best = tok(j);
          }
          return best;
        });
        expectSame(predictions("bigram-induction", t), want, t);
      }),
      fcParams(RUNS),
    );
  });
});
