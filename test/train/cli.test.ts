/**
 * `circuits train` as a user runs it, through the one-process CLI driver
 * (test/cli/driver.ts): a tiny run, analyze on its output, resume, and the
 * one-line errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { node, type Outcome } from "../support/spawn.ts";

const dir = mkdtempSync(join(tmpdir(), "train-cli-"));
const text = join(dir, "t.txt");
writeFileSync(text, "0 1\n2 x");
const SMALL = ["--d-model", "8", "--heads", "2", "--layers", "2", "--context", "9", "--vocab", "5", "--batch", "2", "--eval-every", "2"];
const RUNS: Record<string, string[]> = {
  fresh: ["train", ...SMALL, "--steps", "4", "-o", join(dir, "a.safetensors"), "--json", "--log", join(dir, "a.log.json")],
  human: ["train", ...SMALL, "--steps", "2", "--seed", "5"],
  analyze: ["analyze", join(dir, "a.safetensors"), "--json"],
  resume: ["train", "--resume", join(dir, "a.safetensors"), "--steps", "6", "-o", join(dir, "b.safetensors"), "--json"],
  badNumber: ["train", "--lr", "abc"],
  badData: ["train", "--data", "images:x"],
  fixedByCheckpoint: ["train", "--resume", join(dir, "a.safetensors"), "--d-model", "16"],
  textOutsideVocab: ["train", "--resume", join(dir, "a.safetensors"), "--data", `text:${text}`, "--tokenize", "word"],
  repeatWrongVocab: ["train", "--resume", join(dir, "a.safetensors"), "--data", "repeat"],
  notCheckpoint: ["train", "--resume", join(dir, "missing.safetensors")],
  nan: ["train", ...SMALL, "--steps", "50", "--lr", "1e30", "--checkpoint-every", "1", "-o", join(dir, "nan.safetensors")],
};
let results: Promise<Record<string, Outcome>>;

beforeAll(() => {
  results = (async () => {
    const names = Object.keys(RUNS);
    const out = await node(["--import", "tsx", "test/cli/driver.ts", JSON.stringify(names.map((n) => RUNS[n]))]);
    if (out.code !== 0) throw new Error(`driver failed (${out.code}): ${out.stderr}`);
    const list = JSON.parse(out.stdout) as Outcome[];
    return Object.fromEntries(names.map((n, k) => [n, list[k]!]));
  })();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const oneLineError = (o: Outcome, code: number, pattern: RegExp) => {
  expect(o.code).toBe(code);
  expect(o.stderr).not.toContain("    at ");
  expect(o.stderr.trim().split("\n").filter((l) => !l.startsWith("step ")).length).toBe(1);
  expect(o.stderr).toMatch(pattern);
};

describe("circuits train", () => {
  it("trains, prints the full log as JSON and progress on stderr, and writes a model analyze reads", async () => {
    const r = await results;
    expect(r.fresh!.code).toBe(0);
    const log = JSON.parse(r.fresh!.stdout);
    expect(log.loss).toHaveLength(4);
    expect(log.evals.map((e: { step: number }) => e.step)).toEqual([0, 2, 4]);
    expect(log.evals[0].lossByPosition).toHaveLength(8);
    expect(log.evals[0].heads).toHaveLength(4);
    expect(r.fresh!.stderr).toMatch(/^step 4\/4 {2}loss /m);
    // The defaults that make an induction circuit form: random |r| tiled across the context, lr 1e-2.
    expect(log.config.data).toEqual({ kind: "repeat", vocab: 5, repeatFraction: 0.5, repeatLength: "random", layout: "tiled" });
    expect(log.config.optimizer.lr).toBe(1e-2);
    expect(r.human!.code).toBe(0);
    expect(r.human!.stdout).toMatch(/bump: second-copy loss never fell below ½·ln 5/);
    expect(r.analyze!.code).toBe(0);
    expect(JSON.parse(r.analyze!.stdout).detection.heads).toHaveLength(4);
  });

  it("resumes a checkpoint and continues its log", async () => {
    const r = await results;
    expect(r.resume!.code).toBe(0);
    const log = JSON.parse(r.resume!.stdout);
    expect(log.loss).toHaveLength(6);
    expect(log.loss.slice(0, 4)).toEqual(JSON.parse(r.fresh!.stdout).loss);
    expect(log.timing.fromStep).toBe(4);
  });

  it("bad input: one-line errors, exit 2", async () => {
    const r = await results;
    oneLineError(r.badNumber!, 2, /--lr must be a finite number above 0/);
    oneLineError(r.badData!, 2, /--data must be repeat, program:FILE.circ or text:FILE/);
    oneLineError(r.fixedByCheckpoint!, 2, /--d-model cannot be given with --resume/);
    oneLineError(r.textOutsideVocab!, 2, /t\.txt:2:3: word "x" is not in the model's vocabulary/);
    oneLineError(r.repeatWrongVocab!, 2, /vocabulary \(5 tokens.*does not fit the data's \(64 tokens/);
    oneLineError(r.notCheckpoint!, 2, /cannot read checkpoint/);
  });

  it("a non-finite loss stops the run with exit 1 and says at which step", async () => {
    const r = await results;
    oneLineError(r.nan!, 1, /loss is (NaN|Infinity) at step \d+; stopped .*last checkpoint: step \d+/);
  });
});
