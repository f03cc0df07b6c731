/**
 * The learned-circuits experiments, one command: `npm run experiments`.
 *
 *   A. Does the induction bump coincide with the formation of previous-token
 *      and induction heads (K-composition)? The reference configuration on
 *      random-length repeats (|r| uniform in 2…31, so only induction solves
 *      them; fixed |r| = 31 is solved by a positional lookup instead), five
 *      seeds.
 *   B. After the bump, do bigger models learn more in context? Four shapes
 *      (d_model, heads, layers), same data and steps, seed 1; the ICL score
 *      (loss at token 62 minus token 6 of the probe) of the final model.
 *
 * Each run is a real `circuits train` process (two at a time, one per core),
 * its whole log kept under experiments/out/ (ignored by git); the summary
 * goes to experiments/results.json and experiments/RESULTS.md.
 *   --steps N   steps per run (default 6000)      --quick   2 seeds, 2 shapes, 300 steps (a smoke run)
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TrainLog } from "../src/train/index.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
const OUT = join(HERE, "out");
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const stepsArg = args.indexOf("--steps");
const STEPS = stepsArg >= 0 ? Number(args[stepsArg + 1]) : quick ? 300 : 6000;
if (!Number.isInteger(STEPS) || STEPS < 100) throw new Error(`--steps must be an integer ≥ 100, got '${args[stepsArg + 1]}'`);

interface Run {
  readonly id: string;
  readonly study: "A" | "B";
  readonly seed: number;
  readonly shape: { readonly d_model: number; readonly heads: number; readonly layers: number };
}

const seeds = quick ? [1, 2] : [1, 2, 3, 4, 5];
const shapes = quick
  ? [{ d_model: 32, heads: 2, layers: 2 }, { d_model: 64, heads: 4, layers: 2 }]
  : [{ d_model: 32, heads: 2, layers: 2 }, { d_model: 64, heads: 4, layers: 2 }, { d_model: 64, heads: 4, layers: 3 }, { d_model: 96, heads: 6, layers: 2 }];
const reference = { d_model: 64, heads: 4, layers: 2 };
const runs: Run[] = [
  ...seeds.map((seed) => ({ id: `A-seed${seed}`, study: "A" as const, seed, shape: reference })),
  // The reference shape at seed 1 is study A's first run; B reuses it.
  ...shapes.filter((s) => JSON.stringify(s) !== JSON.stringify(reference)).map((shape) => ({ id: `B-d${shape.d_model}-h${shape.heads}-l${shape.layers}`, study: "B" as const, seed: 1, shape })),
];

function argv(r: Run): string[] {
  return [
    "bin/circuits.js", "train", "--data", "repeat", "--repeat-length", "random", "--steps", String(STEPS), "--seed", String(r.seed),
    "--d-model", String(r.shape.d_model), "--heads", String(r.shape.heads), "--layers", String(r.shape.layers),
    "--log", join(OUT, `${r.id}.json`), "-o", join(OUT, `${r.id}.safetensors`),
  ];
}

function runOne(r: Run): Promise<{ seconds: number; code: number | null }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv(r), { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let tail = "";
    child.stderr.on("data", (d) => (tail = (tail + String(d)).slice(-400)));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) process.stderr.write(`\n${r.id} exited ${code}: ${tail.split(/[\r\n]/).filter(Boolean).pop() ?? ""}\n`);
      resolve({ seconds: (performance.now() - t0) / 1000, code });
    });
  });
}

mkdirSync(OUT, { recursive: true });
const loadBefore = loadavg()[0]!;
const t00 = performance.now();
const wall = new Map<string, number>();
let next = 0;
let done = 0;
const workers = Math.max(1, Math.min(2, cpus().length));
await Promise.all(
  Array.from({ length: workers }, async () => {
    while (next < runs.length) {
      const r = runs[next++]!;
      process.stderr.write(`[${done}/${runs.length}] started ${r.id} (${((performance.now() - t00) / 1000).toFixed(0)} s)\n`);
      const { seconds, code } = await runOne(r);
      if (code !== 0) throw new Error(`${r.id} failed (exit ${code})`);
      wall.set(r.id, seconds);
      done++;
      process.stderr.write(`[${done}/${runs.length}] finished ${r.id} in ${seconds.toFixed(0)} s\n`);
    }
  }),
);

const logOf = (r: Run): TrainLog => JSON.parse(readFileSync(join(OUT, `${r.id}.json`), "utf8")) as TrainLog;
const summary = (r: Run) => {
  const log = logOf(r);
  const last = log.evals[log.evals.length - 1]!;
  return {
    id: r.id, seed: r.seed, shape: r.shape, parameters: log.parameters, steps: STEPS, wallSeconds: wall.get(r.id) ?? null,
    bump: log.bump, phase: log.phase,
    final: { step: last.step, firstCopy: last.firstCopy, secondCopy: last.secondCopy, icl: last.icl, maxPrevious: last.maxPrevious, maxInduction: last.maxInduction, maxKComposition: last.maxKComposition },
  };
};
const A = runs.filter((r) => r.study === "A").map(summary);
const B = [A[0]!, ...runs.filter((r) => r.study === "B").map(summary)].sort((x, y) => x.parameters - y.parameters);
const results = {
  command: `npm run experiments${args.length ? ` -- ${args.join(" ")}` : ""}`,
  date: new Date().toISOString(),
  node: process.version, cpus: cpus().length, loadBefore, loadAfter: loadavg()[0]!,
  steps: STEPS, data: "[BOS] r r with |r| uniform in 2…31, half of each batch; the other half [BOS] + 62 uniform tokens; vocabulary 64, context 64",
  probe: "32 fixed [BOS] r r sequences with |r| = 31; ICL = loss at token 62 − loss at token 6",
  seconds: (performance.now() - t00) / 1000,
  bumpStudy: A,
  sizeSweep: B,
};
const target = quick ? join(OUT, "results.json") : join(HERE, "results.json");
writeFileSync(target, `${JSON.stringify(results, null, 1)}\n`);

const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? "—" : x.toFixed(d));
const win = (w: { start: number; end: number } | null | undefined) => (w ? `${w.start}–${w.end}` : "—");
const md = [
  "# Learned-circuits experiments",
  "",
  `Command: \`${results.command}\` (${results.date}; ${results.cpus} cores, load ${f(loadBefore, 1)} → ${f(results.loadAfter, 1)}; ${f(results.seconds / 60, 1)} min).`,
  `Data: ${results.data}. Probe: ${results.probe}. Every run: ${STEPS} steps, batch 32, AdamW lr 1e-3, trained biases.`,
  "",
  "## A. The bump and the heads, five seeds (d_model 64, 4 heads, 2 layers)",
  "",
  "| seed | bump step (second-copy loss < ½·ln 64) | loss falls fastest | induction score rises fastest | K-composition rises fastest | coincide | final ICL | final max previous / induction / K-comp |",
  "|---|---|---|---|---|---|---|---|",
  ...A.map((a) => `| ${a.seed} | ${a.bump ? a.bump.step : "not reached"} | ${win(a.phase?.loss)} | ${win(a.phase?.induction)} | ${win(a.phase?.kComposition)} | ${a.phase ? (a.phase.coincide ? "yes" : "no") : "—"} | ${f(a.final.icl)} | ${f(a.final.maxPrevious, 2)} / ${f(a.final.maxInduction, 2)} / ${f(a.final.maxKComposition, 2)} |`),
  "",
  "## B. In-context learning against size (seed 1)",
  "",
  "| d_model | heads | layers | parameters | bump step | final second-copy loss | final ICL score |",
  "|---|---|---|---|---|---|---|",
  ...B.map((b) => `| ${b.shape.d_model} | ${b.shape.heads} | ${b.shape.layers} | ${b.parameters.toLocaleString("en-US")} | ${b.bump ? b.bump.step : "not reached"} | ${f(b.final.secondCopy)} | ${f(b.final.icl)} |`),
  "",
];
writeFileSync(quick ? join(OUT, "RESULTS.md") : join(HERE, "RESULTS.md"), `${md.join("\n")}\n`);
process.stderr.write(`wrote ${target} (${f(results.seconds, 0)} s)\n`);
