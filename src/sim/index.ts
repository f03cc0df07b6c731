/**
 * The simulator's public API: run TransformerLens-shaped attention-only
 * weights (whole sequences, batches, or one token at a time with a KV cache),
 * and the plain mathjs reference the fast path is tested against.
 */
import type { referenceForward as referenceForwardSync } from "./reference.ts";

export { forward, forwardBatch } from "./forward.ts";
export { forwardHelperReady, forwardThreadCount } from "./compactThreads.ts";
export type { ActivationCache, ForwardOptions, ForwardResult } from "./forward.ts";
export { IncrementalRun } from "./kvcache.ts";
export { prepare, usesSparse, SPARSE_DENSITY_THRESHOLD } from "./prepare.ts";
export type { Linear, Precision, PreparedLayer, PreparedModel, SparseMode } from "./prepare.ts";
export { attnOnlyConfig, mulberry32, randomTokens, randomWeights } from "./random.ts";
export { wasmAvailable, wasmSettings } from "./wasm.ts";
export type { ModelShape, RandomWeightOptions } from "./random.ts";

/**
 * The mathjs reference forward (reference.ts), loaded on first call: importing
 * mathjs takes a second or more, which nothing but this slow oracle needs.
 */
export async function referenceForward(...args: Parameters<typeof referenceForwardSync>): Promise<ReturnType<typeof referenceForwardSync>> {
  return (await import("./reference.ts")).referenceForward(...args);
}
