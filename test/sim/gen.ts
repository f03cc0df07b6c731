/**
 * fast-check generators and comparison helpers shared by the simulator tests.
 *
 * Weights are drawn from a seed (src/sim/random.ts) rather than element by
 * element through fast-check: shrinking individual floats says nothing useful,
 * while shrinking the shape and the token list does.
 */

import fc from "fast-check";
import type { FloatArray, Weights } from "../../src/model/weights.ts";
import { randomWeights, type ModelShape } from "../../src/sim/random.ts";

/** Random small model shapes within the ranges the brief asks for. */
export const arbShape: fc.Arbitrary<ModelShape> = fc.record({
  d_model: fc.integer({ min: 1, max: 12 }),
  d_head: fc.integer({ min: 1, max: 5 }),
  n_heads: fc.integer({ min: 1, max: 3 }),
  n_layers: fc.integer({ min: 1, max: 3 }),
  n_ctx: fc.integer({ min: 1, max: 12 }),
  d_vocab: fc.integer({ min: 2, max: 6 }),
  d_vocab_out: fc.integer({ min: 2, max: 6 }),
});

/** A model plus a token sequence that fits it. */
export interface Case {
  readonly weights: Weights;
  readonly tokens: number[];
  readonly seed: number;
  readonly density: number;
}

/** Models of any density (1 = random dense weights, small = compiled-like) with one sequence. */
export function arbCase(density: fc.Arbitrary<number> = fc.constantFrom(1, 0.5, 0.08, 0.02)): fc.Arbitrary<Case> {
  return fc.tuple(arbShape, fc.integer(), density).chain(([shape, seed, d]) =>
    fc.array(fc.integer({ min: 0, max: shape.d_vocab - 1 }), { minLength: 1, maxLength: shape.n_ctx }).map((tokens) => ({
      weights: randomWeights(shape, seed, { density: d }),
      tokens,
      seed,
      density: d,
    })),
  );
}

/** Throw unless |a - b| <= tol·(1 + |b|) everywhere; equal infinities (masked scores) count as equal. */
export function expectClose(actual: FloatArray, expected: FloatArray, tol: number, label: string): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} != expected ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      if (a === b) continue;
      throw new Error(`${label}[${i}]: ${a} vs expected ${b}`);
    }
    if (Math.abs(a - b) > tol * (1 + Math.abs(b))) {
      throw new Error(`${label}[${i}]: ${a} vs expected ${b} (diff ${Math.abs(a - b)}, tol ${tol})`);
    }
  }
}

/** Throw unless the two arrays hold exactly the same numbers. */
export function expectIdentical(actual: FloatArray, expected: FloatArray, label: string): void {
  expectClose(actual, expected, 0, label);
}

/** Row t of a flat [T, N] array. */
export function rowOf(a: Float64Array, t: number, N: number): Float64Array {
  return a.subarray(t * N, (t + 1) * N);
}
