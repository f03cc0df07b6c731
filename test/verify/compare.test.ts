/**
 * makeComparer (no allocation, used by the exhaustive walk) gives exactly
 * comparePosition's verdicts and reports: on real runs of every example
 * program, on a model checked against the wrong semantics, and on residuals
 * and logits perturbed around the decoding thresholds.
 */
import { describe, expect, it } from "vitest";
import { BOS_ID } from "../../src/model/tokenIds.ts";
import { compile, type CompiledModel } from "../../src/compiler/compile.ts";
import { SymbolicRun } from "../../src/semantics/interpret.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { comparePosition, makeComparer } from "../../src/verify/compare.ts";
import { loadProgram, programNames } from "../support/programs.ts";

function sweep(model: CompiledModel, seed: number, perturb: boolean): { checked: number; disagreements: number } {
  const rand = mulberry32(seed);
  const compare = makeComparer(model);
  const { program, scales } = model;
  const L = program.layers.length;
  const marks = [0.5, scales.distTolerance, scales.logitScale / 2, 0];
  let checked = 0;
  let disagreements = 0;
  for (let s = 0; s < 40; s++) {
    const sim = new IncrementalRun(model.weights);
    const sym = new SymbolicRun(program);
    sim.push(BOS_ID);
    const n = 1 + Math.floor(rand() * Math.min(12, program.context - 1));
    for (let p = 1; p <= n; p++) {
      const t = Math.floor(rand() * program.vocab.length);
      sim.push(t + 1);
      sym.push(t);
      const resid = sim.residual(L);
      const logits = sim.logits();
      if (perturb) {
        for (let k = 0; k < 3; k++) {
          const m = marks[Math.floor(rand() * marks.length)]!;
          resid[Math.floor(rand() * resid.length)] = m + (rand() - 0.5) * 2 * scales.distTolerance;
        }
        if (rand() < 0.3) logits[1 + Math.floor(rand() * program.vocab.length)] += (rand() - 0.5) * scales.logitScale;
      }
      const want = comparePosition(model, sym, p, resid, logits);
      expect(compare(sym, p, resid, logits)).toEqual(want);
      checked++;
      if (want) disagreements++;
    }
  }
  return { checked, disagreements };
}

describe("makeComparer", () => {
  it("agrees with comparePosition on every example program, plain and perturbed", () => {
    let disagreements = 0;
    for (const [i, name] of programNames().entries()) {
      const model = compile(loadProgram(name));
      sweep(model, 100 + i, false);
      disagreements += sweep(model, 200 + i, true).disagreements;
    }
    expect(disagreements).toBeGreaterThan(0); // the perturbations did reach the thresholds
  });

  it("agrees with comparePosition on a model checked against the wrong semantics", () => {
    const wrong = { ...compile(loadProgram("induction-earliest")), program: loadProgram("induction") };
    expect(sweep(wrong, 7, false).disagreements).toBeGreaterThan(0);
  });
});
