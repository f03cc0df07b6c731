import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { softmaxInPlace } from "../../src/sim/softmax.ts";
import { matmulDense, matmulSparse, toCsr, transpose } from "../../src/sim/kernels.ts";
import { forward } from "../../src/sim/forward.ts";
import { referenceForward } from "../../src/sim/reference.ts";
import { attnOnlyConfig } from "../../src/sim/random.ts";
import type { Weights, Tensor } from "../../src/model/weights.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { expectClose } from "./gen.ts";
import { fcParams } from "../support/seed.ts";

/** A [r, c] float64 array with about `density` nonzeros, from fast-check. */
const arbMatrix = (r: number, c: number) =>
  fc.array(fc.oneof(fc.constant(0), fc.double({ min: -10, max: 10, noNaN: true })), { minLength: r * c, maxLength: r * c })
    .map((xs) => Float64Array.from(xs));

describe("matmul kernels", () => {
  it("dense (blocked) and sparse products equal the textbook triple loop", () => {
    // K up to 300 makes the column block (4096 / K, a multiple of 4) smaller than N, and
    // N not a multiple of 4 exercises the remainder columns, so block edges are covered.
    const dims = fc.record({ M: fc.integer({ min: 1, max: 4 }), K: fc.integer({ min: 1, max: 300 }), N: fc.integer({ min: 1, max: 40 }) });
    fc.assert(
      fc.property(dims.chain((d) => fc.tuple(fc.constant(d), arbMatrix(d.M, d.K), arbMatrix(d.K, d.N))), ([{ M, K, N }, x, w]) => {
        const want = new Float64Array(M * N);
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += x[i * K + k] * w[k * N + j];
            want[i * N + j] = s;
          }
        const dense = new Float64Array(M * N);
        matmulDense(x, 0, M, K, transpose(w, K, N), N, dense, 0);
        const sparse = new Float64Array(M * N);
        matmulSparse(x, 0, M, K, toCsr(w, K, N), sparse, 0);
        expectClose(dense, want, 0, "dense");
        expectClose(sparse, dense, 0, "sparse");
        // The kernels accumulate (out += x·W): start from a nonzero out.
        const start = Float64Array.from(want, (_, i) => i + 1);
        const shifted = Float64Array.from(want, (v, i) => v + start[i]);
        const dense2 = start.slice();
        matmulDense(x, 0, M, K, transpose(w, K, N), N, dense2, 0);
        const sparse2 = start.slice();
        matmulSparse(x, 0, M, K, toCsr(w, K, N), sparse2, 0);
        expectClose(dense2, shifted, 1e-12, "dense +=");
        expectClose(sparse2, shifted, 1e-12, "sparse +=");
      }),
      fcParams({ numRuns: 60 }),
    );
  });

  it("respects offsets and accumulates into out", () => {
    const x = Float64Array.from([9, 9, 1, 2]); // row at offset 2: [1, 2]
    const w = Float64Array.from([1, 0, 2, 3]); // [[1, 0], [2, 3]]
    const out = Float64Array.from([5, 10, 20]);
    matmulDense(x, 2, 1, 2, transpose(w, 2, 2), 2, out, 1);
    expect(Array.from(out)).toEqual([5, 15, 26]);
    const out2 = Float64Array.from([5, 10, 20]);
    matmulSparse(x, 2, 1, 2, toCsr(w, 2, 2), out2, 1);
    expect(Array.from(out2)).toEqual([5, 15, 26]);
    const csr = toCsr(w, 2, 2);
    expect(Array.from(csr.rowPtr)).toEqual([0, 1, 3]);
    expect(Array.from(csr.colIdx)).toEqual([0, 0, 1]);
    expect(Array.from(transpose(w, 2, 2))).toEqual([1, 2, 0, 3]);
  });
});

describe("softmax", () => {
  it("does not overflow with scores of 1e4, in float64 and float32", () => {
    for (const make of [(xs: number[]) => Float64Array.from(xs), (xs: number[]) => Float32Array.from(xs)]) {
      const buf = make([1e4, 0, -1e4, 1e4, 1e4 - 1]);
      softmaxInPlace(buf, 5);
      const e1 = Math.exp(-1);
      const z = 2 + e1;
      expectClose(Float64Array.from(buf), Float64Array.from([1 / z, 0, 0, 1 / z, e1 / z]), 1e-6, "softmax");
      expect(Array.from(buf).every(Number.isFinite)).toBe(true);
    }
  });

  it("is a probability distribution for any finite scores", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 20 }), (xs) => {
        const buf = Float64Array.from(xs);
        softmaxInPlace(buf, xs.length);
        const total = buf.reduce((a, b) => a + b, 0);
        expect(Math.abs(total - 1)).toBeLessThan(1e-12);
        const argmax = xs.indexOf(Math.max(...xs));
        expect(buf[argmax]).toBe(Math.max(...buf));
        expect(buf.every((p) => p >= 0 && p <= 1)).toBe(true);
      }), fcParams(),
    );
  });
});

/** One layer, one head, E = 1, tokens one-hot in D = 2: score(i, j) = 1e4 if token[j] = 0 else -1e4. */
function hardAttentionModel(): Weights {
  const t = (shape: number[], xs: number[]): Tensor => ({ shape, data: Float64Array.from(xs) });
  return {
    config: attnOnlyConfig({ d_model: 2, d_head: 1, n_heads: 1, n_layers: 1, n_ctx: 6, d_vocab: 2 }),
    W_E: t([2, 2], [1, 0, 0, 1]),
    W_pos: t([6, 2], new Array(12).fill(0)),
    blocks: [{
      W_Q: t([1, 2, 1], [100, 100]),
      W_K: t([1, 2, 1], [100, -100]),
      W_V: t([1, 2, 1], [1, 2]),
      W_O: t([1, 1, 2], [1, 1]),
      b_Q: t([1, 1], [0]),
      b_K: t([1, 1], [0]),
      b_V: t([1, 1], [0]),
      b_O: t([2], [0, 0]),
    }],
    W_U: t([2, 2], [1, 0, 0, 1]),
    b_U: t([2], [0, 0]),
  };
}

describe("attention with scores of ±1e4", () => {
  it("stays finite, attends uniformly to the token-0 keys, and matches the reference", () => {
    const w = hardAttentionModel();
    const tokens = [1, 0, 1, 0, 1, 1];
    const { logits, cache } = forward(w, tokens, { cache: true });
    const scores = cache!.get("blocks.0.attn.hook_attn_scores")!.data;
    expect(Math.max(...Array.from(scores).filter(Number.isFinite))).toBe(1e4);
    const pattern = cache!.get("blocks.0.attn.hook_pattern")!.data; // [1, 6, 6]
    expect(Array.from(pattern.subarray(0, 6))).toEqual([1, 0, 0, 0, 0, 0]); // only key 0 exists
    expect(Array.from(pattern.subarray(5 * 6, 6 * 6))).toEqual([0, 0.5, 0, 0.5, 0, 0]);
    expect(logits.every(Number.isFinite)).toBe(true);
    expectClose(logits, referenceForward(w, tokens).logits, 1e-9, "logits");
    const run = new IncrementalRun(w);
    for (const t of tokens) run.push(t);
    expect(Array.from(run.pattern(0, 0))).toEqual([0, 0.5, 0, 0.5, 0, 0]);
    expect(Array.from(forward(w, tokens, { precision: "float32" }).logits).every(Number.isFinite)).toBe(true);
  });
});
