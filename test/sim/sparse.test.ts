import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { forward, forwardBatch } from "../../src/sim/forward.ts";
import { prepare, usesSparse, SPARSE_DENSITY_THRESHOLD } from "../../src/sim/prepare.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { arbCase, expectClose } from "./gen.ts";
import { fcParams } from "../support/seed.ts";

const sparseCases = arbCase(fc.constantFrom(0, 0.02, 0.05, 0.09, 0.2));

describe("sparse path", () => {
  it("equals the dense path to 1e-12 on logits and every cache entry", () => {
    fc.assert(
      fc.property(sparseCases, ({ weights, tokens }) => {
        const sparse = forward(weights, tokens, { sparse: "always", cache: true });
        const dense = forward(weights, tokens, { sparse: "never", cache: true });
        const auto = forward(weights, tokens);
        expectClose(sparse.logits, dense.logits, 1e-12, "logits");
        expectClose(auto.logits, dense.logits, 1e-12, "auto logits");
        for (const [name, t] of dense.cache!) expectClose(sparse.cache!.get(name)!.data, t.data, 1e-12, name);
      }),
      fcParams({ numRuns: 150 }),
    );
  });

  it("also agrees on dense weights (forced sparse), in batches and incrementally", () => {
    fc.assert(
      fc.property(arbCase(fc.constant(1)), ({ weights, tokens }) => {
        const dense = forward(weights, tokens, { sparse: "never" }).logits;
        expectClose(forward(weights, tokens, { sparse: "always" }).logits, dense, 1e-12, "forced sparse");
        const [batched] = forwardBatch(weights, [tokens], { sparse: "always" });
        expectClose(batched.logits, dense, 1e-12, "batched sparse");
        const run = new IncrementalRun(weights, { sparse: "always" });
        for (const t of tokens) run.push(t);
        const Vo = weights.config.d_vocab_out;
        expectClose(run.logits(), dense.subarray((tokens.length - 1) * Vo), 1e-12, "incremental sparse");
      }),
      fcParams({ numRuns: 50 }),
    );
  });

  it("is chosen automatically below the density threshold and not above it", () => {
    const shape = { d_model: 64, d_head: 8, n_heads: 4, n_layers: 2, n_ctx: 16, d_vocab: 10 };
    const compiled = prepare(randomWeights(shape, 11, { density: 0.03 }));
    const loaded = prepare(randomWeights(shape, 11));
    for (const layer of compiled.layers) {
      for (const lin of [layer.q, layer.k, layer.v, layer.o]) {
        expect(lin.density).toBeLessThan(SPARSE_DENSITY_THRESHOLD);
        expect(usesSparse(lin, "auto")).toBe(true);
        const csr = lin.csr();
        expect(csr.colIdx.length).toBe(Math.round(lin.density * lin.K * lin.N));
      }
    }
    for (const layer of loaded.layers) {
      for (const lin of [layer.q, layer.k, layer.v, layer.o]) expect(usesSparse(lin, "auto")).toBe(false);
    }
    expect(usesSparse(loaded.layers[0].q, "always")).toBe(true);
    expect(usesSparse(compiled.layers[0].q, "never")).toBe(false);
  });

  it("prepares each Weights object once per precision", () => {
    const w = randomWeights({ d_model: 4, d_head: 2, n_heads: 2, n_layers: 1, n_ctx: 4, d_vocab: 3 }, 2, { density: 0.05 });
    const p = prepare(w);
    expect(prepare(w)).toBe(p);
    expect(prepare(w, "float64")).toBe(p);
    const p32 = prepare(w, "float32");
    expect(p32).not.toBe(p);
    expect(p32.W_E).toBeInstanceOf(Float32Array);
    expect(p.layers[0].q.csr()).toBe(p.layers[0].q.csr());
    // A structurally equal but distinct object is a different model as far as the memo knows.
    expect(prepare({ ...w })).not.toBe(p);
  });

  it("accepts float32-stored weights and upcasts them exactly in float64 mode", () => {
    const shape = { d_model: 6, d_head: 3, n_heads: 2, n_layers: 2, n_ctx: 6, d_vocab: 4 };
    const w32 = randomWeights(shape, 9, { dtype: "float32", density: 0.3 });
    const w64 = randomWeights(shape, 9, { dtype: "float64", density: 0.3 });
    const tokens = [0, 3, 1, 2, 2];
    // Same draws, rounded to float32 on one side: close, and computed from the float32 values exactly.
    const a = forward(w32, tokens).logits;
    const b = forward(w64, tokens).logits;
    expectClose(a, b, 1e-5, "float32 weights");
    expect(prepare(w32).W_E).toBeInstanceOf(Float64Array);
    expect(Array.from(prepare(w32).W_E)).toEqual(Array.from(w32.W_E.data));
  });
});
