/**
 * The helper thread of compiled-weights forwards (started by
 * compactThreads.ts): it watches the job word for HELPER_SPIN_MS after a
 * job, then sleeps on it (and notifies the caller of a finished chunk only
 * while the caller sleeps), and when a job is posted it
 * reads any messages waiting for it (new weights, bigger buffers), then
 * claims chunks of sequences until none is left. It holds the last few sets
 * of weights it was sent, each prepared per precision on first use, with its
 * own narrowed model, tables and pattern records (module state is per thread).
 */
import { receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import type { Weights } from "../model/weights.ts";
import { compactModel } from "./compact.ts";
import { claimChunks, jobTag } from "../kernels/sharing.ts";
import { CONTROL, HELPER_SPIN_MS, type HelperMessage, type JobBuffers, runChunk } from "./compactJob.ts";
import { prepare } from "./prepare.ts";

const { control: controlBuffer, port } = workerData as { control: SharedArrayBuffer; port: MessagePort };
const control = new Int32Array(controlBuffer);
let buffers: JobBuffers | null = null;
/** The weights sets the calling thread has sent and not dropped, by id. */
const models = new Map<number, Weights>();

function readMessages(): void {
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const msg = m.message as HelperMessage;
    if (msg.type === "model") {
      if (msg.drop !== null) models.delete(msg.drop);
      models.set(msg.id, msg.weights);
    } else buffers = msg.buffers;
  }
}

Atomics.store(control, CONTROL.READY, 1);
let seen = 0;
for (;;) {
  Atomics.store(control, CONTROL.SPINNING, 1);
  for (const until = performance.now() + HELPER_SPIN_MS; Atomics.load(control, CONTROL.SEQ) === seen && performance.now() < until;);
  Atomics.store(control, CONTROL.SPINNING, 0);
  Atomics.wait(control, CONTROL.SEQ, seen);
  seen = Atomics.load(control, CONTROL.SEQ);
  if (seen < 0) break;
  readMessages();
  const id = control[CONTROL.MODEL], f32 = control[CONTROL.F32] === 1, n = control[CONTROL.CHUNKS], B = control[CONTROL.SEQUENCES];
  // A later job overwrote the words while they were read: its own wake comes next.
  if (Atomics.load(control, CONTROL.SEQ) !== seen) continue;
  // Weights not (yet) here: the calling thread runs every chunk.
  const weights = models.get(id);
  if (weights === undefined || buffers === null) continue;
  const cm = compactModel(prepare(weights, f32 ? "float32" : "float64"));
  const bufs = buffers;
  claimChunks(control, CONTROL.CLAIM, jobTag(seen), n, (c) => {
    try {
      runChunk(cm, bufs, B, c);
    } catch {
      Atomics.store(control, CONTROL.FAILED, 1);
    }
    Atomics.add(control, CONTROL.DONE, 1);
    if (Atomics.load(control, CONTROL.WAITING) === 1) Atomics.notify(control, CONTROL.DONE);
  });
}
