/**
 * The `circuits` CLI as a user runs it. A fresh `node bin/circuits.js` costs
 * about 0.7 s (tsx startup), so only the end-to-end
 * essentials are separate processes: exact --json output and a program with a
 * mistake (exit code 2, `file:line:col`, no stack trace). The rest runs
 * through test/cli/driver.ts: one process that evaluates src/cli/main.ts once
 * per invocation, with real argv, stdout, stderr and exit code. All three
 * processes start together in beforeAll and each test awaits its result.
 *
 * `run` compiles and simulates by default and then adds compiled/agree fields
 * to its JSON; the exact-output check uses --symbolic-only, the default path
 * is checked to carry the same tokens and predictions.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { programNames } from "../support/programs.ts";
import { cli, node, type Outcome } from "../support/spawn.ts";

/** The input every example program runs on (a b c d are in every vocabulary). */
const INPUT = "a b c a b d a b";

/**
 * Hand-worked predictions on INPUT (positions 1 … 8), as run --json prints
 * them: null for ⊥, {token: p} with p a JSON number for a distribution.
 */
const ON_INPUT: Record<string, unknown[]> = {
  // latest earlier a (4) is followed by b; latest earlier b (5) by d
  induction: [null, null, null, "b", "c", null, "b", "d"],
  "induction-earliest": [null, null, null, "b", "c", null, "b", "c"],
  "previous-token": [null, "a", "b", "c", "a", "b", "d", "a"],
  "v-composition": [null, null, null, "a", "b", "c", "a", "b"],
  // before = token preceding the latest earlier copy (⊥ when that copy is at 1)
  "duplicate-token": [null, null, null, null, "a", null, "c", "a"],
  // successors of b at 8: c (after 2) and d (after 5)
  "every-average": [null, null, null, { b: 1 }, { c: 1 }, null, { b: 1 }, { c: 0.5, d: 0.5 }],
  // no immediate repeats in INPUT, so the same as induction
  "q-composition": [null, null, null, "b", "c", null, "b", "d"],
  // bigram (a b) at 5 and 8: latest earlier (a b) is followed by c, then by d
  "bigram-induction": [null, null, null, null, "c", null, null, "d"],
};

const dir = mkdtempSync(join(tmpdir(), "circuits-cli-"));
const mistake = join(dir, "mistake.circ");
writeFileSync(mistake, "vocab a b c\ncontext 8\nlayer 1\n  head h: select j = i - 1; copy tok[j] as p\noutput p\n");
const tooLong = Array.from({ length: 64 }, () => "a").join(" ");
const longest = Array.from({ length: 63 }, (_, k) => "abcdefgh"[k % 8]).join(" ");

const BATCH: Record<string, string[]> = {
  ...Object.fromEntries(programNames().map((name) => [`program:${name}`, ["run", `programs/${name}.circ`, "--input", INPUT, "--json"]])),
  defaultJson: ["run", "programs/induction.circ", "--input", "a b c d a b c", "--json"],
  table: ["run", "programs/every-average.circ", "--input", "a b a c a", "--trace", "--symbolic-only"],
  unknownToken: ["run", "programs/induction.circ", "--input", "a z b"],
  tooLong: ["run", "programs/induction.circ", "--input", tooLong, "--symbolic-only"],
  longest: ["run", "programs/induction.circ", "--input", longest, "--json", "--symbolic-only"],
  missingFile: ["run", "programs/no-such-program.circ", "--input", "a"],
  unknownOption: ["run", "programs/induction.circ", "--input", "a", "--frobnicate"],
  unknownCommand: ["frobnicate"],
  noArguments: [],
  topHelp: ["--help"],
  checkSyntax: ["check-syntax", "programs/q-composition.circ", "--json"],
  checkSyntaxMistake: ["check-syntax", mistake],
};
/** Expanded by the driver to `NAME --help` for every command; kept last. */
const EACH_COMMAND_HELP = ["<each-command>", "--help"];

let processes: {
  json: Promise<Outcome>;
  mistake: Promise<Outcome>;
  batch: Promise<Record<string, Outcome>>;
};

/**
 * Run named invocations, then `--help` for every command, through the driver.
 * Resolves to name → outcome, with each command's help under "help:NAME".
 */
async function driver(invocations: Record<string, string[]>): Promise<Record<string, Outcome>> {
  const names = Object.keys(invocations);
  const argvs = [...names.map((n) => invocations[n]!), EACH_COMMAND_HELP];
  const out = await node(["--import", "tsx", "test/cli/driver.ts", JSON.stringify(argvs)]);
  if (out.code !== 0) throw new Error(`driver failed (${out.code}): ${out.stderr}`);
  const results = JSON.parse(out.stdout) as (Outcome & { argv: string[] })[];
  const named: Record<string, Outcome> = Object.fromEntries(names.map((n, k) => [n, results[k]!]));
  for (const r of results.slice(names.length)) named[`help:${r.argv[0]}`] = r;
  return named;
}

beforeAll(() => {
  processes = {
    json: cli("run", "programs/induction.circ", "--input", "a b c d a b c", "--json", "--symbolic-only"),
    mistake: cli("run", mistake, "--input", "a b"),
    batch: driver(BATCH),
  };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Command names listed by the top-level help ("  name  summary" lines). */
function commandNames(help: string): string[] {
  return help
    .split("\n")
    .map((l) => /^ {2}([a-z][a-z-]*) {2,}\S/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

const noStackTrace = (o: Outcome) => {
  expect(o.stderr).not.toContain("    at ");
  expect(o.stdout).not.toContain("    at ");
};

describe("circuits (separate processes)", () => {
  it("run --json --symbolic-only on induction prints exactly the tokens and predictions", async () => {
    const o = await processes.json;
    expect(o.code).toBe(0);
    expect(JSON.parse(o.stdout)).toEqual({
      tokens: ["a", "b", "c", "d", "a", "b", "c"],
      predictions: [null, null, null, null, "b", "c", "d"],
    });
    expect(o.stderr).toBe("");
  });

  it("a program with a mistake exits 2 with file:line:col and no stack trace", async () => {
    const o = await processes.mistake;
    expect(o.code).toBe(2);
    expect(o.stderr).toContain(`${mistake}:4:34: error E031: unknown feature 'tok'`);
    expect(o.stderr).toContain("  4 |   head h: select j = i - 1; copy tok[j] as p");
    expect(o.stdout).toBe("");
    noStackTrace(o);
  });
});

describe("circuits (one process, one main.ts per invocation)", () => {
  it("knows the predictions of every example program", () => {
    expect(Object.keys(ON_INPUT).sort()).toEqual(programNames());
  });

  it.each(programNames())("runs %s with exit 0 and the hand-worked predictions", async (name) => {
    const o = (await processes.batch)[`program:${name}`]!;
    expect(o.stderr).toBe("");
    expect(o.code).toBe(0);
    const json = JSON.parse(o.stdout) as { tokens: string[]; predictions: unknown[] };
    expect(json.tokens).toEqual(INPUT.split(" "));
    expect(json.predictions).toEqual(ON_INPUT[name]);
  });

  it("run --json (compiled side included) still carries exactly the symbolic tokens and predictions", async () => {
    const o = (await processes.batch).defaultJson!;
    expect(o.code).toBe(0);
    expect(JSON.parse(o.stdout)).toMatchObject({
      tokens: ["a", "b", "c", "d", "a", "b", "c"],
      predictions: [null, null, null, null, "b", "c", "d"],
    });
  });

  it("prints a table with exact fractions and the trace", async () => {
    const o = (await processes.batch).table!;
    expect(o.code).toBe(0);
    const rows = o.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^pos\s+token\s+prev \(L1\)\s+next \(L2\)/);
    expect(rows.at(-1)).toMatch(/^5\s+a\s+c\s+\{b: 1\/2, c: 1\/2\}/);
    expect(rows).toHaveLength(2 + 5);
  });

  it("an unknown input token exits 2 naming the token", async () => {
    const o = (await processes.batch).unknownToken!;
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/^circuits: .*'z'.*vocabulary/);
    expect(o.stdout).toBe("");
    noStackTrace(o);
  });

  it("an input longer than context-1 exits 2; exactly context-1 tokens run", async () => {
    const batch = await processes.batch;
    expect(batch.tooLong!.code).toBe(2);
    expect(batch.tooLong!.stderr).toMatch(/64 tokens.*context 64/);
    noStackTrace(batch.tooLong!);
    expect(batch.longest!.code).toBe(0);
    expect((JSON.parse(batch.longest!.stdout) as { predictions: unknown[] }).predictions).toHaveLength(63);
  });

  it("a missing program file exits 2 naming the file", async () => {
    const o = (await processes.batch).missingFile!;
    expect(o.code).toBe(2);
    expect(o.stderr).toContain("programs/no-such-program.circ");
    noStackTrace(o);
  });

  it("an unknown option or command exits 2; no command at all prints help and exits 2", async () => {
    const batch = await processes.batch;
    expect(batch.unknownOption!.code).toBe(2);
    expect(batch.unknownOption!.stderr).toContain("frobnicate");
    noStackTrace(batch.unknownOption!);
    expect(batch.unknownCommand!.code).toBe(2);
    expect(batch.unknownCommand!.stderr).toContain("unknown command 'frobnicate'");
    expect(batch.noArguments!.code).toBe(2);
    expect(batch.noArguments!.stdout).toMatch(/usage: circuits COMMAND/);
  });

  it("check-syntax --json reports the composition graph; a mistake exits 2", async () => {
    const batch = await processes.batch;
    expect(batch.checkSyntax!.code).toBe(0);
    const json = JSON.parse(batch.checkSyntax!.stdout) as { ok: boolean; composition: unknown[]; beyondInduction: string[] };
    expect(json.ok).toBe(true);
    expect(json.composition).toEqual([{ from: "seen", to: "after", kind: "Q", feature: "seen" }]);
    expect(json.beyondInduction).toEqual(["after"]);
    expect(batch.checkSyntaxMistake!.code).toBe(2);
    expect(batch.checkSyntaxMistake!.stderr).toContain(`${mistake}:4:34: error E031`);
  });

  it("--help at the top level lists every command and exits 0", async () => {
    const batch = await processes.batch;
    const o = batch.topHelp!;
    expect(o.code).toBe(0);
    expect(o.stdout).toMatch(/usage: circuits COMMAND/);
    const listed = commandNames(o.stdout);
    expect(listed).toEqual(expect.arrayContaining(["run", "check-syntax"]));
    expect(Object.keys(batch).filter((k) => k.startsWith("help:")).map((k) => k.slice(5))).toEqual(listed);
  });

  it("--help works for every command", async () => {
    const batch = await processes.batch;
    const helps = Object.entries(batch).filter(([k]) => k.startsWith("help:"));
    expect(helps.length).toBeGreaterThanOrEqual(2);
    for (const [key, o] of helps) {
      const name = key.slice("help:".length);
      expect(o.code, name).toBe(0);
      expect(o.stdout, name).toContain(`usage: circuits ${name}`);
      expect(o.stderr, name).toBe("");
    }
  });
});
