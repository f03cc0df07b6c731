/**
 * Reading programs back out of weights that carry no layout. Compiled
 * models are disguised (random residual rotation, per-head QK/OV maps,
 * noise; layout and program dropped) so nothing one-hot is left, then:
 * in-space example programs come back with the same head forms, mapped to
 * the heads that implement them; programs outside the space and random
 * weights are reported as not fitting; random in-space programs from the
 * project's generator come back predicting what they predict.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { renderSpec, resolvePlan } from "../../src/hypothesis/arbitrary.ts";
import { load } from "../../src/lang/check.ts";
import type { Program } from "../../src/lang/program.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { mode } from "../../src/semantics/values.ts";
import { disguiseWeights } from "../../src/recover/disguise.ts";
import { makeProbes } from "../../src/recover/probes.ts";
import { recoverProgram } from "../../src/recover/search.ts";
import { candidateKey, programToCandidate } from "../../src/recover/space.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { loadProgram } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const PROBES = { repeats: 8, uniform: 8, seed: 3 };

function disguised(program: Program, seed = 11) {
  const m = compile(program);
  return { weights: disguiseWeights(m.weights, { seed, noise: 1e-5 }), tokens: m.tokens };
}

/** Share of the original's token predictions (untied) that the recovered program makes too, on the search's probes. */
function samePredictions(original: Program, recovered: Program): number {
  const set = makeProbes({ vocab: original.vocab.length, maxLength: original.context - 1, ...PROBES });
  let same = 0;
  let n = 0;
  for (const p of set.probes) {
    const a = interpret(original, p.tokens);
    const b = interpret(recovered, p.tokens);
    for (let q = 1; q <= p.tokens.length; q++) {
      const want = mode(a.prediction(q));
      if (want === null) continue;
      n++;
      if (mode(b.prediction(q)) === want) same++;
    }
  }
  return n ? same / n : 1;
}

/** Share of probe positions where the program predicts a token (not ⊥). */
function coverage(program: Program): number {
  const set = makeProbes({ vocab: program.vocab.length, maxLength: program.context - 1, ...PROBES });
  let defined = 0;
  let n = 0;
  for (const p of set.probes) {
    const run = interpret(program, p.tokens);
    for (let q = 1; q <= p.tokens.length; q++, n++) if (run.prediction(q) !== null) defined++;
  }
  return n ? defined / n : 0;
}

describe("recoverProgram on disguised compiled models", () => {
  it("in-space examples: the same head forms, each on the head that computes it, ~100 % agreement", () => {
    for (const name of ["induction", "induction-earliest", "previous-token", "duplicate-token", "v-composition", "every-average"]) {
      const original = loadProgram(name);
      const r = recoverProgram(disguised(original).weights, { ...PROBES, tokens: compile(original).tokens });
      expect(r.fits, `${name}: ${r.verdict}`).toBe(true);
      const best = r.best!;
      expect(candidateKey(programToCandidate(best.program)!), name).toBe(candidateKey(programToCandidate(original)!));
      // Compiled heads sit at (layer − 1, index in layer), in program order.
      const places = original.layers.flatMap((hs, l) => hs.map((_, k) => `${l}.${k}`));
      expect(best.heads.map((h) => `${h.block}.${h.index}`), name).toEqual(places);
      for (const h of best.heads) expect(h.attention!, `${name} ${h.head}`).toBeGreaterThan(0.99);
      expect(best.prediction.fraction!, name).toBeGreaterThan(0.99);
      expect(samePredictions(original, best.program)).toBe(1);
    }
  });

  it("says plainly when nothing fits: programs outside the space, random weights", () => {
    for (const name of ["q-composition", "bigram-induction"]) {
      const r = recoverProgram(disguised(loadProgram(name)).weights, PROBES);
      expect(r.fits, name).toBe(false);
      expect(r.verdict).toMatch(/^nothing fits/);
    }
    for (const seed of [1, 2]) {
      const w = randomWeights({ d_model: 24, d_head: 6, n_heads: 2, n_layers: 2, n_ctx: 24, d_vocab: 7 }, seed);
      const r = recoverProgram(w, PROBES);
      expect(r.fits).toBe(false);
      expect(r.verdict).toMatch(/^nothing fits/);
    }
  });

  it("random in-space programs from the project's generator come back predicting the same", () => {
    fc.assert(
      fc.property(arbSpacePlan.map((plan) => load({ path: "<generated>", text: renderSpec(resolvePlan(plan)) })).filter((p) => programToCandidate(p) !== null), fc.nat(100), (program, seed) => {
        // The search claims only programs that predict a token on ≥ 10 % of probe positions
        // (minCoverage); a program that is ⊥ almost everywhere is not what it can recover.
        fc.pre(coverage(program) >= 0.1);
        const { weights, tokens } = disguised(program, seed);
        const r = recoverProgram(weights, { ...PROBES, tokens });
        expect(r.best, r.verdict).not.toBeNull();
        expect(samePredictions(program, r.best!.program)).toBeGreaterThanOrEqual(0.95);
      }),
      fcParams({ seed: 2024, numRuns: 10 }),
    );
  });
});

// Plans for the project's generator (resolvePlan) restricted to the space's shape: ≤ 2 layers,
// one copy per head, one unshifted conjunct. Picks that land on `pos` or leave dead heads are
// filtered out by programToCandidate.
const pick = fc.nat({ max: 15 });
const arbHead = fc.oneof(
  fc.record({ kind: fc.constant("offset" as const), k: fc.integer({ min: 1, max: 3 }), copies: fc.tuple(pick) }),
  fc.record({
    kind: fc.constant("match" as const),
    rule: fc.constantFrom("latest" as const, "earliest" as const, "every" as const),
    strict: fc.boolean(),
    where: fc.tuple(fc.record({ key: pick, query: pick, shift: fc.constant(0), shiftOnKey: fc.boolean(), flip: fc.boolean() })),
    copies: fc.tuple(pick),
  }),
);
const arbSpacePlan = fc.record({
  layers: fc.oneof(fc.tuple(fc.tuple(arbHead)), fc.tuple(fc.tuple(arbHead), fc.tuple(arbHead)), fc.tuple(fc.tuple(arbHead, arbHead), fc.tuple(arbHead))),
  vocabSize: fc.integer({ min: 2, max: 5 }),
  context: fc.integer({ min: 8, max: 16 }),
  output: fc.constant(0),
});
