/**
 * What the two threads of a shared compiled-weights forward (compactThreads.ts
 * on the calling thread, compactWorker.ts on the helper) agree on: the
 * control words, the shared buffers, and how one chunk of sequences is run.
 *
 * A job is one forwardBatch run cut into chunks of whole sequences. Both
 * threads claim chunks from a counter and run each through runCompact, the
 * one-thread narrowed forward, on the chunk's sequences alone. A sequence's
 * logits depend only on its own tokens (the pattern rows a chunk reuses are
 * equal inputs through equal arithmetic, compactAttention.ts), so the bits
 * never depend on the cut or on who ran which chunk.
 */
import type { FloatArray, Weights } from "../model/weights.ts";
import { runCompact, type CompactModel } from "./compact.ts";
import { workspace } from "./workspace.ts";

/** Indices of the control words (Int32 on a SharedArrayBuffer). */
export const CONTROL = {
  /** Job number; −1 stops the helper. */
  SEQ: 0,
  /** Id of the weights the job runs (the helper holds the last HELPER_MODELS sets it was sent). */
  MODEL: 1,
  /** 1: float32, 0: float64. */
  F32: 2,
  CHUNKS: 3,
  /** The claim counter (see jobTag in kernels/sharing.ts). */
  CLAIM: 4,
  /** Chunks the helper finished. */
  DONE: 5,
  /** Set by the helper once its modules are loaded. */
  READY: 6,
  /** Set by the helper when a chunk threw (the caller then runs the job again alone). */
  FAILED: 7,
  /** Sequences in the job. */
  SEQUENCES: 8,
  /** 1 while the calling thread may sleep on DONE: the helper notifies only then. */
  WAITING: 9,
  /** 1 while the helper watches SEQ without sleeping: the calling thread posts a job without notifying. */
  SPINNING: 10,
} as const;

/**
 * How long the helper watches the job word after a job before it sleeps: in a
 * loop of forwardBatch calls the next job comes within a fraction of a
 * millisecond, and a sleeping helper takes 25–45 µs to wake.
 */
export const HELPER_SPIN_MS = 0.5;

export const CONTROL_WORDS = 16;

/** Sets of weights the helper keeps: a loop over a few models sends each once, not once per switch. */
export const HELPER_MODELS = 4;

/**
 * The job's inputs and output, on SharedArrayBuffers (replaced, and sent to
 * the helper again, when a job outgrows them). meta: starts [0, B), lengths
 * [B, 2B), chunk bounds (sequence indices, n + 1 of them) from 2B. out holds
 * the logits as float64 in either precision (float32 ones widen exactly), so
 * both threads convert their own rows and the caller copies bytes.
 */
export interface JobBuffers {
  readonly tokens: Int32Array;
  readonly meta: Int32Array;
  readonly out: Float64Array;
}

/** Messages from the calling thread to the helper (read with receiveMessageOnPort when a job wakes it). */
export type HelperMessage =
  | { readonly type: "model"; readonly id: number; readonly weights: Weights; readonly drop: number | null }
  | { readonly type: "buffers"; readonly buffers: JobBuffers };

/** Run chunk c of a job of B sequences through the narrowed forward, writing its logits rows into the shared output. */
export function runChunk(cm: CompactModel, buffers: JobBuffers, B: number, c: number): void {
  const { tokens, meta } = buffers;
  const b0 = meta[2 * B + c], b1 = meta[2 * B + c + 1];
  const r0 = meta[b0], r1 = meta[b1 - 1] + meta[B + b1 - 1];
  const starts: number[] = [], lengths: number[] = [];
  for (let b = b0; b < b1; b++) {
    starts.push(meta[b] - r0);
    lengths.push(meta[B + b]);
  }
  const model = cm.model, take = workspace(model), N = r1 - r0;
  const logits: FloatArray = runCompact(cm, tokens.subarray(r0, r1), take("resid", N * model.config.d_model), N, starts, lengths, take);
  buffers.out.set(logits, r0 * model.config.d_vocab_out);
}
