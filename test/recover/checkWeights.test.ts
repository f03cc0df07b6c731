/**
 * `check --weights`: any weights against any program, as fractions. On a
 * disguised compiled model its own program agrees ~100 % with ~100 %
 * attention on the heads that compute it; a wrong program (latest →
 * earliest, another head graph) clearly less; random and exhaustive probes;
 * a given mapping; programs outside the search space (two conjuncts,
 * positional shifts) work too; bad input is a one-line error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkCommand } from "../../src/cli/checkCmd.ts";
import { compile } from "../../src/compiler/compile.ts";
import { load } from "../../src/lang/check.ts";
import { editProgram } from "../../src/lang/edit.ts";
import type { Program } from "../../src/lang/program.ts";
import { saveWeights } from "../../src/model/weightsFile.ts";
import { checkWeights, CheckWeightsError } from "../../src/recover/checkWeights.ts";
import { disguiseWeights } from "../../src/recover/disguise.ts";
import { loadProgram, programPath } from "../support/programs.ts";
import { runInProcess } from "../support/inProcess.ts";

const dir = mkdtempSync(join(tmpdir(), "check-weights-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function disguised(p: Program) {
  const m = compile(p);
  return { weights: disguiseWeights(m.weights, { seed: 5, noise: 1e-5 }), tokens: m.tokens };
}

describe("checkWeights", () => {
  const induction = disguised(loadProgram("induction"));

  it("its own program: ~100 % everywhere; the earliest variant and the duplicate-token graph: clearly less", () => {
    const own = checkWeights(induction.weights, loadProgram("induction"), { tokens: induction.tokens, samples: 40 });
    expect(own.prediction.fraction).toBe(1);
    expect(own.prediction.classes.map((c) => c.class)).toEqual(expect.arrayContaining(["first copy", "second copy"]));
    expect(own.mapping).toBe("found");
    expect(own.heads.map((h) => [h.head, h.block, h.index])).toEqual([["previous", 0, 0], ["induction", 1, 0]]);
    for (const h of own.heads) expect(h.attention!).toBeGreaterThan(0.99);
    for (const h of own.heads) expect(h.bosWhenNone!).toBeGreaterThan(0.99);

    const earliest = checkWeights(induction.weights, loadProgram("induction-earliest"), { tokens: induction.tokens, samples: 40 });
    expect(earliest.prediction.fraction!).toBeLessThan(0.6);
    expect(earliest.heads[1]!.attention!).toBeLessThan(0.5);
    const dup = checkWeights(induction.weights, loadProgram("duplicate-token"), { tokens: induction.tokens, samples: 40 });
    expect(dup.prediction.fraction!).toBeLessThan(0.3);
  });

  it("exhaustive probes, a given mapping, and programs outside the search space", () => {
    const ex = checkWeights(induction.weights, loadProgram("induction"), { tokens: induction.tokens, exhaustiveLength: 3 });
    expect(ex.sequences).toBe(8 ** 3);
    expect(ex.prediction.fraction).toBe(1);
    expect(ex.prediction.total).toBe(3 * 8 ** 3);
    expect(ex.prediction.classes.map((c) => c.class)).toEqual(["position 1", "position 2", "position 3"]);
    // Position 3 is predicted exactly when token 3 equals token 1 (prev[2] == token[3]): 8² of 8³ sequences.
    expect(ex.prediction.classes[2]).toMatchObject({ defined: 64, agree: 64 });
    const swapped = checkWeights(induction.weights, loadProgram("induction"), {
      tokens: induction.tokens,
      samples: 20,
      map: new Map([["previous", { block: 1, index: 0 }], ["induction", { block: 0, index: 0 }]]),
    });
    expect(swapped.mapping).toBe("given");
    expect(swapped.heads[0]!.attention!).toBeLessThan(0.5);
    for (const name of ["bigram-induction", "q-composition"]) {
      const d = disguised(loadProgram(name));
      const r = checkWeights(d.weights, loadProgram(name), { tokens: d.tokens, samples: 20 });
      expect(r.prediction.fraction, name).toBe(1);
      for (const h of r.heads) expect(h.attention!, `${name} ${h.head}`).toBeGreaterThan(0.99);
    }
  });

  it("rejects weights that do not fit the program", () => {
    const other = load({ path: "x", text: "vocab a b c\ncontext 8\nlayer 1\n head h: select j = i - 1; copy token[j] as f\noutput f\n" });
    expect(() => checkWeights(induction.weights, other)).toThrow(CheckWeightsError);
    expect(() => checkWeights(induction.weights, other)).toThrow(/9 token ids but the program's vocabulary needs 4/);
    const renamed = editProgram(loadProgram("induction"), { vocab: ["a", "b", "c", "d", "e", "f", "g", "z"] });
    expect(() => checkWeights(induction.weights, renamed, { tokens: induction.tokens })).toThrow(/token id 8 is 'h'/);
    expect(() => checkWeights(induction.weights, loadProgram("induction"), { exhaustiveLength: 7 })).toThrow(/more than 50000/);
  });
});

describe("circuits check --weights", () => {
  const model = join(dir, "ind.safetensors");
  const d = disguised(loadProgram("induction"));
  saveWeights(model, d.weights, { tokens: d.tokens });

  const run = (...argv: string[]) => runInProcess(checkCommand, ...argv);

  it("reports fractions per class and per head, text and --json; exit 0 even for a poor fit", async () => {
    const r = await run("--weights", model, programPath("induction"), "--samples", "20");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/prediction agreement: 100\.0 % of the \d+ positions where the program predicts a token/);
    expect(r.stdout).toMatch(/second copy\s+100\.0 %/);
    expect(r.stdout).toMatch(/previous\s+→ blocks\.0 head 0: 100\.0 % of attention/);
    const j = JSON.parse((await run("--weights", model, programPath("induction-earliest"), "--samples", "20", "--json")).stdout);
    expect(j.mode).toBe("random");
    expect(j.prediction.fraction).toBeLessThan(0.6);
    expect(j.heads[1]).toMatchObject({ head: "induction", block: 1, index: 0 });
    const m = JSON.parse((await run("--weights", model, programPath("induction"), "--exhaustive", "--max-length", "2", "--map", "previous=0.0,induction=1.0", "--json")).stdout);
    expect(m).toMatchObject({ mode: "exhaustive", sequences: 64, mapping: "given" });
  });

  it("bad input: one-line errors, exit 2", async () => {
    expect((await run("--weights", join(dir, "missing.safetensors"), programPath("induction"))).error).toMatch(/cannot read model file/);
    expect((await run("--weights", model, programPath("induction"), "--map", "previous=0")).error).toMatch(/is not HEAD=BLOCK\.HEAD/);
    expect((await run("--weights", model, programPath("induction"), "--map", "nope=0.0")).error).toMatch(/the program has no head 'nope'/);
    expect((await run("--weights", model, programPath("induction"), "--map", "previous=5.0")).error).toMatch(/is not a head of the model/);
    expect((await run("--weights", model, programPath("bigram-induction"))).error).toMatch(/vocabulary/);
    expect((await run("--weights", model, programPath("induction"), "--exhaustive")).error).toMatch(/needs --max-length/);
    expect((await run("--weights", model, programPath("induction"), "--workers", "2")).error).toMatch(/--workers does not apply/);
    expect((await run(programPath("induction"), "--map", "a=0.0")).error).toMatch(/--map applies to --weights/);
  });
});
