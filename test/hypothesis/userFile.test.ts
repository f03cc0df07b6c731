/**
 * `circuits hypothesis --file`: a user's own hypotheses. The example file
 * runs through the real command (a separate process: TypeScript loaded by
 * tsx's tsImport), the bad-input cases and a plain .mjs file in-process.
 */
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hypothesisCommand } from "../../src/cli/hypothesisCmd.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { load } from "../../src/lang/check.ts";
import { valueEquals } from "../../src/semantics/values.ts";
import { HypothesisFileError, hypothesesOf } from "../../src/hypothesis/userFile.ts";
import { runInProcess } from "../support/inProcess.ts";
import { fcParams } from "../support/seed.ts";
import { cli } from "../support/spawn.ts";

const SEED = String(fcParams().seed);
const dir = mkdtempSync(join(tmpdir(), "hypfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write a file into the temporary directory and return its path. */
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const run = (...argv: string[]) => runInProcess(hypothesisCommand, ...argv);

describe("circuits hypothesis --file", () => {
  it("refutes the example's false hypothesis with a shrunk program printed as source, and exits 1", async () => {
    const out = await cli("hypothesis", "--file", "hypotheses/example.ts", "--runs", "100", "--seed", SEED);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^causal: not refuted after 100 cases/m);
    expect(out.stdout).toMatch(/^plain-arbitrary: not refuted after 100 cases/m);
    expect(out.stdout).toMatch(/^last-token-decides: refuted after \d+ cases/m);
    // The indented block under the refutation is a program that loads and still refutes.
    const block = out.stdout.split(/^last-token-decides: .*\n {2}shrunk counterexample.*\n/m)[1]!.split(/^\S/m)[0]!;
    const text = block.split("\n").map((l) => l.slice(4)).join("\n");
    const [source, inputLine] = text.split("\n\ninput: ");
    const program = load({ path: "counterexample", text: source! });
    const input = inputLine!.trim().split(" ").map((w) => program.vocab.indexOf(w));
    expect(input.length).toBeGreaterThan(0);
    expect(input.every((t) => t >= 0)).toBe(true);
    const whole = interpret(program, input).prediction(input.length);
    const alone = interpret(program, input.slice(-1)).prediction(1);
    expect(valueEquals(whole, alone)).toBe(false);
  }, 60_000);

  it("a file that does not import is one line on stderr naming it, exit 2, no stack trace", async () => {
    const out = await cli("hypothesis", "--file", file("broken.ts", "export const h = {;\n"));
    expect(out.code).toBe(2);
    expect(out.stdout).toBe("");
    expect(out.stderr.trim().split("\n")).toHaveLength(1);
    expect(out.stderr).toMatch(/broken\.ts: cannot import: /);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it("--json gives one result per hypothesis, and --list the file's hypotheses", async () => {
    const json = await run("--file", "test/hypothesis/fixtures/plain.mjs", "--runs", "50", "--seed", SEED, "--json");
    // small-squares is expected to fail and does: nothing surprising, exit 0.
    expect(json.code).toBe(0);
    const results = JSON.parse(json.stdout) as { name: string; verdict: string; counterexample: string | null; runs: number }[];
    expect(results.map((r) => [r.name, r.verdict])).toEqual([["sum-commutes", "not refuted"], ["small-squares", "refuted"]]);
    // Shrinking finds the least n with n² ≥ 50.
    expect(results[1]!.counterexample).toBe("n = 8");
    const list = await run("--file", "test/hypothesis/fixtures/plain.mjs", "--list");
    expect(list.stdout).toMatch(/sum-commutes\s+holds/);
    expect(list.stdout).toMatch(/small-squares\s+fails/);
    expect(await run("--file", "test/hypothesis/fixtures/plain.mjs", "nope")).toMatchObject({ code: 2, error: expect.stringMatching(/unknown 'nope' in .*plain\.mjs/) });
  });

  it("names one hypothesis of the file", async () => {
    const out = await run("--file", "test/hypothesis/fixtures/plain.mjs", "small-squares", "--runs", "50", "--seed", SEED);
    expect(out.stdout).toMatch(/^small-squares: refuted/);
    expect(out.stdout).not.toMatch(/sum-commutes/);
  });

  it("--help documents --file", async () => {
    expect(hypothesisCommand.help).toMatch(/--file F/);
  });

  const bad: [string, string, string, RegExp][] = [
    ["a missing file", "", "missing.ts", /missing\.ts: no such file$/],
    ["a syntax error", "syntax.ts", "export const = 3;\n", /syntax\.ts: cannot import: .*syntax\.ts:1:\d+: ERROR: /],
    ["a module that throws while loading", "throws.mjs", "throw new Error('top-level boom');\n", /throws\.mjs: cannot import: top-level boom$/],
    ["nothing that looks like a hypothesis", "nothing.ts", "export const x = 1;\nexport function f() { return 2; }\n", /nothing\.ts: exports no hypothesis/],
    ["a wrong shape", "shape.mjs", "export const h = { name: 'h', statement: 's', expected: 'holds', cases: 3, check: () => true, show: String };\n", /shape\.mjs: export 'h': cases must be a fast-check arbitrary$/],
    ["a bad expected", "expected.ts", "export default { name: 'h', statement: 's', expected: 'maybe', cases: null, check: () => true, show: String };\n", /expected\.ts: export 'default': expected must be "holds", "fails" or "open"$/],
    ["an unknown extension", "notes.txt", "hello\n", /notes\.txt: expected a \.ts, \.mts, \.js or \.mjs module/],
  ];
  for (const [what, name, text, message] of bad) {
    it(`${what}: exit 2 with a one-line message naming the file`, async () => {
      const path = name === "" ? join(dir, text) : file(name, text);
      const out = await run("--file", path);
      expect(out.code).toBe(2);
      expect(out.stdout).toBe("");
      expect(out.error).toMatch(message);
      expect(out.error).not.toContain("\n");
    });
  }
});

describe("hypothesesOf", () => {
  const valid = () => ({ name: "h", statement: "s", expected: "holds", cases: fc.nat(), check: () => true, show: String });
  const fields = ["name", "statement", "expected", "cases", "check", "show"] as const;

  it("rejects any hypothesis with a field missing or of the wrong type, naming the export and the field", () => {
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.constantFrom(undefined, 3, "x", null, {}), fc.boolean(), (field, value, inArray) => {
        const h: Record<string, unknown> = { ...valid(), [field]: value };
        // Only values that are actually wrong for the field count.
        if (field === "statement" && typeof value === "string") return;
        if (field === "name" && value === "x") return;
        const mod = inArray ? { all: [valid(), h] } : { good: valid(), bad: h };
        const where = inArray ? "export 'all[1]'" : "export 'bad'";
        if (inArray) (mod as { all: Record<string, unknown>[] }).all[0]!.name = "other";
        expect(() => hypothesesOf("f.ts", mod)).toThrow(HypothesisFileError);
        expect(() => hypothesesOf("f.ts", mod)).toThrow(new RegExp(`^f\\.ts: ${where.replace(/[[\]]/g, "\\$&")}: ${field} `));
      }),
      fcParams({ numRuns: 100 }),
    );
  });

  it("takes objects and arrays of them, once each, in export order; rejects two with one name", () => {
    const a = valid();
    const b = { ...valid(), name: "b" };
    expect(hypothesesOf("f.ts", { a, all: [a, b], n: 3 }).map((h) => h.name)).toEqual(["h", "b"]);
    expect(() => hypothesesOf("f.ts", { a, c: { ...valid() } })).toThrow("f.ts: export 'c': name 'h' is also used by export 'a'");
    expect(() => hypothesesOf("f.ts", { a: { ...valid(), name: "two words" } })).toThrow(/must not contain spaces/);
  });
});
