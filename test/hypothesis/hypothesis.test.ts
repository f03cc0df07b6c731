import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HYPOTHESES, hypothesisNamed } from "../../src/hypothesis/catalog.ts";
import { testHypothesis } from "../../src/hypothesis/hypothesis.ts";
import { load } from "../../src/lang/check.ts";
import { finiteStateLoop } from "../../src/generate/finiteState.ts";

describe("hypothesis search", () => {
  for (const h of HYPOTHESES) {
    it(`${h.name}: the search agrees with what is known (${h.expected})`, () => {
      const r = testHypothesis(h, { runs: 60, seed: 7 });
      expect(r.verdict).toBe(h.expected === "fails" ? "refuted" : "not refuted");
    });
  }

  it("a refutation is shrunk to a tiny program whose printed source loads and still refutes", () => {
    const h = hypothesisNamed("loops-within-vocabulary")!;
    const r = testHypothesis(h, { runs: 200, seed: 1 });
    expect(r.verdict).toBe("refuted");
    const [source, promptLine] = r.counterexample!.split("\n\nprompt: ");
    const program = load({ path: "counterexample", text: source! });
    expect(program.layers.flat().length).toBe(1); // shrunk to one head
    const prompt = promptLine!.trim() === "(empty)" ? [] : promptLine!.trim().split(" ").map((w) => program.vocab.indexOf(w));
    const { cycle } = finiteStateLoop(program, prompt);
    expect(cycle!.period).toBeGreaterThan(program.vocab.length);
  });

  it("is deterministic for a seed", () => {
    const h = hypothesisNamed("latest-equals-earliest")!;
    const a = testHypothesis(h, { runs: 50, seed: 3 });
    const b = testHypothesis(h, { runs: 50, seed: 3 });
    expect({ ...a, seconds: 0 }).toEqual({ ...b, seconds: 0 });
  });

  it("a check that throws is reported, not swallowed", () => {
    const h = { ...hypothesisNamed("compiled-agrees")!, cases: fc.constant(null as never), check: () => { throw new Error("boom"); }, show: () => "the case" };
    expect(testHypothesis(h, { runs: 1 })).toMatchObject({ verdict: "refuted", reason: "the check threw: boom", counterexample: "the case" });
  });
});
