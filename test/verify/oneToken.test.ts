/**
 * Regression: a one-token vocabulary. The logits' spread over real tokens is
 * always 0 when V = 1, so judging "flat" (⊥) by that spread called every
 * prediction ⊥ and reported disagreements that were not there.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { checkExhaustive, compareSequence } from "../../src/verify/check.ts";
import { cli } from "../support/spawn.ts";
import { loadSource } from "../support/programs.ts";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const text = ["vocab a", "context 8", "layer 1", "  head previous: select j = i - 1; copy token[j] as prev", "output prev"].join("\n");

describe("one-token vocabulary", () => {
  it("`a a`: symbolic and compiled both say [⊥, a], and the comparison agrees", () => {
    const program = loadSource(text);
    const run = interpret(program, [0, 0]);
    expect([run.prediction(1), run.prediction(2)]).toEqual([null, 0]);
    expect(compareSequence(compile(program), [0, 0])).toBeNull();
    expect(checkExhaustive(compile(program), { maxLength: 7 }).disagreements).toBe(0);
  });

  it("the CLI agrees: run says the weights agree, check exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "one-token-"));
    const path = join(dir, "a.circ");
    writeFileSync(path, text);
    const r = await cli("run", path, "--input", "a a");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("compiled weights agree with the semantics");
    const c = await cli("check", path, "--exhaustive", "--max-length", "5", "--json");
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout).disagreements).toBe(0);
  });
});
