/**
 * The WebAssembly SIMD product (its plain multiply-add) gives the JavaScript dense kernel's bits
 * (float64 and float32), on shapes with every kind of remainder (rows not a
 * multiple of 4, columns not a multiple of the panel width), and a model big
 * enough to route its products through it still gives bit-identical batched
 * and KV-cached logits, close to the mathjs reference.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kernelSettings } from "../../src/kernels/module.ts";
import { forward } from "../../src/sim/forward.ts";
import { matmulDense, transpose } from "../../src/sim/kernels.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { prepare, useWasm } from "../../src/sim/prepare.ts";
import { mulberry32, randomTokens, randomWeights } from "../../src/sim/random.ts";
import { referenceForward } from "../../src/sim/reference.ts";
import { matmulWasm, packPanels, wasmAvailable } from "../../src/sim/wasm.ts";
import { expectClose } from "./gen.ts";
import { fcParams } from "../support/seed.ts";

describe.runIf(wasmAvailable())("WebAssembly SIMD kernel", () => {
  // The plain multiply-add is the one with the JavaScript kernels' bits (test/kernels/product.test.ts covers the fused one).
  beforeAll(() => void (kernelSettings.mulAdd = "plain"));
  afterAll(() => void (kernelSettings.mulAdd = "auto"));

  it("equals the JavaScript dense kernel bit for bit", () => {
    const dims = fc.record({
      M: fc.integer({ min: 1, max: 11 }), K: fc.integer({ min: 1, max: 70 }), N: fc.integer({ min: 1, max: 21 }),
      seed: fc.integer({ min: 0, max: 1e6 }), f32: fc.boolean(), density: fc.constantFrom(0.2, 1),
    });
    fc.assert(
      fc.property(dims, ({ M, K, N, seed, f32, density }) => {
        const rand = mulberry32(seed);
        const make = (n: number, f: () => number) => (f32 ? Float32Array.from({ length: n }, f) : Float64Array.from({ length: n }, f));
        const x = make(M * K + 3, () => (rand() < density ? (rand() - 0.5) * 8 : 0));
        const w = make(K * N, () => (rand() - 0.5) * 2);
        const js = make(M * N + 2, () => 0);
        const wa = make(M * N + 2, () => 0);
        matmulDense(x, 3, M, K, transpose(w, K, N), N, js, 2);
        matmulWasm(x, 3, M, K, packPanels(w, K, N), N, wa, 2);
        expect(Array.from(wa)).toEqual(Array.from(js));
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  it("a model whose products run on it: batched = KV-cached bit for bit, ≈ mathjs", () => {
    for (const precision of ["float64", "float32"] as const) {
      const weights = randomWeights({ d_model: 48, d_head: 12, n_heads: 3, n_layers: 2, n_ctx: 20, d_vocab: 30 }, 5, { scale: 0.3 });
      expect(useWasm(prepare(weights, precision).layers[0]!.q)).toBe(true);
      const tokens = randomTokens(30, 17, 9);
      const full = forward(weights, tokens, { precision }).logits;
      const run = new IncrementalRun(weights, { precision });
      const Vo = weights.config.d_vocab_out;
      tokens.forEach((t, i) => expect(Array.from(run.push(t))).toEqual(Array.from(full.subarray(i * Vo, (i + 1) * Vo))));
      expectClose(full, referenceForward(weights, tokens).logits, precision === "float64" ? 1e-9 : 1e-3, `${precision} vs mathjs`);
    }
  });
});
