/**
 * Training speed of the reference configuration, this tree against another
 * commit, measured the same way in the same run: each round runs
 * `trainThroughput(DEFAULT_TRAIN_CONFIG, steps)` once per tree, in a fresh
 * process each, alternating, and prints tokens per CPU-second and per
 * wall-second with the load average before and after each measurement.
 *
 *   nice npx tsx bench/trainSpeed.ts [--base REV] [--steps 100] [--rounds 3] [--json]
 *
 * --base extracts REV's tree (git archive) to a temporary folder that links
 * this checkout's node_modules. CPU time counts every thread of the process,
 * so a helper thread's work is in it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

interface Measure {
  readonly tokensPerSecond: number;
  readonly cpuSecondsPerStep: number;
  readonly tokensPerStep: number;
}

const args = process.argv.slice(2);
const flag = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : dflt;
};

if (args[0] === "--child") {
  const root = args[1]!, steps = Number(args[2]);
  const mod = (await import(pathToFileURL(join(root, "src/train/index.ts")).href)) as {
    trainThroughput: (c: unknown, s: number) => Measure;
    DEFAULT_TRAIN_CONFIG: unknown;
  };
  const r = mod.trainThroughput(mod.DEFAULT_TRAIN_CONFIG, steps);
  process.stdout.write(JSON.stringify(r) + "\n");
} else {
  const here = resolve(fileURLToPath(import.meta.url), "../..");
  const steps = Number(flag("--steps", "100")), rounds = Number(flag("--rounds", "3"));
  const base = flag("--base", "");
  const trees: { name: string; root: string }[] = [];
  let tmp: string | null = null;
  if (base) {
    tmp = mkdtempSync(join(tmpdir(), "trainspeed-base-"));
    const tar = execFileSync("git", ["-C", here, "archive", base], { maxBuffer: 1 << 30 });
    execFileSync("tar", ["-x", "-C", tmp], { input: tar });
    symlinkSync(join(here, "node_modules"), join(tmp, "node_modules"));
    trees.push({ name: `base ${base}`, root: tmp });
  }
  trees.push({ name: "this tree", root: here });
  const rows: { tree: string; round: number; tokensPerCpuSecond: number; tokensPerWallSecond: number; cpuMsPerStep: number; loadBefore: number; loadAfter: number }[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      for (const t of trees) {
        const loadBefore = loadavg()[0]!;
        const out = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", t.root, String(steps)], { cwd: here, encoding: "utf8" });
        if (out.status !== 0) throw new Error(`${t.name}: ${out.stderr.trim().split("\n").slice(-3).join(" ")}`);
        const m = JSON.parse(out.stdout.trim().split("\n").pop()!) as Measure;
        const row = {
          tree: t.name, round: r,
          tokensPerCpuSecond: m.tokensPerStep / m.cpuSecondsPerStep,
          tokensPerWallSecond: m.tokensPerSecond,
          cpuMsPerStep: m.cpuSecondsPerStep * 1000,
          loadBefore, loadAfter: loadavg()[0]!,
        };
        rows.push(row);
        if (!args.includes("--json")) {
          console.log(`${row.tree.padEnd(16)} round ${r}: ${Math.round(row.tokensPerCpuSecond).toLocaleString("en")} tokens/CPU-s (${row.cpuMsPerStep.toFixed(1)} ms CPU/step), ${Math.round(row.tokensPerWallSecond).toLocaleString("en")} tokens/wall-s, load ${row.loadBefore.toFixed(2)} → ${row.loadAfter.toFixed(2)}`);
        }
      }
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  if (args.includes("--json")) console.log(JSON.stringify({ steps, rows }, null, 2));
}
