/**
 * `npm run bench`: the performance suite (not a test). Writes
 * bench/results.json (every figure with its spread) and bench/RESULTS.md
 * (the tables). Sections: forward throughput on random dense weights
 * (batch × length × d_model, float32/float64) against numpy on the same
 * shapes; the mathjs reference path as a ratio; compiled programs' weights
 * (sparse path, dense path, numpy on the exported tensors) and compile time;
 * generation with and without the KV cache; exhaustive-check throughput
 * (one thread, worker threads, symbolic alone); scaling exponents.
 *
 * Every figure: median of several runs after a warm-up, with min–max.
 * BENCH_QUICK=1 shrinks every section (for trying the script out).
 * `--only SECTION[,SECTION…]` (kernels, forward, mathjs, compiled,
 * generation, exhaustive, scaling) runs just those and prints their tables
 * to stdout instead of rewriting bench/RESULTS.md and bench/results.json.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AUTO_WORKERS_MIN_SEQUENCES } from "../src/cli/checkCmd.ts";
import { BOS_ID } from "../src/compiler/assemble.ts";
import { compile, type CompiledModel } from "../src/compiler/compile.ts";
import { generate } from "../src/generate/generate.ts";
import { load } from "../src/lang/check.ts";
import type { Program } from "../src/lang/program.ts";
import type { Weights } from "../src/model/weights.ts";
import { saveWeights } from "../src/model/weightsFile.ts";
import { SymbolicRun } from "../src/semantics/interpret.ts";
import { forward, forwardBatch } from "../src/sim/forward.ts";
import { IncrementalRun } from "../src/sim/kvcache.ts";
import type { Precision, SparseMode } from "../src/sim/prepare.ts";
import { mulberry32, randomWeights, type ModelShape } from "../src/sim/random.ts";
import { matmulDense, transpose } from "../src/sim/kernels.ts";
import { referenceForward } from "../src/sim/reference.ts";
import { matmulWasm, packPanels, wasmSettings } from "../src/sim/wasm.ts";
import { checkExhaustive } from "../src/verify/check.ts";
import { CheckPool } from "../src/verify/parallel.ts";
import { fmt, forwardFlops, logLogSlope, measure, measureAsync, table, type Timing } from "./lib.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const QUICK = process.env.BENCH_QUICK === "1";
const SECTIONS = ["kernels", "forward", "mathjs", "compiled", "generation", "exhaustive", "scaling"] as const;
type Section = (typeof SECTIONS)[number];
const ONLY = parseOnly(process.argv.slice(2));

/** The sections named by `--only a,b` (or `--only=a,b`); null: all of them. */
function parseOnly(args: readonly string[]): Set<Section> | null {
  const i = args.findIndex((a) => a === "--only" || a.startsWith("--only="));
  if (i < 0) return null;
  const value = args[i].startsWith("--only=") ? args[i].slice("--only=".length) : args[i + 1];
  const names = (value ?? "").split(",").filter((x) => x !== "");
  const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (names.length === 0 || bad.length > 0) {
    process.stderr.write(`bench: --only takes a comma-separated list of ${SECTIONS.join(", ")}${bad.length ? ` (not: ${bad.join(", ")})` : ""}\n`);
    process.exit(2);
  }
  return new Set(names as Section[]);
}
const wanted = (s: Section): boolean => ONLY === null || ONLY.has(s);
const tmp = mkdtempSync(join(tmpdir(), "circuits-bench-"));
const started = performance.now();
const results: Record<string, unknown> = {};
const md: string[] = [];

function log(msg: string): void {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
}

// ---------------------------------------------------------------- helpers

const shapeOf = (D: number, L = 2, C = 1024, V = 512): ModelShape => ({
  d_model: D, d_head: D / 4, n_heads: 4, n_layers: L, n_ctx: C, d_vocab: V,
});

function batchOf(V: number, B: number, T: number, seed: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: B }, () => [BOS_ID, ...Array.from({ length: T - 1 }, () => 1 + Math.floor(rand() * (V - 1)))]);
}

interface ForwardFigure {
  readonly timing: Timing;
  readonly tokensPerSecond: number;
  readonly gflops: number;
}

function timeForward(weights: Weights, batch: number[][], precision: Precision, sparse: SparseMode, budget = 0.4): ForwardFigure {
  const T = batch[0]!.length;
  const timing = measure(() => forwardBatch(weights, batch, { precision, sparse }), { minRuns: 3, budget });
  const flops = forwardFlops(weights.config, batch.length, T);
  return { timing, tokensPerSecond: (batch.length * T) / timing.median, gflops: flops / timing.median / 1e9 };
}

interface PeerCase {
  readonly id: string;
  readonly weights?: string;
  readonly shape?: ModelShape;
  readonly dtype: "float32" | "float64";
  readonly batch: number;
  readonly length: number;
  readonly budget_s?: number;
}

interface PeerResult {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
  readonly tokens_per_s: number;
}

/** Run the numpy peer on a list of cases (one python process). */
function runNumpy(cases: readonly PeerCase[]): { numpy?: string; cases: Record<string, PeerResult>; error?: string } {
  const job = join(tmp, `job-${Math.random().toString(36).slice(2)}.json`);
  const out = `${job}.out`;
  writeFileSync(job, JSON.stringify({ cases }));
  const r = spawnSync("env", ["-u", "OPENBLAS_CORETYPE", "-u", "OPENBLAS_L2_SIZE", "python3", join(ROOT, "bench/peer_numpy.py"), job, out], {
    encoding: "utf8",
  });
  if (r.status !== 0) return { cases: {}, error: (r.stderr || r.error?.message || "python3 failed").trim().split("\n").slice(-3).join(" ") };
  return JSON.parse(readFileSync(out, "utf8"));
}

function torchAvailable(): string {
  const r = spawnSync("python3", ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  return r.status === 0 ? `available (${r.stdout.trim()})` : "not installed on this machine (`python3 -c \"import torch\"` fails): no PyTorch figures";
}

function programFile(name: string): Program {
  const path = `programs/${name}.circ`;
  return load({ path, text: readFileSync(join(ROOT, path), "utf8") });
}

// ---------------------------------------------------------------- machine

const cpu = cpus();
results.machine = {
  cpus: cpu.length,
  model: cpu[0]?.model,
  node: process.version,
  date: new Date().toISOString(),
  loadAverageAtStart: loadavg(),
  quick: QUICK,
};
const torch = torchAvailable();
log(`machine: ${cpu.length} × ${cpu[0]?.model}; load ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);

// ---------------------------------------------------------------- 1. forward grid

function forwardGrid(): void {
  log("forward grid (random dense weights)");
  const Ds = QUICK ? [32, 128] : [32, 64, 128, 256, 512];
  const BTs: [number, number][] = QUICK ? [[1, 16], [16, 64]] : [[1, 16], [1, 128], [1, 1024], [16, 16], [16, 128], [256, 16], [256, 64]];
  const maxFlops = QUICK ? 2e8 : 4e9;
  const rows: Record<string, unknown>[] = [];
  const peerCases: PeerCase[] = [];
  for (const D of Ds) {
    const shape = shapeOf(D);
    const weights = randomWeights(shape, D, { scale: 1 / Math.sqrt(D) });
    for (const [B, T] of BTs) {
      const flops = forwardFlops(shape, B, T);
      if (flops > maxFlops) continue;
      const batch = batchOf(shape.d_vocab, B, T, B * 1000 + T);
      const f64 = timeForward(weights, batch, "float64", "auto");
      const f32 = timeForward(weights, batch, "float32", "auto");
      const id = `D${D}-B${B}-T${T}`;
      rows.push({ id, D, B, T, gflop: flops / 1e9, float64: f64, float32: f32 });
      for (const dtype of ["float32", "float64"] as const) peerCases.push({ id: `${id}-${dtype}`, shape, dtype, batch: B, length: T, budget_s: 0.3 });
    }
  }
  log(`numpy peer on ${peerCases.length} cases`);
  const peer = runNumpy(peerCases);
  for (const r of rows) {
    r.numpy32 = peer.cases[`${r.id}-float32`];
    r.numpy64 = peer.cases[`${r.id}-float64`];
  }
  results.forwardGrid = { rows, numpy: peer.numpy, numpyError: peer.error };
  md.push(
    "## Forward throughput, random dense weights",
    "",
    "4 heads, d_head = d_model/4, 2 layers, vocabulary 512. Tokens/s (median of ≥ 3 runs, min–max of the time in results.json);",
    "GFLOP/s counts the useful work (projections, causal attention, unembedding) the same way for both.",
    `numpy ${peer.numpy ?? "(failed: " + peer.error + ")"}, OpenBLAS on the machine's cores. PyTorch: ${torch}.`,
    "",
    table(
      ["d_model", "batch × length", "f64 tok/s", "f64 GFLOP/s", "f32 tok/s", "f32 GFLOP/s", "numpy f32 tok/s", "numpy f32 GFLOP/s", "ours f32 / numpy f32"],
      rows.map((r) => {
        const f64 = r.float64 as ForwardFigure, f32 = r.float32 as ForwardFigure;
        const n32 = r.numpy32 as PeerResult | undefined;
        const g = r.gflop as number;
        return [
          r.D as number, `${r.B} × ${r.T}`, fmt.num(f64.tokensPerSecond), fmt.num(f64.gflops), fmt.num(f32.tokensPerSecond), fmt.num(f32.gflops),
          n32 ? fmt.num(n32.tokens_per_s) : "–", n32 ? fmt.num(g / n32.median) : "–", n32 ? `${fmt.num(f32.tokensPerSecond / n32.tokens_per_s)}×` : "–",
        ];
      }),
    ),
    "",
  );
}

// ---------------------------------------------------------------- 1b. kernels: what paid

function kernels(): void {
  log("kernels: JavaScript vs WebAssembly SIMD, 1 and 2 threads");
  const configs: { name: string; enabled: boolean; threads: boolean }[] = [
    { name: "JavaScript (register-blocked, 4 columns)", enabled: false, threads: false },
    { name: "WebAssembly SIMD, 1 thread", enabled: true, threads: false },
    { name: "WebAssembly SIMD, 2 threads", enabled: true, threads: true },
  ];
  const [M, K, N] = [256, 512, 1536];
  const rand = mulberry32(3);
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown>[] = [];
  const shape = shapeOf(512);
  const weights = randomWeights(shape, 512, { scale: 1 / Math.sqrt(512) });
  const batch = batchOf(512, 8, 256, 1);
  const fwdFlops = forwardFlops(shape, 8, 256);
  for (const c of configs) {
    wasmSettings.enabled = c.enabled;
    wasmSettings.threads = c.threads;
    const fig: Record<string, unknown> = { config: c.name };
    const cells: string[] = [];
    for (const precision of ["float32", "float64"] as const) {
      const make = (n: number, f: () => number) => (precision === "float32" ? Float32Array.from({ length: n }, f) : Float64Array.from({ length: n }, f));
      const x = make(M * K, () => rand() - 0.5);
      const w = make(K * N, () => rand() - 0.5);
      const o = make(M * N, () => 0);
      const wT = transpose(w, K, N);
      const packed = packPanels(w, K, N);
      const mm = c.enabled ? () => matmulWasm(x, 0, M, K, packed, N, o, 0) : () => matmulDense(x, 0, M, K, wT, N, o, 0);
      const t = measure(mm, { minRuns: 3, budget: 0.5 });
      const f = measure(() => forwardBatch(weights, batch, { precision }), { minRuns: 3, budget: 1 });
      fig[`matmul_${precision}`] = { timing: t, gflops: (2 * M * K * N) / t.median / 1e9 };
      fig[`forward_${precision}`] = { timing: f, gflops: fwdFlops / f.median / 1e9 };
      cells.push(fmt.num((2 * M * K * N) / t.median / 1e9), fmt.num(fwdFlops / f.median / 1e9));
    }
    out.push(fig);
    rows.push([c.name, ...cells]);
  }
  wasmSettings.enabled = true;
  wasmSettings.threads = true;
  results.kernels = { matmul: { M, K, N }, forward: { shape, batch: 8, length: 256 }, configs: out };
  md.push(
    "## Kernels: what paid",
    "",
    `GFLOP/s of a ${M}×${K} by ${K}×${N} product and of the whole forward (d_model 512, 4 heads, 2 layers, batch 8 × 256).`,
    "The WebAssembly kernel is assembled in src/sim/wasm.ts (f32x4 / f64x2, 4 rows × 8 (f32) or 4 (f64) columns of",
    "accumulators over packed weight panels); its results are bit-identical to the JavaScript kernel's.",
    "",
    table(["kernel", "matmul f32", "forward f32", "matmul f64", "forward f64"], rows),
    "",
  );
}

// ---------------------------------------------------------------- 2. mathjs ratio

function mathjsRatio(): void {
  log("mathjs reference path vs typed arrays");
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown>[] = [];
  for (const D of QUICK ? [64] : [32, 64, 128]) {
    const shape = shapeOf(D, 2, 64, 64);
    const weights = randomWeights(shape, 7 + D, { scale: 1 / Math.sqrt(D) });
    for (const T of [32, 64]) {
      const tokens = batchOf(64, 1, T, D)[0]!;
      const ref = measure(() => referenceForward(weights, tokens), { minRuns: 3, maxRuns: 5, budget: 2 });
      const typed = measure(() => forward(weights, tokens), { minRuns: 15, maxRuns: 60, budget: 0.3 });
      const ratio = ref.median / typed.median;
      out.push({ D, T, mathjs: ref, typed, ratio });
      rows.push([D, T, fmt.spread(ref), fmt.spread(typed), `${fmt.num(ratio)}×`]);
    }
  }
  results.mathjs = out;
  md.push(
    "## Typed arrays vs the mathjs reference path (same run, same forward)",
    "",
    "One sequence, 2 layers × 4 heads, float64 on both sides (vocabulary and n_ctx 64).",
    "",
    table(["d_model", "length", "mathjs (referenceForward)", "typed arrays (forward)", "ratio"], rows),
    "",
  );
}

// ---------------------------------------------------------------- 3. compiled programs

const PROGRAMS = ["previous-token", "induction", "induction-earliest", "bigram-induction", "duplicate-token", "every-average", "q-composition", "v-composition"];

function compiledPrograms(): void {
  log("compiled programs: compile time, forward (sparse, dense, numpy)");
  const out: Record<string, unknown>[] = [];
  const peerCases: PeerCase[] = [];
  const B = QUICK ? 8 : 64;
  for (const name of QUICK ? PROGRAMS.slice(0, 2) : PROGRAMS) {
    const program = programFile(name);
    const compileTime = measure(() => compile(program), { minRuns: 5, maxRuns: 30, budget: 0.3 });
    const model = compile(program);
    const w = model.weights;
    const T = w.config.n_ctx;
    const batch = batchOf(w.config.d_vocab, B, T, 5);
    const sparse64 = timeForward(w, batch, "float64", "auto", 0.3);
    const sparse32 = timeForward(w, batch, "float32", "auto", 0.3);
    const dense64 = timeForward(w, batch, "float64", "never", 0.3);
    const file = join(tmp, `${name}.safetensors`);
    saveWeights(file, w, { tokens: [...model.tokens] });
    for (const dtype of ["float64", "float32"] as const) peerCases.push({ id: `${name}-${dtype}`, weights: file, dtype, batch: B, length: T, budget_s: 0.3 });
    const c = w.config;
    out.push({ name, config: { D: c.d_model, E: c.d_head, H: c.n_heads, L: c.n_layers, C: c.n_ctx, V: c.d_vocab }, compile: compileTime, batch: B, length: T, sparse64, sparse32, dense64 });
  }
  const peer = runNumpy(peerCases);
  for (const r of out) {
    r.numpy64 = peer.cases[`${r.name}-float64`];
    r.numpy32 = peer.cases[`${r.name}-float32`];
  }
  results.compiled = { programs: out, numpyError: peer.error };
  md.push(
    "## Compiled programs",
    "",
    `Forward over a batch of ${B} random sequences of n_ctx tokens. "sparse" is the default path (CSR products, sparse queries,`,
    "active value columns); \"dense\" forces the dense kernels on the same weights; numpy runs the exported safetensors the standard way.",
    "",
    table(
      ["program", "d_model / d_head / heads / layers", "compile", "sparse f64 tok/s", "sparse f32 tok/s", "dense f64 tok/s", "numpy f64 tok/s", "numpy f32 tok/s", "sparse f64 / numpy f64"],
      out.map((r) => {
        const c = r.config as Record<string, number>;
        const s64 = r.sparse64 as ForwardFigure, s32 = r.sparse32 as ForwardFigure, d64 = r.dense64 as ForwardFigure;
        const n64 = r.numpy64 as PeerResult | undefined, n32 = r.numpy32 as PeerResult | undefined;
        return [
          r.name as string, `${c.D} / ${c.E} / ${c.H} / ${c.L}`, fmt.spread(r.compile as Timing),
          fmt.num(s64.tokensPerSecond), fmt.num(s32.tokensPerSecond), fmt.num(d64.tokensPerSecond),
          n64 ? fmt.num(n64.tokens_per_s) : "–", n32 ? fmt.num(n32.tokens_per_s) : "–",
          n64 ? `${fmt.num(s64.tokensPerSecond / n64.tokens_per_s)}×` : "–",
        ];
      }),
    ),
    "",
  );
}

// ---------------------------------------------------------------- 4. generation

function generation(): void {
  log("generation with and without the KV cache");
  const C = QUICK ? 1024 : 4096;
  const shape = shapeOf(128, 2, C, 512);
  const weights = randomWeights(shape, 11, { scale: 1 / Math.sqrt(128) });
  const contexts = QUICK ? [256, 512, 1024] : [256, 512, 1024, 2048, 4096];
  const window = 32;
  // With the cache: push one token at a time to the end of the context; the
  // cost of a token at context c is the mean push time over the `window`
  // positions before c. Three passes, median per context.
  const passes: number[][] = [];
  const total: number[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const run = new IncrementalRun(weights, { precision: "float64" });
    const stamps: number[] = [performance.now()];
    const rand = mulberry32(pass);
    run.step(BOS_ID);
    for (let t = 1; t < C; t++) {
      run.step(1 + Math.floor(rand() * 511));
      stamps.push(performance.now());
    }
    total.push((stamps[stamps.length - 1]! - stamps[0]!) / 1000);
    passes.push(contexts.map((c) => (stamps[c - 1]! - stamps[c - 1 - window]!) / window / 1000));
  }
  const withCache = contexts.map((c, i) => {
    const xs = passes.map((p) => p[i]!).sort((a, b) => a - b);
    return { context: c, median: xs[1]!, min: xs[0]!, max: xs[2]! };
  });
  // The lead's generate() with the cache, end to end (sampling included).
  const gen = measure(() => generate(weights, [BOS_ID], { steps: C - 1, kvCache: true }), { warmup: 0, minRuns: 3, maxRuns: 3 });
  // Without: every new token reruns the whole prefix, so a token at context c costs forward(c tokens).
  const noCacheContexts = QUICK ? [256, 512] : [256, 512, 1024, 2048, 4096];
  const withoutCache = noCacheContexts.map((c) => {
    const tokens = batchOf(512, 1, c, c)[0]!;
    const t = measure(() => forward(weights, tokens), { warmup: c >= 2048 ? 0 : 1, minRuns: c >= 2048 ? 2 : 3, maxRuns: 5, budget: 1 });
    return { context: c, median: t.median, min: t.min, max: t.max };
  });
  const gen32 = measure(() => generate(weights, [BOS_ID], { steps: C - 1, kvCache: true, precision: "float32" }), { warmup: 0, minRuns: 3, maxRuns: 3 });
  const genNoCache = measure(() => generate(weights, batchOf(512, 1, 256, 3)[0]!, { steps: 8, kvCache: false }), { warmup: 0, minRuns: 3, maxRuns: 3 });
  const kExp = logLogSlope(withCache.map((r) => r.context), withCache.map((r) => r.median));
  const kExpTail = logLogSlope(withCache.slice(-3).map((r) => r.context), withCache.slice(-3).map((r) => r.median));
  const nExp = logLogSlope(withoutCache.map((r) => r.context), withoutCache.map((r) => r.median));
  results.generation = {
    shape, window, withCache, withoutCache, totalPushSeconds: total, generateWithCache: gen, generateWithCacheFloat32: gen32, generateNoCache8StepsFrom256: genNoCache,
    exponents: { withCache: kExp, withCacheLargestThree: kExpTail, withoutCache: nExp },
  };
  const byC = new Map(withoutCache.map((r) => [r.context, r]));
  md.push(
    "## Generation: time per token",
    "",
    `d_model 128, 4 heads, 2 layers, vocabulary 512, float64. With the KV cache: mean push time over the ${window} positions before`,
    "the context (median of 3 passes, min–max). Without: one forward over the whole prefix (what every new token costs then).",
    "",
    table(
      ["context", "with KV cache", "without (full forward)", "speed-up"],
      contexts.map((c, i) => {
        const w = withCache[i]!;
        const n = byC.get(c);
        return [c, `${fmt.num(w.median * 1000)} ms (${fmt.num(w.min * 1000)}–${fmt.num(w.max * 1000)})`, n ? `${fmt.num(n.median * 1000)} ms (${fmt.num(n.min * 1000)}–${fmt.num(n.max * 1000)})` : "–", n ? `${fmt.num(n.median / w.median)}×` : "–"];
      }),
    ),
    "",
    `Exponent of time per token in context (log-log slope): with the cache ${kExp.toFixed(2)} over ${contexts[0]}–${contexts[contexts.length - 1]}`,
    `(${kExpTail.toFixed(2)} over the largest three: the D²-sized projections dominate short contexts, attention ∝ context the long ones);`,
    `without ${nExp.toFixed(2)}. All ${C} tokens with the cache through generate(): ${fmt.spread(gen, (s: number) => `${fmt.num(s)} s`)} in float64,`,
    `${fmt.spread(gen32, (s: number) => `${fmt.num(s)} s`)} in float32 (pushes alone, float64: ${fmt.num(total.sort((a, b) => a - b)[1]!)} s).`,
    "",
  );
}

// ---------------------------------------------------------------- 5. exhaustive check

async function exhaustive(): Promise<void> {
  log("exhaustive check throughput");
  const program = programFile("induction");
  const model = compile(program);
  const alphabet = [0, 1, 2, 3];
  const sizes = QUICK ? [6] : [8, 9];
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown>[] = [];
  const pool = new CheckPool(model, 2);
  try {
    for (const L of sizes) {
      const opts = { maxLength: L, alphabet };
      let n = 0;
      const one = measure(() => (n = checkExhaustive(model, opts).sequences), { minRuns: 3, maxRuns: 5, budget: 2 });
      const warm = await measureAsync(() => pool.check(opts), { minRuns: 3, maxRuns: 5, budget: 2 });
      // Symbolic side alone: the same prefix walk with SymbolicRun push/pop only.
      const sym = measure(() => walk(model, L, alphabet, "symbolic"), { minRuns: 3, maxRuns: 5, budget: 1 });
      const sim = measure(() => walk(model, L, alphabet, "compiled"), { minRuns: 3, maxRuns: 5, budget: 1 });
      out.push({ maxLength: L, sequences: n, oneThread: one, twoWorkersWarmPool: warm, symbolicOnly: sym, compiledOnly: sim });
      const rate = (t: Timing) => `${fmt.num(n / t.median)}/s`;
      rows.push([`1…${L}`, n, `${fmt.spread(one)} · ${rate(one)}`, `${fmt.spread(warm)} · ${rate(warm)}`, `${fmt.spread(sim)} · ${rate(sim)}`, `${fmt.spread(sym)} · ${rate(sym)}`]);
    }
  } finally {
    await pool.close();
  }
  // A cold pool (what `--workers 2` pays per run) and the CLI end to end.
  const cold = await measureAsync(async () => {
    const p = new CheckPool(model, 2);
    await p.check({ maxLength: 8, alphabet });
    await p.close();
  }, { warmup: 0, minRuns: 2, maxRuns: 3, budget: 1 });
  const poolStart = await measureAsync(async () => {
    const p = new CheckPool(model, 2);
    await p.check({ maxLength: 1, alphabet });
    await p.close();
  }, { warmup: 0, minRuns: 2, maxRuns: 3, budget: 1 });
  const cli: { wall: number; reported: number }[] = [];
  for (let i = 0; i < (QUICK ? 1 : 3); i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ["bin/circuits.js", "check", "programs/induction.circ", "--exhaustive", "--max-length", "8", "--alphabet", "a,b,c,d", "--json"], { cwd: ROOT, encoding: "utf8" });
    const wall = (performance.now() - t0) / 1000;
    const reported = r.status === 0 ? (JSON.parse(r.stdout) as { seconds: number }).seconds : NaN;
    cli.push({ wall, reported });
  }
  results.exhaustive = { program: "programs/induction.circ", alphabet: "a,b,c,d", sizes: out, coldPool2Workers_L8: cold, poolStartStop: poolStart, cli };
  md.push(
    "## Exhaustive check throughput",
    "",
    "programs/induction.circ, every sequence over 4 tokens, compiled run + decoding of every feature + logits + symbolic run compared",
    "at every position. Time (min–max) · sequences/s. \"2 workers\": a warm CheckPool (threads already started);",
    "\"compiled only\" / \"symbolic only\": the same prefix walk with just one side.",
    "",
    table(["lengths", "sequences", "1 thread (check)", "2 workers, warm pool", "compiled only", "symbolic only"], rows),
    "",
    `Starting and stopping a 2-thread pool costs ${fmt.spread(poolStart)} (each thread starts tsx and imports the`,
    `checker), so a cold 2-worker check of lengths 1…8 takes ${fmt.spread(cold)}: for small checks one thread wins, and`,
    `\`circuits check\` uses workers from ${AUTO_WORKERS_MIN_SEQUENCES.toLocaleString("en-US")} sequences on (\`--workers N\` forces a count).`,
    `\`circuits check programs/induction.circ --exhaustive --max-length 8 --alphabet a,b,c,d\` end to end: ${cli.map((c) => `${c.wall.toFixed(2)} s`).join(", ")}`,
    `wall (process start, imports, compile included); the check itself (its "seconds"): ${cli.map((c) => `${c.reported} s`).join(", ")}.`,
    "",
  );
}

/** The exhaustive prefix walk with only one side, written like checkUnitRange's: for the breakdown. */
function walk(model: CompiledModel, L: number, alphabet: readonly number[], side: "compiled" | "symbolic"): void {
  const a = alphabet.length;
  if (side === "symbolic") {
    const sym = new SymbolicRun(model.program);
    const rec = (d: number) => {
      for (let c = 0; c < a; c++) {
        sym.push(alphabet[c]!);
        if (d < L) rec(d + 1);
        sym.pop();
      }
    };
    rec(1);
    return;
  }
  const sim = new IncrementalRun(model.weights);
  const ids = Int32Array.from(alphabet, (t) => t + 1);
  sim.step(BOS_ID);
  const rec = (d: number) => {
    for (let c = 0; c < a; c++) {
      sim.step(ids[c]!);
      if (d < L) rec(d + 1);
      sim.pop();
    }
  };
  rec(1);
}

// ---------------------------------------------------------------- 6. scaling

function scaling(): void {
  log("scaling sweeps");
  const sweeps: Record<string, { x: number[]; t: Timing[]; exponent: number; fixed: string }> = {};
  const run = (name: string, fixed: string, xs: number[], make: (x: number) => { weights: Weights; batch: number[][] }) => {
    const t = xs.map((x) => {
      const { weights, batch } = make(x);
      return measure(() => forwardBatch(weights, batch, { precision: "float32" }), { minRuns: 3, budget: 0.4 });
    });
    sweeps[name] = { x: xs, t, exponent: logLogSlope(xs, t.map((m) => m.median)), fixed };
  };
  const w128 = randomWeights(shapeOf(128), 3, { scale: 0.1 });
  run("length", "d_model 128, batch 1, 2 layers", QUICK ? [64, 256] : [64, 128, 256, 512, 1024], (T) => ({ weights: w128, batch: batchOf(512, 1, T, T) }));
  run("batch", "d_model 128, length 64, 2 layers", QUICK ? [1, 16] : [1, 4, 16, 64, 256], (B) => ({ weights: w128, batch: batchOf(512, B, 64, B) }));
  run("d_model", "batch 4, length 64, 2 layers, 4 heads", QUICK ? [32, 128] : [32, 64, 128, 256, 512], (D) => ({
    weights: randomWeights(shapeOf(D), D, { scale: 0.1 }),
    batch: batchOf(512, 4, 64, D),
  }));
  run("layers", "d_model 128, batch 4, length 64", QUICK ? [1, 4] : [1, 2, 4, 8], (L) => ({
    weights: randomWeights(shapeOf(128, L), L, { scale: 0.1 }),
    batch: batchOf(512, 4, 64, L),
  }));
  results.scaling = sweeps;
  md.push(
    "## Scaling (float32 forward, random dense weights)",
    "",
    "Exponent k in time ∝ size^k: least-squares slope of log time on log size over the sweep.",
    "",
    table(
      ["size", "held fixed", "points (size: median time)", "exponent"],
      Object.entries(sweeps).map(([name, s]) => [name, s.fixed, s.x.map((x, i) => `${x}: ${fmt.ms(s.t[i]!.median)}`).join(", "), s.exponent.toFixed(2)]),
    ),
    "",
    "Expected: length between 1 (projections) and 2 (attention); batch 1; d_model 2 once the D² projections dominate; layers 1.",
    "",
  );
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (wanted("kernels")) kernels();
  if (wanted("forward")) forwardGrid();
  if (wanted("mathjs")) mathjsRatio();
  if (wanted("compiled")) compiledPrograms();
  if (wanted("generation")) generation();
  if (wanted("exhaustive")) await exhaustive();
  if (wanted("scaling")) scaling();
  (results.machine as Record<string, unknown>).loadAverageAtEnd = loadavg();
  (results.machine as Record<string, unknown>).benchSeconds = (performance.now() - started) / 1000;
  const m = results.machine as Record<string, unknown>;
  const header = [
    "# Benchmark results",
    "",
    `Written by \`npm run bench\` (bench/run.ts) on ${m.date}: ${m.cpus} × ${m.model}, Node ${m.node}.`,
    `Load average at start ${(m.loadAverageAtStart as number[]).map((x) => x.toFixed(1)).join(" ")}, at end ${(m.loadAverageAtEnd as number[]).map((x) => x.toFixed(1)).join(" ")}`,
    "(other work on the machine widens the spreads). Every figure: median after a warm-up, spreads are min–max over the runs.",
    ONLY === null
      ? `The whole suite took ${(m.benchSeconds as number).toFixed(0)} s. Raw numbers: bench/results.json.`
      : `Only ${[...ONLY].join(", ")} (--only), in ${(m.benchSeconds as number).toFixed(0)} s; not written to bench/results.json.`,
    "",
  ];
  rmSync(tmp, { recursive: true, force: true });
  if (ONLY !== null) {
    // A partial run leaves the full tables alone.
    process.stdout.write(`${[...header, ...md].join("\n")}\n`);
    log(`--only ${[...ONLY].join(",")}: printed the tables; bench/results.json and bench/RESULTS.md left as they were`);
    return;
  }
  writeFileSync(join(ROOT, "bench/results.json"), `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(join(ROOT, "bench/RESULTS.md"), `${[...header, ...md].join("\n")}\n`);
  log("wrote bench/results.json and bench/RESULTS.md");
}

await main();
