/**
 * Theorem 13 (pointer doubling): H_k against the naive definition of k-hop
 * induction, on random sequences: through the reference semantics and
 * through compiled weights (every feature of every layer decoded, and the
 * logits' argmax), for k = 1 … 8.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BOS_ID } from "../src/model/tokenIds.ts";
import { compile } from "../src/compiler/compile.ts";
import { hopDepth, hopProgram } from "../src/generate/hops.ts";
import { interpret } from "../src/semantics/interpret.ts";
import { IncrementalRun } from "../src/sim/kvcache.ts";
import { compareSequence } from "../src/verify/check.ts";
import { fcParams } from "../test/support/seed.ts";

/**
 * The naive definition, hop by hop. s[1..n] (s[0] is BOS). find(t) is the
 * position right after the latest occurrence of s[t] strictly before t, or 0
 * when there is none (and find(0) = 0). Hop m searches strictly before the
 * pointer of hop m − 1: that is what find applied to the pointer does.
 * hop_k at t is s[find^k(t)], null (⊥) when the chain reaches 0.
 */
function naiveHop(s: readonly number[], t: number, k: number): number | null {
  const find = (p: number): number => {
    for (let m = p - 1; m >= 1; m--) if (s[m] === s[p]) return m + 1;
    return 0;
  };
  let p = t;
  for (let h = 0; h < k && p > 0; h++) p = find(p);
  return p > 0 ? s[p]! : null;
}

const VOCAB = ["a", "b", "c", "d"];
const CONTEXT = 24;

/** Random inputs over the first `v` tokens (small alphabets make long chains). */
const inputs = fc.integer({ min: 2, max: 4 }).chain((v) => fc.array(fc.integer({ min: 0, max: v - 1 }), { minLength: 1, maxLength: CONTEXT - 1, size: "max" }));

describe("naive k-hop definition", () => {
  it("hop 1 is the induction answer, and hops follow by hand on a worked example", () => {
    // a b a c a b c b: from the last b (t = 8): latest earlier b at 6 → find = 7 (c);
    // from 7 (c): earlier c at 4 → 5 (a); from 5 (a): earlier a at 3 → 4 (c); from 4 (c): none.
    const s = [-1, 0, 1, 0, 2, 0, 1, 2, 1];
    expect([1, 2, 3, 4].map((k) => naiveHop(s, 8, k))).toEqual([2, 0, 2, null]);
  });
});

describe("H_k by pointer doubling", () => {
  it("has ⌈log₂ k⌉ + 2 layers for k = 1 … 8, and only hop1 is not a pointer lookup", () => {
    for (let k = 1; k <= 8; k++) {
      const p = hopProgram({ k, vocab: VOCAB, context: CONTEXT });
      expect(p.layers.length).toBe(hopDepth(k));
      expect(hopDepth(k)).toBe([2, 3, 4, 4, 5, 5, 5, 5][k - 1]);
      // Every head above layer 2 compares pos[j] with a pointer and nothing else.
      for (const h of p.layers.slice(2).flat()) {
        expect(h.select.kind === "match" && h.select.conditions.map((c) => [c.key, c.shift])).toEqual([["pos", 0]]);
      }
    }
  });

  it("equals the naive definition at every position, in the reference semantics (k = 1 … 8)", () => {
    const programs = Array.from({ length: 8 }, (_, i) => hopProgram({ k: i + 1, vocab: VOCAB, context: CONTEXT }));
    const defined = new Array<number>(8).fill(0);
    fc.assert(
      fc.property(inputs, (input) => {
        const s = [-1, ...input];
        for (const [i, p] of programs.entries()) {
          const run = interpret(p, input);
          for (let t = 1; t <= input.length; t++) {
            const want = naiveHop(s, t, i + 1);
            if (run.prediction(t) !== want) return false;
            if (want !== null) defined[i]!++;
          }
        }
        return true;
      }),
      fcParams({ seed: 1301, numRuns: 300 }),
    );
    // The chains were long enough to matter: every k had many positions with a defined answer.
    for (const d of defined) expect(d).toBeGreaterThan(300);
  });

  it("compiled weights agree with the semantics on every feature and with the naive definition (k = 1 … 8)", () => {
    const models = Array.from({ length: 8 }, (_, i) => compile(hopProgram({ k: i + 1, vocab: VOCAB, context: CONTEXT })));
    const sims = models.map((m) => new IncrementalRun(m.weights));
    let defined = 0;
    fc.assert(
      fc.property(inputs, (input) => {
        const s = [-1, ...input];
        for (const [i, model] of models.entries()) {
          const sim = sims[i]!;
          if (compareSequence(model, input, sim) !== null) return false;
          // compareSequence leaves the cache at the whole input; read the argmax anew per position.
          sim.clear();
          sim.step(BOS_ID);
          for (let t = 1; t <= input.length; t++) {
            sim.step(input[t - 1]! + 1);
            const want = naiveHop(s, t, i + 1);
            if (want === null) continue;
            const logits = sim.logitsView();
            let arg = 1;
            for (let v = 2; v <= VOCAB.length; v++) if (logits[v]! > logits[arg]!) arg = v;
            if (arg - 1 !== want) return false;
            defined++;
          }
        }
        return true;
      }),
      fcParams({ seed: 1302, numRuns: 40 }),
    );
    expect(defined).toBeGreaterThan(200);
  });
});
