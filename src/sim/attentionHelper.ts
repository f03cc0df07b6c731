/**
 * The KV cache's helper thread: it runs chunks of an AttentionWasm's call
 * table (attentionWasm.ts: a chunk is a few calls that must run in order, as
 * one head's scores then its softmax) on its own instance of the attention module, on
 * the same shared memory, so that the score and value products of a long
 * context stream through two cores. Each thread has home chunks (this
 * thread the first half of a job's, the helper the rest) and claims them
 * from its own counter (kernels/sharing.ts), then takes what is left of
 * the other's: so from one push to the next each core streams the same
 * heads' keys and values, which stay in its share of the cache (one core
 * streaming all 16 MB of a float64 cache at 4,096 falls out of it), while
 * a helper that wakes late or is descheduled just takes fewer; after a job
 * where it cost time the next ones run on this thread alone for a while.
 * Chunks write disjoint outputs with the same code, so the bits never
 * depend on who ran which.
 *
 * The helper is plain JavaScript (no imports to load, so it starts in tens
 * of milliseconds from the sources or from dist/). It watches the job word
 * for HELPER_SPIN_MS after a job (a generation posts one every few hundred
 * microseconds; waking from a sleep costs tens), then sleeps on it. It holds
 * one memory at a time: a run whose memory it does not hold sends it first,
 * and until it has arrived that run's jobs run on this thread alone. As the
 * other helpers, it is unref'd and started only in the main thread unless
 * asked (a pool's workers already fill the cores).
 */
import { availableParallelism } from "node:os";
import { isMainThread, MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { claimChunks, HelperBackoff, jobTag, waitForHelper } from "../kernels/sharing.ts";
import { CALL_WORDS, KERNEL_NAMES, type AttentionWasm } from "./attentionWasm.ts";
import { HELPER_SPIN_MS } from "./compactJob.ts";

/** Switches for tests and benchmarks (results never depend on them, only speed). */
export const attentionThreads = {
  /** Share long contexts' products with the helper thread at all. */
  enabled: process.env.CIRCUITS_THREADS !== "1",
  /**
   * Rows with fewer keys run on one thread: below, a job's hand-off costs about what the second core
   * saves (measured at d_model 128, 4 heads: float64 gains from about 192 keys, float32 from about 1,024).
   */
  minKeys: { float64: 256, float32: 1024 },
  /** Fewest key blocks in one part of a lone head's score product (up to SPLIT_PARTS parts). */
  minPartBlocks: 32,
  /** Start the helper inside a worker thread too (tests run in workers). */
  inWorkers: false,
  /** The helper runs every chunk (this thread only waits): tests. */
  helperOnly: false,
  /** Chunks the helper has run so far. */
  helperChunks: 0,
  /** Heads of shared rows whose softmax left expNeg's range, so that this thread finished them in JavaScript. */
  javascriptHeads: 0,
  /** Runs' memories sent to the helper so far (once per switch between runs: it holds one). */
  memoriesSent: 0,
  /** Why the helper stopped, if it did: jobs then run on this thread. */
  failure: null as string | null,
};

/** Control words (Int32, shared). */
const C = {
  /** Job number; −1 stops the helper. */
  SEQ: 0,
  /** Id of the memory the job's table lies in. */
  MEMORY: 1,
  /** Chunks in the job. */
  CHUNKS: 2,
  /** Byte address of the call table. */
  TABLE: 3,
  /** Claim counter: (job number mod 2¹⁶) << 16 | next chunk. */
  CLAIM: 4,
  /** Chunks the helper finished. */
  DONE: 5,
  /** 1 while the calling thread may sleep on DONE (the helper notifies only then). */
  WAITING: 6,
  /** 1 while the helper watches SEQ without sleeping (a post needs no notify then). */
  SPINNING: 7,
  /** 1 once the helper runs. */
  READY: 8,
  /** Byte address of the chunks' first entries. */
  STARTS: 9,
  /** The helper's claim counter, over its home chunks SPLIT … CHUNKS − 1: (job number mod 2¹⁶) << 16 | next chunk. */
  CLAIM2: 10,
  /** First of the helper's home chunks (this thread's are 0 … SPLIT − 1). */
  SPLIT: 11,
} as const;
const CONTROL_WORDS = 12;

const HELPER_SOURCE = `
const { receiveMessageOnPort, workerData } = require("node:worker_threads");
const { control, port, names, spinMs, words } = workerData;
const c = new Int32Array(control);
let fns = null, table = null, held = 0;
Atomics.store(c, ${C.READY}, 1);
let seen = 0;
for (;;) {
  Atomics.store(c, ${C.SPINNING}, 1);
  for (const until = performance.now() + spinMs; Atomics.load(c, ${C.SEQ}) === seen && performance.now() < until;);
  Atomics.store(c, ${C.SPINNING}, 0);
  Atomics.wait(c, ${C.SEQ}, seen);
  seen = Atomics.load(c, ${C.SEQ});
  if (seen < 0) break;
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const { id, memory, module } = m.message;
    const ex = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
    fns = names.map((n) => ex[n]);
    table = new Int32Array(memory.buffer);
    held = id;
  }
  const n = c[${C.CHUNKS}], at = c[${C.TABLE}] >> 2, starts = c[${C.STARTS}] >> 2, want = c[${C.MEMORY}];
  if (Atomics.load(c, ${C.SEQ}) !== seen || held !== want) continue;
  const tag = (seen & 0xffff) << 16, split = c[${C.SPLIT}];
  // Its home chunks first, then any of the calling thread's still unclaimed.
  for (const [word, limit] of [[${C.CLAIM2}, n], [${C.CLAIM}, split]]) {
    for (;;) {
      const cur = Atomics.load(c, word);
      if ((cur & 0xffff0000) !== tag || (cur & 0xffff) >= limit) break;
      if (Atomics.compareExchange(c, word, cur, cur + 1) !== cur) continue;
      const k = starts + (cur & 0xffff);
      for (let e = at + table[k] * words, end = at + table[k + 1] * words; e < end; e += words) {
        fns[table[e]](table[e + 1], table[e + 2], table[e + 3], table[e + 4], table[e + 5], table[e + 6]);
      }
      Atomics.add(c, ${C.DONE}, 1);
      if (Atomics.load(c, ${C.WAITING}) === 1) Atomics.notify(c, ${C.DONE});
    }
  }
}
`;

interface Helper {
  readonly control: Int32Array;
  readonly port: MessagePort;
  seq: number;
  /** Id of the memory last sent. */
  sent: number;
}

let helper: Helper | null | undefined;
const backoff = new HelperBackoff();
const memoryIds = new WeakMap<WebAssembly.Memory, number>();
let nextMemoryId = 1;

function startHelper(): Helper | null {
  if (helper !== undefined) return helper;
  if (!isMainThread && !attentionThreads.inWorkers) return null;
  if (availableParallelism() < 2 && !attentionThreads.helperOnly) return null;
  helper = null;
  try {
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
    const { port1, port2 } = new MessageChannel();
    const w = new Worker(HELPER_SOURCE, {
      eval: true,
      workerData: { control: control.buffer, port: port2, names: KERNEL_NAMES, spinMs: HELPER_SPIN_MS, words: CALL_WORDS },
      transferList: [port2],
    });
    w.unref(); // never keeps the process alive: it only ever waits on the job word
    port1.unref();
    w.on("error", (e) => abandon(e.message));
    helper = { control, port: port1, seq: 0, sent: 0 };
  } catch {
    helper = null;
  }
  return helper;
}

/** Stop sharing for the rest of the process, saying why. */
function abandon(why: string): void {
  attentionThreads.failure = why;
  helper = null;
}

/** Whether jobs may be shared now (the helper has started and runs); starts it on first use. */
export function attentionHelperReady(): boolean {
  if (!attentionThreads.enabled) return false;
  const h = startHelper();
  return h !== null && Atomics.load(h.control, C.READY) === 1;
}

/** Start the helper (if this thread may have one) and resolve once it runs: false if it never will. */
export async function attentionHelperStarted(timeoutMs = 60_000): Promise<boolean> {
  const t0 = performance.now();
  for (;;) {
    if (attentionHelperReady()) return true;
    if (!helper || performance.now() - t0 > timeoutMs) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Run chunk k of w's call table on this thread. */
function runChunk(w: AttentionWasm, k: number): void {
  const t = w.calls, fns = w.fns;
  for (let e = w.chunks[k] * CALL_WORDS, end = w.chunks[k + 1] * CALL_WORDS; e < end; e += CALL_WORDS) {
    fns[t[e]](t[e + 1], t[e + 2], t[e + 3], t[e + 4], t[e + 5], t[e + 6]);
  }
}

/** Run chunks 0 … n−1 of w's call table, shared with the helper thread when it is ready (else all here). */
export function runChunks(w: AttentionWasm, n: number): void {
  const h = helper;
  if (!h || !attentionThreads.enabled || (!attentionThreads.helperOnly && backoff.skip())) {
    for (let k = 0; k < n; k++) runChunk(w, k);
    return;
  }
  let id = memoryIds.get(w.memory);
  if (id === undefined) memoryIds.set(w.memory, (id = nextMemoryId++));
  if (h.sent !== id) {
    h.port.postMessage({ id, memory: w.memory, module: w.module });
    h.sent = id;
    attentionThreads.memoriesSent++;
  }
  const c = h.control;
  h.seq = (h.seq + 1) & 0x7fffffff;
  const tag = jobTag(h.seq);
  c[C.MEMORY] = id;
  c[C.CHUNKS] = n;
  c[C.TABLE] = w.calls.byteOffset;
  c[C.STARTS] = w.chunks.byteOffset;
  // Each thread has home chunks: the first half here, the rest on the helper, so that from one job to
  // the next each core streams the same heads' keys and values.
  const split = attentionThreads.helperOnly ? 0 : Math.ceil(n / 2);
  c[C.SPLIT] = split;
  Atomics.store(c, C.DONE, 0);
  Atomics.store(c, C.CLAIM2, tag | split);
  Atomics.store(c, C.CLAIM, tag);
  Atomics.store(c, C.SEQ, h.seq);
  // A helper still watching SEQ sees the job; one that stopped watching after this read finds SEQ
  // changed when it goes to sleep (the wait compares it first).
  if (Atomics.load(c, C.SPINNING) === 0) Atomics.notify(c, C.SEQ);
  const t0 = performance.now();
  const run = (k: number): void => runChunk(w, k);
  const mine = attentionThreads.helperOnly ? 0 : claimChunks(c, C.CLAIM, tag, split, run) + claimChunks(c, C.CLAIM2, tag, n, run);
  const own = performance.now() - t0;
  try {
    waitForHelper(c, C.DONE, mine, n, "IncrementalRun", C.WAITING);
  } catch (e) {
    // A chunk it claimed not done within a minute: the helper died or is stuck. Every chunk
    // writes only its own outputs, so running them all again here gives the same bits.
    Atomics.store(c, C.CLAIM, tag | 0xffff);
    Atomics.store(c, C.CLAIM2, tag | 0xffff);
    abandon((e as Error).message);
    for (let k = 0; k < n; k++) runChunk(w, k);
    return;
  }
  Atomics.store(c, C.CLAIM, tag | 0xffff);
  Atomics.store(c, C.CLAIM2, tag | 0xffff);
  attentionThreads.helperChunks += n - mine;
  backoff.record(performance.now() - t0, own, mine, n);
}
