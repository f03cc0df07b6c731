/**
 * The one helper thread: it runs the kernel module's job functions on the
 * same (shared) memory. A job is a function, a descriptor address and a
 * number of chunks; both threads claim chunks from a counter until none is
 * left, so a helper that is slow to wake (a loaded machine) just takes
 * fewer, and one that never wakes costs nothing but the notify. Chunks
 * write disjoint outputs with the same code, so the bits never depend on
 * who ran which.
 *
 * Control words (Int32 on a SharedArrayBuffer): [0] job number (−1: stop),
 * [1] function index, [2] descriptor, [3] chunks, [4] the helper's scratch,
 * [5] claim counter: (job number mod 2¹⁶) << 16 | next chunk, [6] chunks the
 * helper finished, [7] variant (0 plain, 1 fused). A claim is a
 * compare-and-swap on [5] that also checks the job number, and the counter
 * is closed (next chunk 0xffff) before any word of a later job is written,
 * so a helper that read a half-written job never claims anything from it.
 *
 * The thread is unref'd (it never keeps the process alive) and is started
 * only in the main thread, unless asked: inside a pool's worker threads a
 * helper each would only oversubscribe the cores the pool already fills.
 *
 * On a busy machine the helper can lose; then the next jobs run on this
 * thread alone for a while (HelperBackoff, sharing.ts).
 */
import { availableParallelism } from "node:os";
import { isMainThread, Worker } from "node:worker_threads";
import { claimChunks, HelperBackoff, jobTag, waitForHelper } from "./sharing.ts";
import { EXPORTS, type ExportName } from "./exports.ts";
import { activeInstance, type Kernels } from "./module.ts";

interface Helper {
  readonly control: Int32Array;
  seq: number;
}

let helper: Helper | null | undefined;

const backoff = new HelperBackoff();

const HELPER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { modules, memory, control, names } = workerData;
const fns = modules.map((m) => {
  const e = new WebAssembly.Instance(m, { env: { mem: memory } }).exports;
  return names.map((n) => e[n]);
});
const c = new Int32Array(control);
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  if (seen < 0) break;
  const f = fns[c[7]][c[1]], desc = c[2], n = c[3], scratch = c[4];
  if (Atomics.load(c, 0) !== seen) continue;
  const tag = (seen & 0xffff) << 16;
  for (;;) {
    const cur = Atomics.load(c, 5);
    if ((cur & 0xffff0000) !== tag || (cur & 0xffff) >= n) break;
    if (Atomics.compareExchange(c, 5, cur, cur + 1) !== cur) continue;
    f(desc, cur & 0xffff, scratch);
    Atomics.add(c, 6, 1);
    Atomics.notify(c, 6);
  }
}
`;

/** Switches for tests and benchmarks (results never depend on them, only speed). */
export const threadSettings = {
  /** Share jobs with the helper thread at all. */
  enabled: true,
  /** Start the helper inside a worker thread too (tests run in workers). */
  inWorkers: false,
  /** The helper runs every chunk (this thread only waits): tests. */
  helperOnly: false,
  /** Chunks the helper has run so far. */
  helperChunks: 0,
  /** Jobs after which the helper was found to have cost time (each sends the next ones to this thread alone). */
  get lostJobs(): number {
    return backoff.lostJobs;
  },
};

function helperThread(k: Kernels): Helper | null {
  if (helper !== undefined) return helper;
  if (process.env.CIRCUITS_WASM_THREADS === "0") return null;
  if (!isMainThread && !threadSettings.inWorkers && !threadSettings.helperOnly) return null;
  if (availableParallelism() < 2 && !threadSettings.helperOnly) return null;
  helper = null;
  try {
    const control = new Int32Array(new SharedArrayBuffer(8 * 4));
    const modules = k.fma ? [k.plain.module, k.fma.module] : [k.plain.module];
    const w = new Worker(HELPER_SOURCE, { eval: true, workerData: { modules, memory: k.memory, control: control.buffer, names: [...EXPORTS] } });
    w.unref(); // never keeps the process alive; it only ever waits on the control word
    w.on("error", () => {
      helper = null;
    });
    helper = { control, seq: 0 };
  } catch {
    helper = null;
  }
  return helper;
}

/** Threads the jobs have run on so far: 2 once the helper thread has started, else 1. */
export function jobThreads(): number {
  return helper ? 2 : 1;
}

/**
 * Run chunks 0 … n−1 of a job (an exported job function on a descriptor at
 * `desc`), shared with the helper thread when `share` and there is one;
 * `scratch0` and `scratch1` are this thread's and the helper's own scratch
 * addresses.
 */
export function runJob(k: Kernels, name: ExportName, desc: number, n: number, scratch0: number, scratch1: number, share = n >= 2): void {
  const inst = activeInstance(k);
  const f = inst.fns[name];
  let h = (share || threadSettings.helperOnly) && threadSettings.enabled ? helperThread(k) : null;
  if (h && !threadSettings.helperOnly && backoff.skip()) h = null;
  if (!h) {
    for (let i = 0; i < n; i++) f(desc, i, scratch0);
    return;
  }
  if (n >= 0xffff) throw new Error(`runJob: ${n} chunks is too many`);
  const c = h.control;
  h.seq = (h.seq + 1) & 0x7fffffff;
  const seq = h.seq, tag = jobTag(seq);
  c[1] = EXPORTS.indexOf(name);
  c[2] = desc;
  c[3] = n;
  c[4] = scratch1;
  c[7] = inst === k.plain ? 0 : 1;
  Atomics.store(c, 6, 0);
  Atomics.store(c, 5, tag);
  Atomics.store(c, 0, seq);
  Atomics.notify(c, 0);
  const t0 = performance.now();
  const mine = threadSettings.helperOnly ? 0 : claimChunks(c, 5, tag, n, (i) => f(desc, i, scratch0));
  const own = performance.now() - t0;
  waitForHelper(c, 6, mine, n, "runJob");
  Atomics.store(c, 5, tag | 0xffff);
  threadSettings.helperChunks += n - mine;
  backoff.record(performance.now() - t0, own, mine, n);
}
