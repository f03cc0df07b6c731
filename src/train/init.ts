/**
 * Seeded initialisation, as TransformerLens's default ("gpt2") init: every
 * weight matrix normal(0, σ) with σ = 0.8/√d_model (its default
 * initializer_range), every bias zero. The draws walk the flat layout in
 * state-dict order, so a seed fixes every bit.
 */
import { Rng } from "./rng.ts";
import { type Params, type TrainPrecision, type TrainShape, zeroParams } from "./params.ts";

/** The standard deviation of initial weights for a model width. */
export function initStd(d_model: number): number {
  return 0.8 / Math.sqrt(d_model);
}

/** Fresh parameters for a seed. */
export function initParams(shape: TrainShape, seed: number, precision: TrainPrecision): Params {
  const p = zeroParams(shape, precision);
  const rng = new Rng(seed ^ 0x1a2b3c4d);
  const std = initStd(shape.d_model);
  for (const e of p.entries) {
    if (/\.b_[A-Z]$/.test(e.name)) continue; // biases start at zero
    for (let i = 0; i < e.size; i++) p.data[e.offset + i] = std * rng.normal();
  }
  return p;
}
