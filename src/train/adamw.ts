/**
 * AdamW (Loshchilov & Hutter), as PyTorch's torch.optim.AdamW computes it:
 *
 *   p ← p − lr·λ·p                      (decoupled weight decay, every parameter)
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²
 *   p ← p − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
 *
 * on the flat parameter array. The moments have the parameters' precision
 * and are part of a checkpoint, so a resumed run continues bit for bit.
 */
import type { FloatArray } from "../model/weights.ts";
import { allocFloat, type TrainPrecision } from "./params.ts";

/** The optimiser's hyperparameters. */
export interface AdamWConfig {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

/** PyTorch's Adam defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay (training's default raises lr to 1e-2: config.ts). */
export const DEFAULT_ADAMW: AdamWConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** AdamW state over a flat parameter array. */
export class AdamW {
  readonly config: AdamWConfig;
  readonly m: FloatArray;
  readonly v: FloatArray;
  /** Updates taken so far. */
  t = 0;

  constructor(config: AdamWConfig, size: number, precision: TrainPrecision) {
    this.config = config;
    this.m = allocFloat(precision, size);
    this.v = allocFloat(precision, size);
  }

  /** One update of `params` by `grad` (same length as the moments). */
  step(params: FloatArray, grad: FloatArray): void {
    const { lr, beta1, beta2, eps, weightDecay } = this.config;
    this.t++;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    const decay = 1 - lr * weightDecay;
    const m = this.m, v = this.v, n = params.length;
    for (let i = 0; i < n; i++) {
      const g = grad[i];
      const mi = beta1 * m[i] + (1 - beta1) * g;
      const vi = beta2 * v[i] + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i] * decay - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
    }
  }
}
