/**
 * CLI flag and file abuse (issue 8, defects 4 and 9), all through one driver
 * process: non-finite numbers, non-decimal integers, extra positionals,
 * non-regular and over-large program files, control bytes never echoed raw,
 * and one JSON error object on stdout under --json. Each case misbehaved
 * before the fix (internal error, silently read as 0 or 16, ignored, a FIFO
 * blocking forever, /dev/zero exhausting memory, plain-text errors).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { driver } from "../support/driver.ts";
import { programPath } from "../support/programs.ts";

const dir = mkdtempSync(join(tmpdir(), "circuits-hostile-"));
const fifo = join(dir, "fifo.circ");
execFileSync("mkfifo", [fifo]);
const big = join(dir, "big.circ");
writeFileSync(big, `# ${"x".repeat(1 << 20)}\n`);
const elf = join(dir, "elf.circ");
writeFileSync(elf, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(6000, 0x1b)]));
const ansi = join(dir, "ansi.circ");
writeFileSync(ansi, "vocab a b\ncontext 8\nlayer 1\n  head h: select j = i - 1; copy tok\u001b[2J[j] as p\noutput p\n");
const P = programPath("induction");

const CASES: Record<string, string[]> = {
  powerInf: ["generate", P, "--prompt", "a", "--steps", "3", "--power", "Infinity"],
  power1e309: ["generate", P, "--prompt", "a", "--steps", "3", "--power", "1e309"],
  tempNaN: ["generate", P, "--prompt", "a", "--steps", "3", "--temperature", "NaN"],
  stepsEmpty: ["generate", P, "--prompt", "a", "--steps", ""],
  stepsHex: ["generate", P, "--prompt", "a", "--steps", "0x10"],
  stepsExp: ["generate", P, "--prompt", "a", "--steps", "1e1"],
  stepsSpace: ["generate", P, "--prompt", "a", "--steps", " 5"],
  samplesFrac: ["check", P, "--samples", "2.5"],
  epsilonInf: ["run", P, "--input", "a", "--epsilon", "Infinity"],
  runExtra: ["run", P, "extra", "--input", "a"],
  layoutExtra: ["layout", P, P],
  fifo: ["check-syntax", fifo],
  devZero: ["check-syntax", "/dev/zero"],
  directory: ["check-syntax", dir],
  big: ["check-syntax", big],
  elf: ["check-syntax", elf],
  ansi: ["check-syntax", ansi],
  jsonProgram: ["check-syntax", ansi, "--json"],
  jsonUsage: ["run", P, "--json"],
  jsonInput: ["run", P, "--input", "zz", "--json"],
  jsonBadOption: ["run", P, "--frob", "--json"],
  ok: ["generate", P, "--prompt", "a b a", "--steps", "4"],
};

let results: Record<string, { code: unknown; stdout: string; stderr: string }>;
beforeAll(async () => {
  const names = Object.keys(CASES);
  const out = await driver(names.map((n) => CASES[n]!));
  results = Object.fromEntries(names.map((n, k) => [n, out[k]!]));
}, 60_000);

const usage = (name: string, re: RegExp) => {
  const r = results[name]!;
  expect(r.code, name).toBe(2);
  expect(r.stderr.trim().split("\n"), name).toHaveLength(1);
  expect(r.stderr, name).toMatch(re);
  expect(r.stderr).not.toMatch(/internal error|at .*\.ts:\d+/);
};

describe("flags", () => {
  it("non-finite numbers are one-line usage errors", () => {
    usage("powerInf", /--power must be a finite number, got 'Infinity'/);
    usage("power1e309", /--power must be a finite number, got '1e309'/);
    usage("tempNaN", /--temperature must be a finite number/);
    usage("epsilonInf", /--epsilon must be a finite number/);
  });

  it("integer flags take plain decimal digits only", () => {
    usage("stepsEmpty", /--steps must be an integer between 0 and 64, got ''/);
    usage("stepsHex", /got '0x10'/);
    usage("stepsExp", /got '1e1'/);
    usage("stepsSpace", /got ' 5'/);
    usage("samplesFrac", /--samples must be an integer/);
    expect(results.ok!.code).toBe(0);
  });

  it("extra positional arguments are refused by every command", () => {
    usage("runExtra", /run: unexpected argument 'extra'/);
    usage("layoutExtra", /layout: unexpected argument/);
  });
});

describe("program files", () => {
  it("a FIFO, /dev/zero and a directory are refused without reading; an over-large file by its size", () => {
    usage("fifo", /cannot read program file '.*fifo\.circ': not a regular file/);
    usage("devZero", /'\/dev\/zero': not a regular file/);
    usage("directory", /it is a directory/);
    usage("big", /program file '.*big\.circ' is 1\.0 MiB; at most 1 MiB is read/);
  });

  it("control bytes are errors with a location and are never echoed raw", () => {
    for (const name of ["elf", "ansi"]) {
      const r = results[name]!;
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/:1:1: error E002: control character U\+007F|:4:37: error E002: control character U\+001B/);
      // eslint-disable-next-line no-control-regex
      expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(r.stderr.length).toBeLessThan(1000);
    }
  });
});

describe("--json errors", () => {
  it("are one JSON object on stdout, nothing on stderr, exit code 2", () => {
    for (const [name, kind] of [["jsonProgram", "program"], ["jsonUsage", "usage"], ["jsonInput", "input"], ["jsonBadOption", "usage"]] as const) {
      const r = results[name]!;
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toBe("");
      const doc = JSON.parse(r.stdout) as { error: { kind: string; message: string } };
      expect(doc.error.kind, name).toBe(kind);
      expect(doc.error.message.length).toBeGreaterThan(0);
    }
    const prog = JSON.parse(results.jsonProgram!.stdout);
    expect(prog.error.diagnostics[0]).toMatchObject({ line: 4, column: 37, code: "E002" });
  });
});
