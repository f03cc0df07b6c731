/**
 * `circuits analyze` and `circuits decompile`, run in-process through their
 * Command objects with real argv parsing (the commands are registered in
 * src/cli/commands.ts by the lead; test/cli covers the process boundary).
 * User errors must be one-line UsageErrors, which main.ts maps to exit 2.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { analyzeCommand } from "../../src/cli/analyzeCmd.ts";
import { decompileCommand } from "../../src/cli/decompileCmd.ts";
import { compile } from "../../src/compiler/compile.ts";
import { layoutToJson } from "../../src/compiler/layout.ts";
import { saveWeights } from "../../src/model/weightsFile.ts";
import { load } from "../../src/lang/check.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { runInProcess } from "../support/inProcess.ts";
import { loadProgram, PROGRAMS_DIR } from "../support/programs.ts";

const run = runInProcess;

const dir = mkdtempSync(join(tmpdir(), "circuits-analysis-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const induction = `${PROGRAMS_DIR}/induction.circ`;

function saved(name: string, withLayout: boolean): string {
  const m = compile(loadProgram(name));
  const path = join(dir, `${name}${withLayout ? "" : "-bare"}.safetensors`);
  // Without a layout the tokens stay, so detection still knows which id is BOS.
  saveWeights(path, m.weights, withLayout ? { tokens: m.tokens, layout: layoutToJson(m.layout), program: m.program.source.text } : { tokens: m.tokens });
  return path;
}

describe("circuits analyze", () => {
  it("prints the composition table, the program's graph recovered, copying and detection", async () => {
    const r = await run(analyzeCommand, induction);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/previous\s+induction\s+prev\s+0\.0000\s+0\.0816\s+0\.0000/);
    expect(r.stdout).toContain("detected graph: previous → induction K (prev)");
    expect(r.stdout).toContain("the detected graph equals the program's composition graph");
    expect(r.stdout).toMatch(/induction\s+1\s+1\.000\s+copier/);
    expect(r.stdout).toMatch(/previous\s+0\s+1\.000\s+0\.000\s+0\.000\s+previous-token/);
    expect(r.stdout).toMatch(/in-context learning: .* = -2\.079/);
  });

  it("--json carries scores, the comparison and detection; a model file's stored program is compared too", async () => {
    for (const arg of [induction, saved("induction", true)]) {
      const r = await run(analyzeCommand, arg, "--json");
      const j = JSON.parse(r.stdout);
      expect(j.composition.detected).toEqual([expect.objectContaining({ from: "previous", to: "induction", kind: "K", feature: "prev" })]);
      expect(j.program.recovered).toBe(true);
      expect(j.copying.map((h: { score: number }) => h.score)).toEqual([0, 1]);
      expect(j.detection.heads[1].induction).toBeGreaterThan(0.99);
    }
  });

  it("exit 1 when the detected graph misses the program's (a rule no score can meet)", async () => {
    const r = await run(analyzeCommand, induction, "--sigmas", "1000");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("NOT recovered — missing: previous → induction K (prev); extra: none");
  });

  it("user errors are one line (exit 2)", async () => {
    for (const [argv, msg] of [
      [[], /missing PROGRAM or MODEL/],
      [[join(dir, "none.safetensors")], /cannot read model file/],
      [[induction, "--threshold", "x"], /--threshold must be a number/],
      [[induction, "--sigmas", "0"], /--sigmas must be a number/],
      [[induction, "--sigmas", "3", "--threshold", "0.5"], /exclude each other/],
      [[induction, "--frobnicate"], /Unknown option/],
      [[induction, "extra"], /unexpected argument/],
    ] as const) {
      const r = await run(analyzeCommand, ...argv);
      expect(r.code).toBe(2);
      expect(r.error).toMatch(msg);
      expect(r.error).not.toContain("\n");
    }
    expect(analyzeCommand.help).toMatch(/^usage: circuits analyze PROGRAM\|MODEL\.safetensors/);
  });
});

describe("circuits decompile", () => {
  it("prints the recovered program of a compiled file", async () => {
    const r = await run(decompileCommand, saved("bigram-induction", true));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("head induction: select latest j < i where prev[j] == token[i] and prev2[j] == prev[i]; copy token[j] as next");
    const j = JSON.parse((await run(decompileCommand, saved("q-composition", true), "--json")).stdout);
    expect(j.program).toContain("select latest j <= i where pos[j] == seen[i] + 1");
    expect(j.heads[1]).toMatchObject({ name: "after", select: { kind: "match", rule: "latest", strict: false } });
  });

  it("without a layout: searches the program space and prints a loadable program with its mapping", async () => {
    const r = await run(decompileCommand, saved("induction", false), "--repeats", "8", "--uniform", "8");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# .*no layout in the file — searched \d+ programs/);
    expect(r.stdout).toContain("# fits: the best program agrees with the model on 100.0 %");
    expect(r.stdout).toContain("  head h2: select latest j < i where prev[j] == token[i]; copy token[j] as next");
    expect(r.stdout).toMatch(/# {2}h1 → blocks\.0 head 0: 100\.0 % of attention/);
    expect(r.stdout).toMatch(/#   second copy\s+100\.0 %/);
    // The whole report is a program file: every other line is a comment.
    expect(load({ path: "report", text: r.stdout }).layers.flat().map((h) => h.name)).toEqual(["h1", "h2"]);
    const j = JSON.parse((await run(decompileCommand, saved("induction", false), "--repeats", "8", "--uniform", "8", "--json")).stdout);
    expect(j).toMatchObject({ fits: true, best: { heads: [{ head: "h1", block: 0, index: 0 }, { head: "h2", block: 1, index: 0 }] } });
    expect(j.program).toContain("select j = i - 1; copy token[j] as prev");
  });

  it("without a layout and nothing fitting: says so, shows what the weights alone show, exits 1", async () => {
    const path = join(dir, "random.safetensors");
    saveWeights(path, randomWeights({ d_model: 16, d_head: 4, n_heads: 2, n_layers: 2, n_ctx: 12, d_vocab: 6 }, 4));
    const r = await run(decompileCommand, path, "--repeats", "8", "--uniform", "8");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^# nothing fits/m);
    expect(r.stdout).toContain("# no program text recovered: nothing in the search space fits");
    expect(r.stdout).toContain("detected graph");
    expect((await run(decompileCommand, path, "--conjuncts", "3")).error).toMatch(/--conjuncts must be an integer between 1 and 2/);
    expect((await run(decompileCommand, path, "--min-attention", "2")).error).toMatch(/--min-attention must be a number in \[0, 1\]/);
  });

  it("errors are one line: a missing file, a program that does not check", async () => {
    expect((await run(decompileCommand)).error).toMatch(/missing PROGRAM or MODEL/);
    const r = await run(decompileCommand, join(dir, "missing.circ"));
    expect(r.code).toBe(2);
    expect(r.error).toMatch(/cannot read program file/);
    expect(decompileCommand.help).toMatch(/^usage: circuits decompile MODEL\.safetensors/);
  });

  it("weights that are not a compiled program: one line naming the head and entry (exit 2)", async () => {
    const m = compile(loadProgram("induction"));
    const W_O = m.weights.blocks[1]!.W_O;
    const data = Float64Array.from(W_O.data);
    data[m.layout.space.at("next:b")] = 0.25; // the induction head writes next:b from next:a's value slot
    const blocks = [m.weights.blocks[0]!, { ...m.weights.blocks[1]!, W_O: { shape: W_O.shape, data } }];
    const path = join(dir, "tampered.safetensors");
    saveWeights(path, { ...m.weights, blocks }, { tokens: m.tokens, layout: layoutToJson(m.layout) });
    const r = await run(decompileCommand, path);
    expect(r.code).toBe(2);
    expect(r.error).toMatch(/^decompile: .*tampered\.safetensors: head L1H0: W_OV token → next is not a copy \(entry token:a → next:b = 0\.25\)$/);
  });
});
