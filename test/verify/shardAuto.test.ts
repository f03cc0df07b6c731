/**
 * `--shard auto` and `circuits merge DIR`: shards started by a Kubernetes
 * Indexed Job or a Slurm job array find their part in the environment, and
 * merging the directory of their results gives the one-machine result; a
 * missing or repeated shard is refused by name.
 */
import { copyFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkCommand } from "../../src/cli/checkCmd.ts";
import { mergeCommand } from "../../src/cli/mergeCmd.ts";
import { shardFromEnv } from "../../src/cli/shardEnv.ts";
import { runInProcess } from "../support/inProcess.ts";
import { programPath } from "../support/programs.ts";
import { node } from "../support/spawn.ts";

describe("--shard auto reads the scheduler's environment", () => {
  it("Kubernetes Indexed Job: JOB_COMPLETION_INDEX of CIRCUITS_SHARDS", () => {
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: "2", CIRCUITS_SHARDS: "5" })).toEqual({ index: 2, count: 5 });
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: "2" })).toThrow(/CIRCUITS_SHARDS is not \(an Indexed Job does not export its completions/);
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: "5", CIRCUITS_SHARDS: "5" })).toThrow(/shard index 5 is outside 0 … 4/);
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: "0x1", CIRCUITS_SHARDS: "5" })).toThrow(/JOB_COMPLETION_INDEX must be a whole number, got '0x1'/);
  });

  it("Slurm job array: ID − MIN of COUNT, contiguous arrays only", () => {
    const arr = (id: number, min: number, max: number, extra: Record<string, string> = {}) => ({
      SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: String(min), SLURM_ARRAY_TASK_MAX: String(max),
      SLURM_ARRAY_TASK_COUNT: String(max - min + 1), ...extra,
    });
    expect(shardFromEnv(arr(0, 0, 7))).toEqual({ index: 0, count: 8 });
    expect(shardFromEnv(arr(8, 1, 8))).toEqual({ index: 7, count: 8 }); // --array=1-8
    expect(() => shardFromEnv(arr(4, 0, 6, { SLURM_ARRAY_TASK_STEP: "2", SLURM_ARRAY_TASK_COUNT: "4" }))).toThrow(/must be contiguous/);
    expect(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "4" })).toThrow(/SLURM_ARRAY_TASK_MIN is not set/);
  });

  it("neither, or both, is refused", () => {
    expect(() => shardFromEnv({})).toThrow(/set JOB_COMPLETION_INDEX and CIRCUITS_SHARDS .* or run in a Slurm job array/);
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: "0", CIRCUITS_SHARDS: "2", SLURM_ARRAY_TASK_ID: "0" })).toThrow(/both/);
  });
});

describe("shards as separate processes, merged from a directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "circuits-shards-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const args = [programPath("induction"), "--exhaustive", "--max-length", "5", "--alphabet", "a,b,c", "--workers", "1", "--json"];
  const essentials = (o: Record<string, unknown>) => ({
    sequences: o.sequences, classes: o.classes, disagreements: o.disagreements, first: o.first, symmetry: o.symmetry,
  });

  it("3 Indexed-Job pods and a 2-task Slurm array (--array=1-2) each merge to the one-machine result", async () => {
    const whole = JSON.parse((await runInProcess(checkCommand, ...args)).stdout) as Record<string, unknown>;
    expect(whole).toMatchObject({ sequences: 363, disagreements: 0, symmetry: { used: true } });
    const k8s = join(dir, "k8s");
    const slurm = join(dir, "slurm");
    const runs = await Promise.all([
      ...[0, 1, 2].map((i) => node(["bin/circuits.js", "check", ...args, "--shard", "auto"], { JOB_COMPLETION_INDEX: String(i), CIRCUITS_SHARDS: "3" })),
      ...[1, 2].map((id) => node(["bin/circuits.js", "check", ...args, "--shard", "auto"], {
        SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "2", SLURM_ARRAY_TASK_COUNT: "2",
      })),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    rmSync(k8s, { recursive: true, force: true });
    rmSync(slurm, { recursive: true, force: true });
    for (const [d, outs] of [[k8s, runs.slice(0, 3)], [slurm, runs.slice(3)]] as const) {
      await import("node:fs").then((fs) => fs.mkdirSync(d));
      outs.forEach((r, k) => writeFileSync(join(d, `shard-${k}.json`), r.stdout));
    }
    expect(JSON.parse(runs[1]!.stdout).shard).toEqual({ index: 2, count: 3 });
    expect(JSON.parse(runs[4]!.stdout).shard).toEqual({ index: 2, count: 2 });
    for (const d of [k8s, slurm]) {
      const merged = await runInProcess(mergeCommand, d, "--json");
      expect(merged.code).toBe(0);
      expect(essentials(JSON.parse(merged.stdout))).toEqual(essentials(whole));
    }
    // A gap and an overlap, each refused in one line naming the shard.
    copyFileSync(join(k8s, "shard-0.json"), join(k8s, "shard-0-again.json"));
    expect((await runInProcess(mergeCommand, k8s)).error).toMatch(/^merge: shard 1\/3 given twice \(.*shard-0\.json\)$/);
    unlinkSync(join(k8s, "shard-0-again.json"));
    unlinkSync(join(k8s, "shard-1.json"));
    expect((await runInProcess(mergeCommand, k8s)).error).toBe("merge: missing shard 2/3");
    expect((await runInProcess(mergeCommand, join(dir, "nowhere"))).error).toMatch(/nowhere/);
  }, 120_000);
});
