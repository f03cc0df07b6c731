/**
 * Exhaustive hypothesis checks over the canonical program space: every
 * program and prompt is visited once, in order (one-head programs first,
 * short prompts first), and the first counterexample is reported.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hypothesisCommand } from "../../src/cli/hypothesisCmd.ts";
import { promptsUpTo, testExhaustive } from "../../src/hypothesis/exhaustive.ts";
import type { ProgramCase } from "../../src/hypothesis/catalog.ts";
import type { Hypothesis } from "../../src/hypothesis/hypothesis.ts";
import { load } from "../../src/lang/check.ts";
import { enumerateSpace, programToCandidate } from "../../src/recover/space.ts";
import { causal } from "../../hypotheses/example.ts";
import { runInProcess } from "../support/inProcess.ts";
import { fcParams } from "../support/seed.ts";

/** A hypothesis over program cases with the given check. */
const over = (check: (c: ProgramCase) => boolean | string): Hypothesis<ProgramCase> => ({
  name: "t", statement: "t", expected: "holds", cases: fc.constant(null as never), check, show: (c) => c.source, exhaustiveCase: (c) => c,
});

// The smallest space (match heads only): 710 programs, a few hundred µs each.
const SMALL = { offsets: [] as number[] };

describe("exhaustive hypotheses", () => {
  it("promptsUpTo gives every sequence once, shortest first", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 4 }), (v, L) => {
        const all = [...promptsUpTo(v, L)];
        let expected = 0;
        for (let l = 0; l <= L; l++) expected += v ** l;
        expect(all.length).toBe(expected);
        expect(new Set(all.map((p) => p.join())).size).toBe(expected);
        for (let i = 1; i < all.length; i++) expect(all[i]!.length).toBeGreaterThanOrEqual(all[i - 1]!.length);
        expect(all.every((p) => p.every((t) => t >= 0 && t < v))).toBe(true);
      }),
      fcParams({ numRuns: 30 }),
    );
  });

  it("a true hypothesis is checked on every program × prompt of the space", () => {
    const r = testExhaustive(causal, { maxLength: 1, space: SMALL });
    const size = [...enumerateSpace(SMALL)].length;
    expect(r).toMatchObject({ verdict: "not refuted", mode: "exhaustive", programs: size, spacePrograms: size, runs: size * 3 });
  });

  it("stops at the first counterexample in enumeration order", () => {
    // Refuted only by three-head programs on two-token prompts: the first one is the first
    // three-head candidate, after every shorter prompt of it.
    const r = testExhaustive(over((c) => c.program.layers.flat().length < 3 || c.prompt.length < 2 || "three heads"), { maxLength: 2, space: SMALL });
    const first = [...enumerateSpace(SMALL)].findIndex((c) => c.heads.length === 3);
    expect(r.verdict).toBe("refuted");
    expect(r.programs).toBe(first + 1);
    expect(r.runs).toBe(first * 7 + 4); // 1 + 2 + 4 prompts per program; the 4th of the last is "a a"
    const program = load({ path: "ce", text: r.counterexample! });
    expect(programToCandidate(program, SMALL)).toEqual([...enumerateSpace(SMALL)][first]);
  });

  it("a check that throws refutes, with the program and prompt shown", () => {
    const r = testExhaustive(over(() => { throw new Error("boom"); }), { space: SMALL });
    expect(r).toMatchObject({ verdict: "refuted", reason: "the check threw: boom", programs: 1, runs: 1 });
  });

  it("circuits hypothesis --exhaustive refutes the example's false hypothesis on the first program; the others run randomly", async () => {
    const out = await runInProcess(hypothesisCommand, "--file", "hypotheses/example.ts", "last-token-decides", "plain-arbitrary", "--exhaustive", "--json");
    expect(out.code).toBe(1);
    const [lt, plain] = JSON.parse(out.stdout) as { verdict: string; mode: string; programs?: number; counterexample: string }[];
    expect(lt).toMatchObject({ verdict: "refuted", mode: "exhaustive", programs: 1 });
    expect(lt!.counterexample).toContain("head h1: select j = i - 1; copy token[j] as next");
    expect(lt!.counterexample).toMatch(/input: a a$/);
    expect(plain).toMatchObject({ verdict: "not refuted", mode: "random" });
  });
});
