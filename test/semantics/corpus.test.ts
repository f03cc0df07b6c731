/**
 * The hand-worked corpus (test/support/corpus.ts) through the reference
 * interpreter, through the naive oracle, so that a wrong corpus entry and
 * a wrong interpreter cannot hide behind each other, and through the
 * compiled weights run by the simulator (float64 and float32), every pinned
 * feature decoded from the residual stream.
 */
import { describe, expect, it } from "vitest";
import { BOS_ID } from "../../src/model/tokenIds.ts";
import { compile } from "../../src/compiler/compile.ts";
import { decodedAgrees, decodeFeature } from "../../src/compiler/decode.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { formatValue, mass, mode, type Value, valueEquals } from "../../src/semantics/values.ts";
import { CORPUS, type CorpusCase, corpusProgram, encodeNames, expectedValue, INLINE_PROGRAMS } from "../support/corpus.ts";
import { naiveRun } from "../support/naive.ts";
import { programNames } from "../support/programs.ts";
import type { Program } from "../../src/lang/program.ts";

function show(program: Program, feature: string, vs: readonly Value[]): string {
  const domain = program.features.get(feature)!.domain;
  return vs.map((v) => formatValue(program, domain, v)).join(" | ");
}

/** Every (feature, expected values) pair a case pins, the output first. */
function pinned(c: CorpusCase, program: Program): [string, readonly (typeof c.predictions)[number][]][] {
  return [[program.output, c.predictions], ...Object.entries(c.features ?? {})];
}

describe("corpus", () => {
  it("has several cases for every example program, and uses every inline program", () => {
    for (const name of [...programNames(), ...Object.keys(INLINE_PROGRAMS)]) {
      const n = CORPUS.filter((c) => c.program === name).length;
      expect(n, name).toBeGreaterThanOrEqual(programNames().includes(name) ? 4 : 1);
    }
    expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
  });

  describe.each(CORPUS.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const program = corpusProgram(c.program);
    const tokens = encodeNames(program, c.input);

    it("interpret gives the hand-worked values", () => {
      const run = interpret(program, tokens);
      expect(run.length).toBe(tokens.length + 1);
      for (const [feature, expected] of pinned(c, program)) {
        const domain = program.features.get(feature)!.domain;
        const want = expected.map((e) => expectedValue(program, domain, e));
        const got = want.map((_, k) => run.value(feature, k + 1));
        const same = want.every((w, k) => valueEquals(got[k]!, w));
        expect(same, `${feature}: got ${show(program, feature, got)}, want ${show(program, feature, want)} (${c.why})`).toBe(true);
      }
    });

    it.each(["float64", "float32"] as const)("the compiled weights decode to the hand-worked values (%s)", (precision) => {
      const model = compile(program, { precision });
      const sim = new IncrementalRun(model.weights, { precision });
      sim.push(BOS_ID);
      const pins = pinned(c, program);
      tokens.forEach((t, k) => {
        sim.push(t + 1);
        const resid = sim.residual(program.layers.length);
        for (const [feature, expected] of pins) {
          const f = program.features.get(feature)!;
          const want = expectedValue(program, f.domain, expected[k]!);
          const got = decodeFeature(model.layout, f, resid, model.scales.distTolerance);
          expect(decodedAgrees(want, got, model.scales.distTolerance), `${feature} at position ${k + 1}: decoded ${JSON.stringify(got instanceof Map ? [...got] : got)}, want ${show(program, feature, [want])} (${c.why})`).toBe(true);
        }
      });
    });

    it("the naive oracle agrees", () => {
      const trace = naiveRun(program, tokens);
      for (const [feature, expected] of pinned(c, program)) {
        const domain = program.features.get(feature)!.domain;
        const want = expected.map((e) => expectedValue(program, domain, e));
        const got = trace.get(feature)!.slice(1);
        expect(want.every((w, k) => valueEquals(got[k]!, w)), `${feature}: naive ${show(program, feature, got)}`).toBe(true);
      }
    });
  });
});

describe("distribution values of the corpus", () => {
  it("a two-way tie is exactly {b: 1/2, c: 1/2} and its mode is the smaller index", () => {
    const program = corpusProgram("every-average");
    const v = interpret(program, encodeNames(program, ["a", "b", "a", "c", "a"])).prediction(5);
    expect(formatValue(program, "token", v)).toBe("{b: 1/2, c: 1/2}");
    expect(v !== null && typeof v === "object" && mass(v).equals(1)).toBe(true);
    expect(mode(v)).toBe(program.vocab.indexOf("b"));
  });

  it("a sub-distribution keeps its missing mass: {a: 1/3, b: 1/3} has mass 2/3", () => {
    const program = corpusProgram("every-sub-distribution");
    const v = interpret(program, encodeNames(program, ["a", "b", "c"])).prediction(3);
    expect(formatValue(program, "token", v)).toBe("{a: 1/3, b: 1/3}");
    expect(v !== null && typeof v === "object" && mass(v).toFraction()).toBe("2/3");
  });
});
