/**
 * Exhaustive I_k checks on worker threads (a piscina pool) for the
 * full-bound runs (proofs/run.ts): the prefix tree is split into tasks
 * (exhaustive.ts splitTasks), workers walk them, and the summaries are merged
 * in task order, so the result — counts and lexicographically least
 * witnesses — is the same as one thread's.
 */
import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import { workerScript } from "../../src/kernels/workerScript.ts";
import { emptySummary, type ExhaustiveSummary, mergeSummaries, splitTasks } from "./exhaustive.ts";
import type { IkTask } from "./worker.ts";

/** The pool's worker module (these checks run from the TypeScript sources: tsx's loader in its flags). */
const WORKER = workerScript(import.meta.url, "./worker");

export class IkPool {
  private readonly pool: Piscina;
  constructor(readonly workers = availableParallelism()) {
    this.pool = new Piscina({
      filename: WORKER.url,
      minThreads: workers,
      maxThreads: workers,
      ...(WORKER.execArgv ? { execArgv: WORKER.execArgv } : {}),
    });
  }

  /** All prompts of length ≤ maxLen over V tokens, checked for I_k. */
  async exhaustive(
    V: number,
    k: number,
    maxLen: number,
    opts: { extra?: number; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<{ summary: ExhaustiveSummary; seconds: number }> {
    const t0 = performance.now();
    // Enough tasks (≥ 16 per worker) that the threads finish together.
    let depth = 0;
    while (depth < maxLen && V ** depth < 16 * this.workers) depth++;
    const specs = splitTasks(V, maxLen, depth);
    let done = 0;
    const results = await Promise.all(
      specs.map(async (s) => {
        const task: IkTask = { V, k, maxLen: s.maxLen, prefix: s.prefix, extra: opts.extra };
        const r = (await this.pool.run(task)) as ExhaustiveSummary;
        opts.onProgress?.(++done, specs.length);
        return r;
      }),
    );
    const total = emptySummary(V, k, maxLen);
    for (const r of results) mergeSummaries(total, r);
    return { summary: total, seconds: (performance.now() - t0) / 1000 };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
