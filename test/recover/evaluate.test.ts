/**
 * The search's fast semantics equals the reference interpreter on every
 * program of the space: every feature at every position (a distribution by
 * its mode) and every head's selected positions (against the definition in
 * attentionMatch.ts's headTargets). Also: the enumeration is canonical (no
 * two candidates print the same program) and in-space programs map back.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { load } from "../../src/lang/check.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { mode } from "../../src/semantics/values.ts";
import { isTied } from "../../src/recover/agreement.ts";
import { headTargets, type Targets } from "../../src/recover/attentionMatch.ts";
import { SpaceEvaluator } from "../../src/recover/evaluate.ts";
import { candidateKey, candidateProgram, enumerateSpace, programToCandidate } from "../../src/recover/space.ts";
import { printProgram } from "../../src/lang/print.ts";
import { loadProgram } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const VOCAB = ["a", "b", "c"];
const asLists = (t: Targets) => Array.from({ length: t.start.length - 1 }, (_, i) => [...t.js.subarray(t.start[i]!, t.start[i + 1]!)]);

describe("SpaceEvaluator", () => {
  const all = [...enumerateSpace({ maxConjuncts: 2 })];

  it("the enumeration is canonical: distinct keys, distinct printed programs", () => {
    const one = [...enumerateSpace()];
    expect(new Set(one.map(candidateKey)).size).toBe(one.length);
    // Printing (which loads through the checker, ~3 ms each) on every 10th candidate.
    const sample = one.filter((_, n) => n % 10 === 0);
    const texts = sample.map((c) => printProgram(candidateProgram(c, VOCAB, 12)));
    expect(new Set(texts).size).toBe(sample.length);
    expect(one.length).toBeGreaterThan(1000);
    expect(all.length).toBeGreaterThan(one.length);
  });

  it("agrees with interpret on every feature and every selection (random probes, sampled candidates)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 11 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 210 }),
        (probes, offset) => {
          const ev = new SpaceEvaluator(probes, VOCAB.length);
          for (let n = offset; n < all.length; n += 211) {
            const c = all[n]!;
            const program = candidateProgram(c, VOCAB, 12);
            const heads = program.layers.flat();
            // candidateProgram lists heads by layer; the candidate's heads are in the same order.
            probes.forEach((tokens, s) => {
              const run = interpret(program, tokens);
              heads.forEach((h, k) => {
                const want = Array.from({ length: tokens.length + 1 }, (_, p) => mode(run.value(h.copies[0]!.to, p)) ?? -1);
                expect([...ev.values(c, k + 1)[s]!], `${h.name} of\n${printProgram(program)}`).toEqual(want);
                const ties = Array.from({ length: tokens.length + 1 }, (_, p) => (isTied(run.value(h.copies[0]!.to, p)) ? 1 : 0));
                expect([...(ev.ties(c, k + 1)?.[s] ?? new Uint8Array(tokens.length + 1))]).toEqual(ties);
                expect(asLists(ev.targets(c, k)[s]!)).toEqual(asLists(headTargets(program, h, run)));
              });
            });
          }
        },
      ),
      fcParams({ seed: 4242, numRuns: 8 }),
    );
  });

  it("in-space example programs map to their candidate; others do not", () => {
    for (const name of ["induction", "induction-earliest", "previous-token", "duplicate-token", "every-average", "v-composition"]) {
      const p = loadProgram(name);
      const c = programToCandidate(p);
      expect(c, name).not.toBeNull();
      const back = candidateProgram(c!, p.vocab, p.context);
      // Same program up to names: the same values on an input.
      const input = [0, 1, 2, 0, 1, 3, 0, 1, 2, 2, 1];
      const a = interpret(p, input);
      const b = interpret(back, input);
      for (let q = 0; q <= input.length; q++) expect(b.prediction(q)).toEqual(a.prediction(q));
    }
    expect(programToCandidate(loadProgram("q-composition"))).toBeNull();
    expect(programToCandidate(loadProgram("bigram-induction"))).toBeNull();
    expect(programToCandidate(loadProgram("bigram-induction"), { maxConjuncts: 2 })).not.toBeNull();
    // Two layer-1 heads in either order are one candidate.
    const text = (x: string, y: string, match = "u[j] == w[i]") =>
      `vocab a b\ncontext 8\nlayer 1\n head p: select j = i - ${x}; copy token[j] as u\n head q: select j = i - ${y}; copy token[j] as w\n` +
      `layer 2\n head r: select latest j < i where ${match}; copy token[j] as next\noutput next\n`;
    const c1 = programToCandidate(load({ path: "x", text: text("1", "2") }));
    expect(c1).not.toBeNull();
    expect(programToCandidate(load({ path: "y", text: text("2", "1", "w[j] == u[i]") }))).toEqual(c1);
  });
});
