/**
 * Exhaustive checks on worker threads (a piscina pool), with results
 * identical to checkExhaustive in one thread: the shard's unit range (see
 * TreeSplit in check.ts) is cut into consecutive chunks, each chunk is walked
 * by whichever worker is free, and the chunk results are merged in chunk
 * order — counts add, and the first disagreement is the first chunk's, which
 * is the first in depth-first order whatever order the chunks finished in.
 *
 * Run from the TypeScript sources (tsx, vitest, the bench) the workers load
 * worker.ts through tsx's loader, passed as --import; run from the built
 * package (dist/) they load worker.js with plain Node.
 */
import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import type { CompiledModel } from "../compiler/compile.ts";
import { workerScript } from "../kernels/workerScript.ts";
import type { Layout } from "../compiler/layout.ts";
import type { Precision } from "../sim/prepare.ts";
import {
  type CheckResult, checkExhaustive, countInRange, disagreementAt, type ExhaustiveOptions, exhaustiveSetup,
  shardRange, treeSplit, type TreeSplit,
} from "./check.ts";
import { assertCoverage, checkClasses, classesInRange, classShardRange, classSplit, cut, SymmetryError, tieReason } from "./classes.ts";

/** What a worker needs of a compiled model (all of it survives structured cloning). */
export interface WorkerModel {
  readonly program: CompiledModel["program"];
  readonly layout: Omit<Layout, "space">;
  readonly scales: CompiledModel["scales"];
  readonly weights: CompiledModel["weights"];
  readonly tokens: CompiledModel["tokens"];
}

/** One chunk of work: units [lo, hi) of `split`. */
export interface RangeTask {
  readonly split: TreeSplit;
  readonly alphabet: readonly number[];
  readonly precision: Precision;
  readonly lo: number;
  readonly hi: number;
  /** Walk renaming-class representatives (units of classSplit(alphabet.length, split.maxLength)) instead. */
  readonly symmetric?: boolean;
}

export interface RangeTaskResult {
  readonly sequences: number;
  readonly disagreements: number;
  /** Input of the chunk's first disagreement (the report is rebuilt by the caller). */
  readonly firstInput: number[] | null;
  /** Representatives walked (symmetric tasks only). */
  readonly classes?: number;
  /** A representative with a decoding tie (symmetric tasks only): the class walk is void. */
  readonly tie?: readonly number[] | null;
}

export interface ParallelOptions extends ExhaustiveOptions {
  /** Worker threads; default: the machine's cores. 1 runs in this thread, with no pool. */
  readonly workers?: number;
  /** Chunks per worker (default 8): more balance late starters, fewer cost less messaging. */
  readonly chunksPerWorker?: number;
}

/** Number of cores Node reports, the default worker count. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** The model minus what cannot cross a thread boundary (the layout's Space, the head circuits). */
export function toWorkerModel(model: CompiledModel): WorkerModel {
  const { program, layout, scales, weights, tokens } = model;
  return { program, layout: { dModel: layout.dModel, blocks: layout.blocks }, scales, weights, tokens };
}

const WORKER = workerScript(import.meta.url, "./worker");

/**
 * checkExhaustive on `workers` threads: the same sequences, disagreements and
 * first disagreement as the one-thread run (and, with opts.shard, as that
 * shard's one-thread run). `seconds` includes starting and stopping the pool.
 */
export async function checkExhaustiveParallel(model: CompiledModel, opts: ParallelOptions): Promise<CheckResult> {
  const workers = Math.max(1, Math.floor(opts.workers ?? defaultWorkers()));
  if (workers === 1) return opts.symmetric ? checkClasses(model, opts) : checkExhaustive(model, opts);
  const t0 = performance.now();
  const pool = new CheckPool(model, workers);
  try {
    const r = await pool.check(opts);
    return { ...r, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await pool.close();
  }
}

/**
 * A pool of worker threads holding one model, for several exhaustive checks
 * of it (different lengths, alphabets or shards) without restarting threads.
 * Close it when done.
 */
export class CheckPool {
  private readonly pool: Piscina;

  constructor(readonly model: CompiledModel, readonly workers = defaultWorkers()) {
    this.pool = new Piscina({
      filename: WORKER.url,
      minThreads: workers,
      maxThreads: workers,
      ...(WORKER.execArgv ? { execArgv: WORKER.execArgv } : {}),
      workerData: { model: toWorkerModel(model) },
    });
  }

  /** checkExhaustive(model, opts) on the pool's threads (opts.workers is ignored). */
  async check(opts: ParallelOptions): Promise<CheckResult> {
    const t0 = performance.now();
    const { model, workers } = this;
    const { alphabet, maxLength } = exhaustiveSetup(model, opts);
    const precision = opts.precision ?? "float64";
    const symmetric = opts.symmetric === true;
    // Chunks: consecutive unit ranges, by unit count in the full tree (its
    // units' subtrees are equal) and by tree nodes in the class tree (not).
    let split: TreeSplit;
    let bounds: number[];
    let total: number;
    const chunksOf = (lo: number, hi: number) => Math.max(1, Math.min(hi - lo, workers * (opts.chunksPerWorker ?? 8)));
    if (symmetric) {
      const cs = classSplit(alphabet.length, maxLength);
      const [lo, hi] = classShardRange(cs, opts.shard ?? { index: 0, count: 1 });
      const n = chunksOf(lo, hi);
      bounds = Array.from({ length: n + 1 }, (_, c) => cut(cs, c, n, lo, hi));
      total = classesInRange(cs, lo, hi);
      split = { alphabetSize: cs.alphabetSize, maxLength: cs.maxLength, depth: cs.depth, units: cs.units };
    } else {
      split = treeSplit(alphabet.length, maxLength);
      const [lo, hi] = shardRange(split, opts.shard ?? { index: 0, count: 1 });
      const n = chunksOf(lo, hi);
      bounds = Array.from({ length: n + 1 }, (_, c) => lo + Math.floor((c * (hi - lo)) / n));
      total = countInRange(split, lo, hi);
    }
    let done = 0;
    const results = await Promise.all(
      bounds.slice(0, -1).map(async (a, c) => {
        const task: RangeTask = { split, alphabet: [...alphabet], precision, lo: a, hi: bounds[c + 1]!, symmetric };
        const r = (await this.pool.run(task)) as RangeTaskResult;
        done += symmetric ? r.classes! : r.sequences;
        opts.onProgress?.(done, total);
        return r;
      }),
    );
    // Chunk order is depth-first order: counts add, the first chunk's first wins.
    let sequences = 0;
    let classes = 0;
    let disagreements = 0;
    let firstInput: number[] | null = null;
    const tie = results.find((r) => r.tie)?.tie;
    if (tie) throw new SymmetryError(tieReason(tie));
    for (const r of results) {
      sequences += r.sequences;
      classes += r.classes ?? 0;
      disagreements += r.disagreements;
      firstInput ??= r.firstInput;
    }
    const first = firstInput ? disagreementAt(model, firstInput, precision) : null;
    if (firstInput && !first) throw new Error("CheckPool: a worker's disagreement did not reproduce");
    if (symmetric && (opts.shard?.count ?? 1) === 1) assertCoverage(sequences, alphabet.length, maxLength);
    return { sequences, disagreements, first, seconds: (performance.now() - t0) / 1000, ...(symmetric ? { classes } : {}) };
  }

  /** Stop the threads. */
  close(): Promise<void> {
    return this.pool.destroy();
  }
}
