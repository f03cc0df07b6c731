/**
 * Where the project's own trainer plugs into the bench. The bench's
 * "training" section imports `trainThroughput` from src/train/index.ts when
 * that module exists and otherwise prints "trainer not present"; the PyTorch
 * peer (bench/peer_torch.py, op "train") runs the same reference
 * configuration beside it.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The learned-circuits issue's reference configuration (also REFERENCE in bench/peer_torch.py). */
export const REFERENCE_TRAINING = {
  d_model: 64,
  n_heads: 4,
  d_head: 16,
  n_layers: 2,
  d_vocab: 64,
  n_ctx: 64,
  batch: 32,
  lr: 1e-3,
  optimizer: "adam",
  /** Weights N(0, init_std²) (TransformerLens's default 0.8/√d_model), biases 0, no LayerNorm. */
  init_std: 0.1,
  /** Every batch: half `[BOS] r r` (r: 31 tokens uniform over 1…d_vocab−1; 63 tokens), half `[BOS]` + 62 uniform tokens. */
  data: "half [BOS] r r (r uniform, length 31), half [BOS] + 62 uniform tokens",
  repeat_length: 31,
} as const;

/** What the bench asks of a trainer. */
export interface TrainRequest {
  readonly config: typeof REFERENCE_TRAINING;
  readonly seed: number;
  /** Stop here even without the bump. */
  readonly maxSteps: number;
  /** Stop after this much wall time (the bench stays bounded on a loaded machine). */
  readonly maxSeconds: number;
  /** Stop once the second-copy loss is below ½·ln d_vocab. */
  readonly stopAtBump: boolean;
}

/** What a trainer reports back. */
export interface TrainThroughputResult {
  /** Training tokens (inputs) per second, warm steps only. */
  readonly tokensPerSecond: number;
  readonly steps: number;
  readonly seconds: number;
  /** First step whose second-copy loss (predicting r[1…30] of the second copy) is below ½·ln d_vocab; null if not reached. */
  readonly bumpStep: number | null;
  readonly threads: number;
}

export type TrainThroughput = (req: TrainRequest) => Promise<TrainThroughputResult>;

/** The trainer's own measurement: `trainThroughput(config, steps)` in src/train/loop.ts. */
type OwnThroughput = (config: Record<string, unknown>, steps: number) => { tokensPerSecond: number; secondsPerStep: number; threads?: number };

/**
 * The project's trainer behind the bench's contract, or null when src/train
 * is not there. It times warm steps of the reference configuration itself
 * (not `circuits train`'s defaults, which change the data and the learning
 * rate so that an induction circuit forms): the same shape, batch, [BOS] r r
 * with |r| = 31 on half the batch, Adam at 1e-3 without weight decay, and
 * N(0, 0.1²) weights (the trainer's 0.8/√d_model at d_model 64), with the
 * trainer's helper thread where it has one. The bump is not chased here — a
 * whole run takes minutes — and is measured by `npm run experiments`
 * instead, so bumpStep is null.
 */
export async function loadTrainer(root: string): Promise<TrainThroughput | null> {
  const file = join(root, "src/train/index.ts");
  if (!existsSync(file)) return null;
  const mod = (await import(pathToFileURL(file).href)) as { trainThroughput?: unknown; DEFAULT_TRAIN_CONFIG?: Record<string, unknown> };
  if (typeof mod.trainThroughput !== "function" || !mod.DEFAULT_TRAIN_CONFIG) return null;
  const own = mod.trainThroughput as OwnThroughput;
  const base = mod.DEFAULT_TRAIN_CONFIG;
  return async (req) => {
    const c = req.config;
    const optimizer = { ...(base.optimizer as Record<string, unknown>), lr: c.lr, weightDecay: 0 };
    const data = { kind: "repeat", vocab: c.d_vocab - 1, repeatFraction: 0.5, repeatLength: "fixed", layout: "once" };
    const config = { ...base, d_model: c.d_model, n_heads: c.n_heads, d_head: c.d_head, n_layers: c.n_layers, n_ctx: c.n_ctx, batch: c.batch, data, optimizer, seed: req.seed };
    const steps = Math.max(10, Math.min(req.maxSteps, 100));
    const r = own(config, steps);
    return { tokensPerSecond: r.tokensPerSecond, steps, seconds: r.secondsPerStep * steps, bumpStep: null, threads: r.threads ?? 1 };
  };
}
