/** A training run's configuration: model shape, data, optimiser, schedule of evaluations and checkpoints. */
import { type AdamWConfig, DEFAULT_ADAMW } from "./adamw.ts";
import type { DataSpec } from "./data.ts";

/** Everything that determines a run (with the seed, every bit of it). */
export interface TrainConfig {
  readonly d_model: number;
  readonly n_heads: number;
  readonly d_head: number;
  readonly n_layers: number;
  readonly n_ctx: number;
  /** Train the attention and unembedding biases (TransformerLens has them; default true). */
  readonly bias: boolean;
  readonly data: DataSpec;
  readonly batch: number;
  /** Total optimiser steps of the run. */
  readonly steps: number;
  readonly seed: number;
  readonly optimizer: AdamWConfig;
  /** Evaluate the probe every this many steps (and at the last step). */
  readonly evalEvery: number;
  /** Write a checkpoint every this many steps (0: only at the end). */
  readonly checkpointEvery: number;
  /** Width in steps of the windows the phase-change detection compares. */
  readonly phaseWindow: number;
}

/** The reference configuration: d_model 64, 4 heads of 16, 2 layers, vocab 64, context 64, batch 32, Adam lr 1e-3, half r r repeats. */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  d_model: 64,
  n_heads: 4,
  d_head: 16,
  n_layers: 2,
  n_ctx: 64,
  bias: true,
  data: { kind: "repeat", vocab: 64, repeatFraction: 0.5 },
  batch: 32,
  steps: 3000,
  seed: 0,
  optimizer: DEFAULT_ADAMW,
  evalEvery: 50,
  checkpointEvery: 0,
  phaseWindow: 200,
};
