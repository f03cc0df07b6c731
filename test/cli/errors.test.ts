/**
 * Errors carry a kind and fields, and exit codes are decided in one place
 * (src/cli/exitCodes.ts): the CLI never reads a message to decide what went
 * wrong, and a bug (exit 70) is never mistaken for a finding (exit 1).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT, errorKind, exitCodeOf, verdict } from "../../src/cli/exitCodes.ts";
import { UsageError } from "../../src/cli/usageError.ts";
import { CircuitsError, WeightsFileError } from "../../src/errors.ts";
import { loadWeights } from "../../src/model/weightsFile.ts";
import { programPath, REPO_ROOT } from "../support/programs.ts";
import { driver } from "../support/driver.ts";

describe("exit codes", () => {
  it("maps every CircuitsError to 2, anything else to 70, verdicts to 0/1", () => {
    expect(exitCodeOf(new UsageError("x"))).toBe(EXIT.badInput);
    expect(exitCodeOf(new WeightsFileError("x", "corrupt"))).toBe(2);
    expect(exitCodeOf(new TypeError("a bug"))).toBe(70);
    expect(exitCodeOf("a string")).toBe(70);
    expect(errorKind(new WeightsFileError("x", "not-found"))).toBe("weights");
    expect([verdict(true), verdict(false)]).toEqual([0, 1]);
  });

  it("a CircuitsError is one line, and within() keeps its class and fields", () => {
    const e = new WeightsFileError("first\nsecond", "corrupt", { path: "m.safetensors" }).within("check");
    expect(e).toBeInstanceOf(WeightsFileError);
    expect([e.message, e.reason, e.path]).toEqual(["check: first", "corrupt", "m.safetensors"]);
  });

  it("the library says why a weights file failed in a field, not only in words", () => {
    const dir = mkdtempSync(join(tmpdir(), "errors-"));
    const missing = join(dir, "none.safetensors"), garbage = join(dir, "bad.safetensors");
    writeFileSync(garbage, "not a safetensors file");
    const reasonOf = (p: string) => { try { loadWeights(p); return null; } catch (e) { return e instanceof WeightsFileError ? e.reason : String(e); } };
    expect([reasonOf(missing), reasonOf(garbage), reasonOf(dir)]).toEqual(["not-found", "corrupt", "unreadable"]);
  });

  it("through the CLI: kind, reason and path under --json; exit 2; a finding exits 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "errors-cli-"));
    const bad = join(dir, "bad.safetensors");
    writeFileSync(bad, "x".repeat(64));
    const [missing, corrupt, program, found] = await driver([
      ["check", "--weights", join(dir, "none.safetensors"), programPath("induction"), "--json"],
      ["analyze", bad, "--json"],
      ["check-syntax", join(REPO_ROOT, "README.md")],
      ["hypothesis", "--file", join(REPO_ROOT, "hypotheses", "example.ts")],
    ]);
    expect(missing!.code).toBe(2);
    expect(JSON.parse(missing!.stdout).error).toMatchObject({ kind: "weights", reason: "not-found", message: expect.stringMatching(/^check: cannot read model file '.*none\.safetensors': no such file$/) });
    expect(corrupt!.code).toBe(2);
    expect(JSON.parse(corrupt!.stdout).error).toMatchObject({ kind: "weights", reason: "corrupt" });
    expect(program!.code).toBe(2);
    expect(program!.stderr).toMatch(/README\.md:\d+:\d+/);
    expect(found!.code).toBe(1); // its false hypothesis is refuted: a finding, not an error
    expect(found!.stderr).not.toMatch(/internal error/);
  });

  it("src/cli decides nothing by reading an error's message", () => {
    const cli = join(REPO_ROOT, "src", "cli");
    const offenders = readdirSync(cli).filter((f) => f.endsWith(".ts")).flatMap((f) =>
      readFileSync(join(cli, f), "utf8").split("\n").flatMap((line, k) =>
        /message\.(replace|match|split|startsWith|includes)\(|\/ENOENT\/|\.test\(msg\)/.test(line) ? [`${f}:${k + 1}: ${line.trim()}`] : []));
    // The one exception: a ProgramError's first located diagnostic is its JSON message.
    expect(offenders.filter((o) => !o.startsWith("main.ts:") || !o.includes("e.source.path"))).toEqual([]);
    expect(CircuitsError.prototype).toBeInstanceOf(Error);
  });
});
