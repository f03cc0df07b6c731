/**
 * forwardBatch on compiled weights, shared with a helper thread: the batch's
 * sequences are cut into chunks that the calling thread and the helper
 * (compactWorker.ts) claim from a counter, so a helper that wakes late or is
 * descheduled just takes fewer (and after a job where it cost time, the next
 * ones run alone for a while: kernels/sharing.ts). The logits are the one-thread
 * narrowed forward's, bit for bit (see compactJob.ts).
 *
 * The helper starts on the first batch big enough to share, in the
 * background: until it has loaded its modules every batch runs on this
 * thread alone, so starting it never makes a call wait. It is unref'd (it
 * never keeps the process alive) and, as the kernels' helper, is started only
 * in the main thread unless asked: a pool's workers already fill the cores.
 */
import { availableParallelism } from "node:os";
import { isMainThread, MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { claimChunks, HelperBackoff, jobTag, waitForHelper } from "../kernels/sharing.ts";
import { workerScript } from "../kernels/workerScript.ts";
import type { FloatArray, Weights } from "../model/weights.ts";
import { allSparse, compactModel } from "./compact.ts";
import { CONTROL, CONTROL_WORDS, HELPER_MODELS, type HelperMessage, type JobBuffers, runChunk } from "./compactJob.ts";
import type { PreparedModel, SparseMode } from "./prepare.ts";

/** Switches for tests and benchmarks (results never depend on them, only speed). */
export const forwardThreads = {
  /** Share compiled-weights batches with the helper thread at all. */
  enabled: process.env.CIRCUITS_THREADS !== "1",
  /** Start the helper inside a worker thread too (tests run in workers). */
  inWorkers: false,
  /** The helper runs every chunk (this thread only waits): tests. */
  helperOnly: false,
  /** Chunks the helper has run so far. */
  helperChunks: 0,
  /** Sets of weights sent to the helper so far (each is copied into it). */
  modelsSent: 0,
  /** Why the helper stopped (it failed to load, or threw), if it did: batches then run on this thread. */
  failure: null as string | null,
};

/** Fewest token rows worth a job: below, waking the helper costs about what it saves. */
export const SHARE_MIN_ROWS = 256;

/** Chunks per job (at most one sequence each): enough for a late helper to still take some. */
const CHUNKS = 8;

interface Helper {
  readonly control: Int32Array;
  readonly port: MessagePort;
  seq: number;
  /** Ids of the weights the helper holds, least recently used first. */
  readonly models: number[];
  buffers: JobBuffers | null;
}

let helper: Helper | null | undefined;
const backoff = new HelperBackoff();
const weightIds = new WeakMap<Weights, number>();
let nextWeightsId = 1;

function startHelper(): Helper | null {
  if (helper !== undefined) return helper;
  if (!isMainThread && !forwardThreads.inWorkers) return null;
  if (availableParallelism() < 2 && !forwardThreads.helperOnly) return null;
  helper = null;
  try {
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
    const { port1, port2 } = new MessageChannel();
    const script = workerScript(import.meta.url, "./compactWorker");
    const w = new Worker(script.bootstrap, {
      eval: true, workerData: { control: control.buffer, port: port2 }, transferList: [port2],
      ...(script.execArgv ? { execArgv: script.execArgv } : {}),
    });
    // Never keeps the process alive: it only ever waits on the job word.
    w.unref();
    port1.unref();
    w.on("error", (e) => abandonHelper(e.message));
    helper = { control, port: port1, seq: 0, models: [], buffers: null };
  } catch {
    helper = null;
  }
  return helper;
}

/** Start the helper (if this thread may have one) and resolve once it can take work: false if it never will. */
export async function forwardHelperReady(timeoutMs = 60_000): Promise<boolean> {
  const h = startHelper();
  const t0 = performance.now();
  while (h && helper === h && performance.now() - t0 < timeoutMs) {
    if (Atomics.load(h.control, CONTROL.READY) === 1) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

/** Threads compiled-weights batches run on now: 2 once the helper has loaded, else 1. */
export function forwardThreadCount(): number {
  return helper && Atomics.load(helper.control, CONTROL.READY) === 1 ? 2 : 1;
}

/**
 * The [N, Vo] logits of the stacked sequences (as runCompact gives them, in a
 * shared buffer the next job reuses: copy out what you keep), computed with
 * the helper thread; null when this batch runs on one thread (weights not
 * all sparse, too few rows, no helper ready, or backing off).
 */
export function runCompactShared(
  model: PreparedModel, weights: Weights, mode: SparseMode, tokens: Int32Array, starts: readonly number[], lengths: readonly number[],
): FloatArray | null {
  const B = starts.length, N = tokens.length;
  if (!forwardThreads.enabled || B < 2 || (N < SHARE_MIN_ROWS && !forwardThreads.helperOnly)) return null;
  if (!allSparse(model, mode)) return null;
  const h = startHelper();
  if (!h || Atomics.load(h.control, CONTROL.READY) !== 1) return null;
  if (!forwardThreads.helperOnly && backoff.skip()) return null;
  const c = h.control;
  const f32 = model.precision === "float32";
  const Vo = model.config.d_vocab_out;
  const n = Math.min(B, CHUNKS);
  const bufs = jobBuffers(h, N, 2 * B + n + 1, N * Vo);
  bufs.tokens.set(tokens);
  const meta = bufs.meta;
  for (let b = 0; b < B; b++) {
    meta[b] = starts[b];
    meta[B + b] = lengths[b];
  }
  for (let k = 0; k <= n; k++) meta[2 * B + k] = Math.round((k * B) / n);
  const id = sendWeights(h, weights);
  h.seq = (h.seq + 1) & 0x7fffffff;
  const tag = jobTag(h.seq);
  c[CONTROL.MODEL] = id;
  c[CONTROL.F32] = f32 ? 1 : 0;
  c[CONTROL.CHUNKS] = n;
  c[CONTROL.SEQUENCES] = B;
  Atomics.store(c, CONTROL.DONE, 0);
  Atomics.store(c, CONTROL.CLAIM, tag);
  Atomics.store(c, CONTROL.SEQ, h.seq);
  // A helper still watching SEQ sees the job; one that stopped watching after this read finds SEQ changed
  // when it goes to sleep (the wait compares it first).
  if (Atomics.load(c, CONTROL.SPINNING) === 0) Atomics.notify(c, CONTROL.SEQ);
  const cm = compactModel(model);
  const t0 = performance.now();
  const mine = forwardThreads.helperOnly ? 0 : claimChunks(c, CONTROL.CLAIM, tag, n, (k) => runChunk(cm, bufs, B, k));
  const own = performance.now() - t0;
  try {
    waitForHelper(c, CONTROL.DONE, mine, n, "forwardBatch", CONTROL.WAITING);
  } catch (e) {
    // A chunk it claimed not done within a minute: the helper died (its error event cannot reach a
    // thread blocked here) or is stuck. This job runs again on this thread, and so do the next ones.
    Atomics.store(c, CONTROL.CLAIM, tag | 0xffff);
    return abandonHelper((e as Error).message);
  }
  Atomics.store(c, CONTROL.CLAIM, tag | 0xffff);
  forwardThreads.helperChunks += n - mine;
  backoff.record(performance.now() - t0, own, mine, n);
  // The helper threw on a chunk (it never should: the tokens were checked): its rows are not to be trusted.
  if (Atomics.exchange(c, CONTROL.FAILED, 0) !== 0) return abandonHelper("a chunk threw on the helper thread");
  return bufs.out.subarray(0, N * Vo);
}

/** Stop sharing for the rest of the process, saying why; returns null (the caller runs the job alone). */
function abandonHelper(why: string): null {
  forwardThreads.failure = why;
  helper = null;
  return null;
}

/** The id the helper knows `weights` by, sending them first if it does not hold them (and dropping its least recently used set if it holds HELPER_MODELS). */
function sendWeights(h: Helper, weights: Weights): number {
  let id = weightIds.get(weights);
  if (id === undefined) weightIds.set(weights, (id = nextWeightsId++));
  const at = h.models.indexOf(id);
  if (at >= 0) h.models.splice(at, 1);
  else {
    const drop = h.models.length >= HELPER_MODELS ? h.models.shift()! : null;
    post(h, { type: "model", id, weights, drop });
    forwardThreads.modelsSent++;
  }
  h.models.push(id);
  return id;
}

/** The helper's buffers, replaced (and sent to it) when this job needs more. */
function jobBuffers(h: Helper, tokens: number, meta: number, out: number): JobBuffers {
  const b = h.buffers;
  if (b && b.tokens.length >= tokens && b.meta.length >= meta && b.out.length >= out) return b;
  const grow = (have: number, need: number) => Math.max(need, 2 * have);
  const buffers: JobBuffers = {
    tokens: new Int32Array(new SharedArrayBuffer(4 * grow(b?.tokens.length ?? 0, tokens))),
    meta: new Int32Array(new SharedArrayBuffer(4 * grow(b?.meta.length ?? 0, meta))),
    out: new Float64Array(new SharedArrayBuffer(8 * grow(b?.out.length ?? 0, out))),
  };
  post(h, { type: "buffers", buffers });
  h.buffers = buffers;
  return buffers;
}

function post(h: Helper, msg: HelperMessage): void {
  h.port.postMessage(msg);
}
