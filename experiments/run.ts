/**
 * The learned-circuits experiments, one command: `npm run experiments`.
 *
 *   A. Does the induction bump coincide with the formation of previous-token
 *      and induction heads (K-composition)? `circuits train`'s defaults (the
 *      reference shape; |r| uniform in 2…31 tiled across the context, so only
 *      induction predicts the copies; lr 1e-2), five seeds; then every
 *      model is decompiled without a layout (`circuits decompile --json`).
 *   B. After the bump, do bigger models learn more in context? Four shapes
 *      (d_model, heads, layers), same data and steps, seed 1; the ICL score
 *      (loss at token 62 minus token 6 of the probe) of the final model.
 *   C. Teachers: a model trained on each programs/*.circ as teacher
 *      (`--data program:P`), checked against its teacher
 *      (`circuits check --weights`) and decompiled.
 *
 * Each run is a real `circuits` process (two at a time, one per core), its
 * whole log kept under experiments/out/ (ignored by git); the summary goes to
 * experiments/results.json and experiments/RESULTS.md.
 *   --steps N   steps per run of A and B (default 3000)
 *   --teacher-steps N   steps per run of C (default 800: teachers' labels are learnt in a few hundred)
 *   --quick     2 seeds, 2 shapes, 2 teachers, 300 steps (a smoke run, written under out/)
 *   --reuse     keep the trained models already in out/ (their wall times from the
 *               results.json that recorded them) and run only decompile and check again
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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
const STEPS = stepsArg >= 0 ? Number(args[stepsArg + 1]) : quick ? 300 : 3000;
const teacherArg = args.indexOf("--teacher-steps");
const TEACHER_STEPS = teacherArg >= 0 ? Number(args[teacherArg + 1]) : quick ? 150 : 800;
if (!Number.isInteger(TEACHER_STEPS) || TEACHER_STEPS < 100) throw new Error(`--teacher-steps must be an integer ≥ 100, got '${args[teacherArg + 1]}'`);
if (!Number.isInteger(STEPS) || STEPS < 100) throw new Error(`--steps must be an integer ≥ 100, got '${args[stepsArg + 1]}'`);

interface Run {
  readonly id: string;
  readonly study: "A" | "B" | "C";
  readonly seed: number;
  readonly shape: { readonly d_model: number; readonly heads: number; readonly layers: number };
  /** Study C: the teacher program's path (relative to the repo). */
  readonly teacher?: string;
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
  ...readdirSync(join(ROOT, "programs")).filter((f) => f.endsWith(".circ")).sort().slice(0, quick ? 2 : undefined)
    .map((f) => ({ id: `C-${f.replace(/\.circ$/, "")}`, study: "C" as const, seed: 1, shape: reference, teacher: `programs/${f}` })),
];

const model = (r: Run) => join(OUT, `${r.id}.safetensors`);
const reuse = args.includes("--reuse");
/** Wall seconds per run id from the results file of the run that trained the models in out/. */
const previousWall = new Map<string, number>();
interface Timed { readonly id: string; readonly wallSeconds: number | null }
interface Previous { command?: string; date?: string; seconds?: number; loadBefore?: number; loadAfter?: number; trainedBy?: Previous | null; bumpStudy?: Timed[]; sizeSweep?: Timed[]; teachers?: Timed[] }
let trainedBy: Previous | null = null;
if (reuse) {
  const file = quick ? join(OUT, "results.json") : join(HERE, "results.json");
  const prev = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Previous) : {};
  for (const x of [...(prev.bumpStudy ?? []), ...(prev.sizeSweep ?? []), ...(prev.teachers ?? [])]) if (typeof x.wallSeconds === "number") previousWall.set(x.id, x.wallSeconds);
  const t = prev.trainedBy ?? prev;
  trainedBy = { command: t.command, date: t.date, seconds: t.seconds, loadBefore: t.loadBefore, loadAfter: t.loadAfter };
}

function trainArgv(r: Run): string[] {
  const data = r.teacher ? ["--data", `program:${r.teacher}`, "--steps", String(TEACHER_STEPS)] : ["--data", "repeat", "--steps", String(STEPS)];
  return [
    "train", ...data, "--seed", String(r.seed),
    "--d-model", String(r.shape.d_model), "--heads", String(r.shape.heads), "--layers", String(r.shape.layers),
    "--log", join(OUT, `${r.id}.json`), "-o", model(r),
  ];
}

/** Run `circuits ARGS`; stdout goes to `stdoutFile` when given. */
function circuits(id: string, argv: readonly string[], stdoutFile?: string): Promise<{ seconds: number; code: number | null }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/circuits.js", ...argv], { cwd: ROOT, stdio: ["ignore", stdoutFile ? "pipe" : "ignore", "pipe"] });
    let tail = "";
    let out = "";
    child.stdout?.on("data", (d) => (out += String(d)));
    child.stderr?.on("data", (d) => (tail = (tail + String(d)).slice(-400)));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0 && !(code === 1 && id.endsWith(" decompile"))) process.stderr.write(`\n${id} exited ${code}: ${tail.split(/[\r\n]/).filter(Boolean).pop() ?? ""}\n`);
      if (stdoutFile) writeFileSync(stdoutFile, out);
      resolve({ seconds: (performance.now() - t0) / 1000, code });
    });
  });
}

/** Train, then decompile (A, C) and check against the teacher (C). */
async function runOne(r: Run): Promise<{ seconds: number; code: number | null }> {
  const before = reuse ? previousWall.get(r.id) : undefined;
  const trained = before !== undefined && existsSync(model(r)) && existsSync(join(OUT, `${r.id}.json`)) ? { seconds: before, code: 0 } : await circuits(r.id, trainArgv(r));
  if (trained.code !== 0 || r.study === "B") return trained;
  // decompile exits 1 when nothing fits, with the whole report on stdout.
  const dec = await circuits(`${r.id} decompile`, ["decompile", model(r), "--json"], join(OUT, `${r.id}.decompile.json`));
  const decoded = dec.code === 1 ? 0 : dec.code;
  if (decoded !== 0 || !r.teacher) return { seconds: trained.seconds, code: decoded };
  const chk = await circuits(`${r.id} check`, ["check", "--weights", model(r), r.teacher, "--json"], join(OUT, `${r.id}.check.json`));
  return { seconds: trained.seconds, code: chk.code };
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

/** The parts of `circuits decompile --json` and `check --weights --json` kept here. */
interface ClassFigure { readonly class: string; readonly agree: number; readonly defined: number; readonly fraction: number | null }
interface Prediction { readonly agree: number; readonly defined: number; readonly fraction: number | null; readonly classes: readonly ClassFigure[] }
interface DecompileJson {
  readonly fits: boolean;
  readonly verdict: string;
  readonly best: Found | null;
  readonly nearMiss?: Found | null;
}
interface Found { readonly program: string; readonly heads: readonly { head: string; select: string; block: number; index: number; attention: number | null }[]; readonly prediction: Prediction }
interface CheckJson { readonly prediction: Prediction; readonly heads: readonly { head: string; block: number; index: number; attention: number | null }[] }
const readJson = <J>(file: string): J => JSON.parse(readFileSync(join(OUT, file), "utf8")) as J;
const secondCopy = (p: Prediction | undefined) => p?.classes.find((c) => c.class === "second copy") ?? null;

const found = (x: Found | null | undefined) =>
  x
    ? {
        heads: x.heads.map((h) => `${h.select} (blocks.${h.block} head ${h.index}, attention ${h.attention === null ? "—" : h.attention.toFixed(2)})`),
        text: x.program,
        agreement: x.prediction.fraction,
        secondCopy: secondCopy(x.prediction),
      }
    : null;
const decompiled = (r: Run) => {
  const d = readJson<DecompileJson>(`${r.id}.decompile.json`);
  return { fits: d.fits, verdict: d.verdict, best: found(d.best), nearMiss: found(d.nearMiss) };
};
const summary = (r: Run) => {
  const log = logOf(r);
  const last = log.evals[log.evals.length - 1]!;
  const tail = log.loss.slice(-100);
  return {
    id: r.id, seed: r.seed, shape: r.shape, parameters: log.parameters, steps: log.config.steps, wallSeconds: wall.get(r.id) ?? null,
    finalTrainLoss: tail.reduce((a, x) => a + x, 0) / Math.max(1, tail.length),
    bump: log.bump, phase: log.phase,
    final: { step: last.step, firstCopy: last.firstCopy, secondCopy: last.secondCopy, icl: last.icl, maxPrevious: last.maxPrevious, maxInduction: last.maxInduction, maxKComposition: last.maxKComposition },
  };
};
const A = runs.filter((r) => r.study === "A").map((r) => ({ ...summary(r), decompile: decompiled(r) }));
const B = [A[0]!, ...runs.filter((r) => r.study === "B").map(summary)].sort((x, y) => x.parameters - y.parameters);
const C = runs.filter((r) => r.study === "C").map((r) => {
  const chk = readJson<CheckJson>(`${r.id}.check.json`);
  const { finalTrainLoss, steps, wallSeconds } = summary(r);
  return { id: r.id, teacher: r.teacher!, steps, wallSeconds, finalTrainLoss, teacherAgreement: chk.prediction.fraction, teacherHeads: chk.heads, decompile: decompiled(r) };
});
const results = {
  command: `npm run experiments${args.length ? ` -- ${args.join(" ")}` : ""}`,
  date: new Date().toISOString(),
  node: process.version, cpus: cpus().length, loadBefore, loadAfter: loadavg()[0]!,
  steps: STEPS, teacherSteps: TEACHER_STEPS,
  data: "half of each batch r repeated to fill the context ([BOS] r r r …, |r| uniform in 2…31), the other half [BOS] + 62 uniform tokens; vocabulary 64, context 64",
  probe: "32 fixed [BOS] r r sequences with |r| = 31; ICL = loss at token 62 − loss at token 6",
  decompileProbes: "circuits decompile's defaults: 32 [BOS] r r probes (r of 31 distinct tokens) + 32 uniform random, seed 1",
  seconds: (performance.now() - t00) / 1000,
  /** With --reuse: the run that trained the models (this one only decompiled and checked them). */
  trainedBy,
  bumpStudy: A,
  sizeSweep: B,
  teachers: C,
};
const target = quick ? join(OUT, "results.json") : join(HERE, "results.json");
writeFileSync(target, `${JSON.stringify(results, null, 1)}\n`);

const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? "—" : x.toFixed(d));
const win = (w: { start: number; end: number } | null | undefined) => (w ? `${w.start}–${w.end}` : "—");
const pc = (x: number | null | undefined) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)} %`);
const md = [
  "# Learned-circuits experiments",
  "",
  ...(trainedBy
    ? [`Models trained by \`${trainedBy.command}\` (${trainedBy.date}; load ${f(trainedBy.loadBefore, 1)} → ${f(trainedBy.loadAfter, 1)}; ${f((trainedBy.seconds ?? 0) / 60, 1)} min); decompiled and checked again by \`${results.command}\` (${results.date}).`]
    : [`Command: \`${results.command}\` (${results.date}; ${results.cpus} cores, load ${f(loadBefore, 1)} → ${f(results.loadAfter, 1)}; ${f(results.seconds / 60, 1)} min).`]),
  `Data: ${results.data}. Probe: ${results.probe}. Every run: \`circuits train\`'s defaults (batch 32, AdamW lr 1e-2, trained biases), ${STEPS} steps.`,
  "",
  "## A. The bump and the heads, five seeds (d_model 64, 4 heads, 2 layers)",
  "",
  "| seed | bump step (second-copy loss < ½·ln 64) | loss falls fastest | induction score rises fastest | K-composition rises fastest | coincide | final ICL | final max previous / induction / K-comp |",
  "|---|---|---|---|---|---|---|---|",
  ...A.map((a) => `| ${a.seed} | ${a.bump ? a.bump.step : "not reached"} | ${win(a.phase?.loss)} | ${win(a.phase?.induction)} | ${win(a.phase?.kComposition)} | ${a.phase ? (a.phase.coincide ? "yes" : "no") : "—"} | ${f(a.final.icl)} | ${f(a.final.maxPrevious, 2)} / ${f(a.final.maxInduction, 2)} / ${f(a.final.maxKComposition, 2)} |`),
  "",
  `Decompiled without a layout (\`circuits decompile MODEL --json\`; probes: ${results.decompileProbes}):`,
  "",
  "| seed | fits | best program's heads (model head, attention on the selection) | agreement where defined | second copy | near miss (when nothing fits) |",
  "|---|---|---|---|---|---|",
  ...A.map((a) => {
    const b = a.decompile.best, n = a.decompile.nearMiss;
    const sc = (x: typeof b) => (x?.secondCopy ? `${pc(x.secondCopy.fraction)} (${x.secondCopy.agree}/${x.secondCopy.defined})` : "—");
    return `| ${a.seed} | ${a.decompile.fits ? "yes" : "no"} | ${b ? b.heads.join("; ") : "—"} | ${pc(b?.agreement)} | ${sc(b)} | ${n ? `${n.heads.join("; ")}: ${pc(n.agreement)}, second copy ${sc(n)}` : "—"} |`;
  }),
  "",
  "## B. In-context learning against size (seed 1)",
  "",
  "| d_model | heads | layers | parameters | bump step | final second-copy loss | final ICL score |",
  "|---|---|---|---|---|---|---|",
  ...B.map((b) => `| ${b.shape.d_model} | ${b.shape.heads} | ${b.shape.layers} | ${b.parameters.toLocaleString("en-US")} | ${b.bump ? b.bump.step : "not reached"} | ${f(b.final.secondCopy)} | ${f(b.final.icl)} |`),
  "",
  `## C. Teacher-trained models (\`--data program:P\`, ${TEACHER_STEPS} steps, seed 1, reference shape)`,
  "",
  "Train loss: mean of the last 100 steps (over positions where the teacher predicts a token). Model vs teacher: `circuits check --weights MODEL P` (200 random sequences, agreement where the teacher predicts a token). Recovered: `circuits decompile MODEL` (its search space: one-conjunct token-valued programs of ≤ 2 layers).",
  "",
  "| teacher | train loss | model vs teacher | decompile fits | recovered heads | recovered vs model |",
  "|---|---|---|---|---|---|",
  ...C.map((c) => `| ${c.teacher} | ${f(c.finalTrainLoss)} | ${pc(c.teacherAgreement)} | ${c.decompile.fits ? "yes" : "no"} | ${c.decompile.best ? c.decompile.best.heads.join("; ") : "—"} | ${pc(c.decompile.best?.agreement)} |`),
  "",
];
writeFileSync(quick ? join(OUT, "RESULTS.md") : join(HERE, "RESULTS.md"), `${md.join("\n")}\n`);
process.stderr.write(`wrote ${target} (${f(results.seconds, 0)} s)\n`);
