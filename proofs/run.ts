/**
 * npm run proofs — the full-bound runs behind proofs/*.md:
 *   1. direct I_k machine vs the reference semantics (exhaustive, gaps too);
 *   2. Theorems 1–3 on every prompt up to the stated lengths (worker threads),
 *      including the known k = 1 lock-time checks and the k = 2, 3
 *      counterexample search;
 *   3. hill-climbing search for lock-time counterexamples beyond exhaustive reach;
 *   4. every-head greedy bound (Theorem 4);
 *   5. the urn table (Theorem 5): exact formula, sampled reference semantics,
 *      sampled compiled weights.
 * Writes proofs/out/results.json and proofs/out/urn.svg (git-ignored), or the
 * committed proofs/results.json and proofs/urn.svg with --commit or
 * PROOFS_COMMIT=1; progress goes to stderr.
 * Flags: --quick (small bounds, a smoke run), --workers N, --commit.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { exhaustiveEvery } from "./checks/every.ts";
import { type ExhaustiveSummary, overallMaxLock } from "./checks/exhaustive.ts";
import { IkPool } from "./checks/pool.ts";
import { crossCheckReference } from "./checks/reference.ts";
import { climbLockTime } from "./checks/search.ts";
import { outputPath, shownPath } from "./checks/output.ts";
import { linePlot, type Series } from "./checks/svg.ts";
import {
  compiledUrnProbabilities,
  compileUrn,
  continueExact,
  continueFloat,
  fracToNumber,
  gamma2Bounds,
  hazardTable,
  PI_OVER_SINH_PI,
  sampleCompiled,
  sampleSymbolic,
  survivalExact,
  survivalFloat,
  urnPrompt,
  urnProgram,
} from "./checks/urn.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const wi = args.indexOf("--workers");
const workers = wi >= 0 ? Number(args[wi + 1]) : availableParallelism();
const log = (s: string) => process.stderr.write(`${s}\n`);
const t00 = performance.now();
const secs = (t0: number) => Math.round((performance.now() - t0) / 10) / 100;

const results: Record<string, unknown> = {
  command: `npm run proofs${args.length ? ` -- ${args.join(" ")}` : ""}`,
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  workers,
  quick,
};

// ---------------------------------------------------------------- 1. cross-check
log("[1/5] direct I_k machine vs reference semantics (tokens and gaps)…");
const crossBounds: [number, number, number][] = quick
  ? [[3, 1, 6], [2, 2, 8], [2, 3, 8]]
  : [[3, 1, 10], [4, 1, 8], [2, 2, 16], [3, 2, 8], [2, 3, 16], [3, 3, 6]];
results.crossCheck = crossBounds.map(([V, k, L]) => {
  const t0 = performance.now();
  const r = crossCheckReference(V, k, L, 2 * V ** k + k + 4);
  log(`  V=${V} k=${k} L≤${L}: ${r.prompts} prompts, ${r.disagreements} disagreements (${secs(t0)} s)`);
  return { V, k, maxLen: L, steps: 2 * V ** k + k + 4, prompts: r.prompts, disagreements: r.disagreements, seconds: secs(t0) };
});

// ---------------------------------------------------------------- 2. exhaustive I_k
log(`[2/5] Theorems 1–3, every prompt up to the bound (${workers} worker threads)…`);
const ikBounds: [number, number, number][] = quick
  ? [[2, 1, 14], [3, 1, 11], [4, 1, 9], [5, 1, 8], [2, 2, 14], [3, 2, 9], [2, 3, 14]]
  : [
      [2, 1, 24], [3, 1, 15], [4, 1, 12], [5, 1, 10], [6, 1, 9],
      [2, 2, 24], [3, 2, 15], [4, 2, 11],
      [2, 3, 24], [3, 3, 13],
    ];
const pool = new IkPool(workers);
const exhaustive: Record<string, unknown>[] = [];
const summaries = new Map<string, ExhaustiveSummary>();
for (const [V, k, L] of ikBounds) {
  let last = 0;
  const { summary: s, seconds } = await pool.exhaustive(V, k, L, {
    onProgress: (done, total) => {
      const now = performance.now();
      if (now - last > 5000 || done === total) {
        last = now;
        process.stderr.write(`\r  V=${V} k=${k} L≤${L}: ${done}/${total} tasks`);
      }
    },
  });
  process.stderr.write("\n");
  summaries.set(`${V}/${k}`, s);
  const best = overallMaxLock(s);
  const row = {
    V, k, maxLen: L, prompts: s.nodes, generationSteps: s.steps, seconds: Math.round(seconds * 100) / 100,
    violations: s.violations, firstViolation: s.firstViolation,
    maxLockTime: best.lockTime, lockBound: V ** k - 1, maxLockWitness: best.witness,
    maxLockByLength: s.maxLockByLength, witnessByLength: s.witnessByLength,
    maxFallback: s.maxFallback, fallbackAboveVk: s.fallbackAboveVk,
    maxFirstGap: s.maxFirstGap, maxFinalGap: s.maxFinalGap, maxPeriod: s.maxPeriod, maxPeriodWitness: s.maxPeriodWitness,
  };
  exhaustive.push(row);
  log(
    `  → ${s.nodes} prompts in ${row.seconds} s; violations ${JSON.stringify(s.violations)}; max lock ${best.lockTime} (bound ${V ** k - 1}) ` +
      `first at "${best.witness}"; max fallback ${s.maxFallback}; max period ${s.maxPeriod}`,
  );
}
await pool.close();
results.exhaustive = exhaustive;
// the known k = 1 checks, read off the per-length maxima.
results.knownK1 = ([[2, 14], [3, 11], [4, 9], [5, 8]] as const).map(([V, L]) => {
  const s = summaries.get(`${V}/1`);
  if (!s || s.maxLen < L) return { V, maxLen: L, reached: false };
  return { V, maxLen: L, reached: true, maxLockTime: Math.max(...s.maxLockByLength.slice(0, L + 1)) };
});
// V = 1: the original statement's "≤ V^k fallback steps" fails (k + 1 > 1).
const { exhaustiveIk } = await import("./checks/exhaustive.ts");
results.fallbackV1 = [1, 2, 3].map((k) => {
  const s = exhaustiveIk(1, k, 10);
  return { V: 1, k, maxLen: 10, maxFallback: s.maxFallback, promptsAboveVk: s.fallbackAboveVk, of: s.nodes, example: s.fallbackAboveVkExample, violations: s.violations };
});

// ---------------------------------------------------------------- 3. hill climbing
log("[3/5] lock-time counterexample search by hill climbing…");
const climbs: [number, number][] = quick ? [[4, 2], [3, 3]] : [[4, 2], [5, 2], [6, 2], [3, 3], [4, 3], [2, 4], [3, 4], [2, 5]];
results.climb = climbs.map(([V, k]) => {
  const t0 = performance.now();
  const opts = { seed: 7, restarts: quick ? 5 : 20, iters: quick ? 1000 : 5000, maxLen: 40 + 2 * V ** k };
  const r = climbLockTime(V, k, opts);
  log(`  V=${V} k=${k}: best lock ${r.lockTime} (bound ${V ** k - 1}), ${r.evaluations} prompts tried, counterexample ${r.counterexample ? r.counterexample.join(" ") : "none"} (${secs(t0)} s)`);
  return { V, k, ...opts, bound: V ** k - 1, bestLockTime: r.lockTime, bestPrompt: r.best.join(" "), evaluations: r.evaluations, counterexample: r.counterexample, seconds: secs(t0) };
});

// ---------------------------------------------------------------- 4. every heads
log("[4/5] every-head greedy bound…");
const everyRef: [number, number][] = quick ? [[2, 10], [3, 7]] : [[2, 14], [3, 9], [4, 7]];
const everyBig: [number, number][] = quick ? [[3, 10], [4, 8]] : [[3, 14], [4, 11], [5, 9], [6, 8]];
const everyRows: Record<string, unknown>[] = [];
for (const [list, reference] of [[everyRef, true], [everyBig, false]] as const) {
  for (const [V, L] of list) {
    for (const strict of [false, true]) {
      const t0 = performance.now();
      const s = exhaustiveEvery(V, L, strict, reference);
      everyRows.push({ ...s, implementation: reference ? "reference semantics + count machine" : "count machine", seconds: secs(t0) });
      log(`  V=${V} L≤${L} ${strict ? "j<i " : "j<=i"} ${reference ? "(ref)" : "     "}: ${s.nodes} prompts, unfrozen ${s.unfrozen}, μ+p>V ${s.aboveV}, max μ+p ${s.maxSum} at "${s.maxSumWitness}", disagreements ${s.disagreements} (${secs(t0)} s)`);
    }
  }
}
results.every = everyRows;

// ---------------------------------------------------------------- 5. urn
log("[5/5] urn: exact formula, sampled reference semantics, sampled compiled weights…");
const RMAX = 25;
const CONTEXT = 64;
const N_SYM = quick ? 2000 : 20000;
const N_CMP = quick ? 500 : 4000;
const program = urnProgram(CONTEXT);
const model = compileUrn(CONTEXT);
const gammas = [0.5, 1, 2];
const urnRows: Record<string, unknown>[] = [];
const plotSeries: Series[] = [];
const colors: Record<string, string> = { "0.5": "#1f77b4", "1": "#d62728", "2": "#2ca02c" };
const maxDev = Math.max(
  ...compiledUrnProbabilities(model, 1, 1, RMAX).map(({ r, p }) =>
    Math.max(Math.abs(p[0]!), Math.abs(p[1]! - (1 + r) / (2 + r)), Math.abs(p[2]! - 1 / (2 + r))),
  ),
);
for (const gamma of gammas) {
  const t0 = performance.now();
  const seed0 = 1 + 1_000_000 * gamma;
  const sym = sampleSymbolic(program, urnPrompt(1, 1), gamma, N_SYM, RMAX, seed0);
  const t1 = performance.now();
  const cmp = sampleCompiled(model, urnPrompt(1, 1), gamma, N_CMP, RMAX, seed0, program);
  const hs = hazardTable(sym.loops, RMAX);
  const hc = hazardTable(cmp.loops, RMAX);
  const rows = hs.map((h, r) => {
    const exact = Number.isInteger(gamma) ? continueExact(1, 1, r, gamma) : null;
    const p = continueFloat(1, 1, r, gamma);
    return {
      r,
      formula: p,
      formulaExact: exact ? exact.toFraction() : null,
      symbolic: { atRisk: h.atRisk, continued: h.continued, estimate: h.estimate, sigma: Math.sqrt((p * (1 - p)) / h.atRisk) },
      compiled: { atRisk: hc[r]!.atRisk, continued: hc[r]!.continued, estimate: hc[r]!.estimate },
    };
  });
  const survival = [1, 2, 5, 10, 20, 25].map((R) => ({
    R,
    formula: survivalFloat(1, 1, R, gamma),
    formulaExact: Number.isInteger(gamma) ? survivalExact(1, 1, R, gamma).toFraction() : null,
    symbolic: sym.loops.filter((x) => x >= R).length / sym.loops.length,
    compiled: cmp.loops.filter((x) => x >= R).length / cmp.loops.length,
  }));
  const maxZ = Math.max(...rows.filter((x) => x.symbolic.atRisk >= 30).map((x) => Math.abs(x.symbolic.estimate - x.formula) / x.symbolic.sigma));
  urnRows.push({
    gamma, n: 1, m: 1, seeds: `${seed0} … ${seed0 + N_SYM - 1}`, runsSymbolic: N_SYM, runsCompiled: N_CMP,
    compiledMismatchesVsSymbolic: cmp.mismatches, maxAbsZ: maxZ, rows, survival,
    secondsSymbolic: Math.round(t1 - t0) / 1000, secondsCompiled: Math.round(performance.now() - t1) / 1000,
  });
  log(`  γ=${gamma}: ${N_SYM} symbolic runs (${Math.round(t1 - t0) / 1000} s), ${N_CMP} compiled runs, ${cmp.mismatches} token mismatches vs symbolic, max |z| ${maxZ.toFixed(2)}`);
  const color = colors[String(gamma)]!;
  plotSeries.push({ label: `γ=${gamma} formula`, color, line: rows.map((x) => ({ x: x.r, y: x.formula })) });
  plotSeries.push({
    label: `γ=${gamma} reference (${N_SYM})`,
    color,
    marker: "circle",
    points: rows.filter((x) => x.symbolic.atRisk >= 30).map((x) => ({ x: x.r, y: x.symbolic.estimate, err: 1.96 * x.symbolic.sigma })),
  });
  plotSeries.push({
    label: `γ=${gamma} compiled (${N_CMP})`,
    color,
    marker: "cross",
    points: rows.filter((x) => x.compiled.atRisk >= 30).map((x) => ({ x: x.r + 0.25, y: x.compiled.estimate })),
  });
}
const exactChecks = (() => {
  const t0 = performance.now();
  const gamma1 = Array.from({ length: 11 }, (_, R) => ({ R, survival: survivalExact(1, 1, R, 1).toFraction() }));
  const g2 = (quick ? [10, 100, 1000] : [10, 100, 1000, 4000]).map((R) => {
    const b = gamma2Bounds(R);
    return { R, lower: fracToNumber(b.lower), upper: fracToNumber(b.upper), contains: fracToNumber(b.lower) < PI_OVER_SINH_PI && PI_OVER_SINH_PI <= fracToNumber(b.upper) };
  });
  return { gamma1SurvivalIs1overRplus1: gamma1, gamma2: { piOverSinhPi: PI_OVER_SINH_PI, bounds: g2 }, seconds: secs(t0) };
})();
results.urn = { program: "inductionProgramText({k: 1, vocab: a b c, context: 64, rule: 'every'})", prompt: "a c a b a", Rmax: RMAX, compiledMaxAbsDeviation: maxDev, exact: exactChecks, gammas: urnRows };
log(`  compiled logits/κ vs exact p: max |Δ| = ${maxDev.toExponential(2)}; γ=2 bounds ${JSON.stringify(exactChecks.gamma2.bounds.at(-1))}`);

const svg = linePlot({
  title: "Loop self-reinforcement: P(continue | r loops made), urn prompt a c a b a",
  xLabel: "r = loops already made",
  yLabel: "P(continue)",
  xRange: [0, RMAX],
  yRange: [0.4, 1],
  xTicks: [0, 5, 10, 15, 20, 25],
  yTicks: [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
  series: plotSeries,
  note: `P_r = (1+r)^γ / ((1+r)^γ + 1)\nbars: ±1.96σ (binomial)\npoints with ≥ 30 runs at risk\nseeded; npm run proofs`,
});
writeFileSync(outputPath("urn.svg"), svg);
results.totalSeconds = secs(t00);
writeFileSync(outputPath("results.json"), JSON.stringify(results, null, 1) + "\n");

// ---------------------------------------------------------------- summary on stdout
const out: string[] = [];
out.push(`proofs: ${quick ? "QUICK " : ""}run finished in ${secs(t00)} s (${workers} workers)`);
out.push("", "Theorems 1–3, exhaustive (all prompts of length ≤ L):");
out.push("  V k  L   prompts      seconds  violations  max lock (bound)  first witness");
for (const r of exhaustive as { V: number; k: number; maxLen: number; prompts: number; seconds: number; violations: object; maxLockTime: number; lockBound: number; maxLockWitness: string }[]) {
  out.push(`  ${r.V} ${r.k} ${String(r.maxLen).padStart(2)}  ${String(r.prompts).padStart(10)}  ${String(r.seconds).padStart(8)}  ${String(Object.keys(r.violations).length).padStart(10)}  ${String(r.maxLockTime).padStart(8)} (${r.lockBound})      ${r.maxLockWitness}`);
}
out.push("", "Urn, n = m = 1: P(continue | r) formula vs sampled (reference semantics / compiled):");
for (const g of urnRows as { gamma: number; rows: { r: number; formula: number; symbolic: { estimate: number; atRisk: number }; compiled: { estimate: number; atRisk: number } }[] }[]) {
  out.push(`  γ = ${g.gamma}`);
  for (const x of g.rows.filter((x) => [0, 1, 2, 3, 5, 10, 15, 20, 24].includes(x.r))) {
    out.push(`    r=${String(x.r).padStart(2)}  ${x.formula.toFixed(4)}  ${x.symbolic.estimate.toFixed(4)} (n=${x.symbolic.atRisk})  ${x.compiled.estimate.toFixed(4)} (n=${x.compiled.atRisk})`);
  }
}
out.push("", `Wrote ${shownPath("results.json")} and ${shownPath("urn.svg")}`);
console.log(out.join("\n"));
