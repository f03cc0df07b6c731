/**
 * The KV cache's one-row SIMD product against the shared product path
 * (applyLinear: the WebAssembly product or the JavaScript kernel), bit for
 * bit, over random shapes, densities, inputs with zeros and biases.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyLinear, prepare, usesSparse, type SparseMode } from "../../src/sim/prepare.ts";
import { mulberry32, randomWeights } from "../../src/sim/random.ts";
import { rowProduct, rowProducts } from "../../src/sim/rowProduct.ts";
import { wasmAvailable } from "../../src/sim/wasm.ts";
import { fcParams } from "../support/seed.ts";

const bits = (a: ArrayLike<number>): string[] => Array.from(a, (x) => (Object.is(x, -0) ? "-0" : String(x)));

describe.runIf(wasmAvailable())("rowProduct", () => {
  it("gives applyLinear's bits for every dense matrix of a model, and declines the sparse ones", () => {
    const arb = fc.record({
      d_model: fc.integer({ min: 1, max: 40 }),
      d_head: fc.integer({ min: 1, max: 20 }),
      n_heads: fc.integer({ min: 1, max: 4 }),
      d_vocab: fc.integer({ min: 2, max: 70 }),
      density: fc.constantFrom(1, 0.5, 0.05),
      zeros: fc.constantFrom(0, 0.5),
      mode: fc.constantFrom<SparseMode>("auto", "never", "always"),
      seed: fc.integer({ min: 0, max: 1e6 }),
      precision: fc.constantFrom("float64" as const, "float32" as const),
    });
    let taken = 0;
    fc.assert(
      fc.property(arb, ({ d_model, d_head, n_heads, d_vocab, density, zeros, mode, seed, precision }) => {
        const weights = randomWeights({ d_model, d_head, n_heads, n_layers: 1, n_ctx: 4, d_vocab }, seed, { density });
        const model = prepare(weights, precision);
        const rp = rowProducts(model)!;
        const rand = mulberry32(seed + 1);
        const layer = model.layers[0];
        const mats = [[layer.q, layer.bq], [layer.k, layer.bk], [layer.v, layer.bv], [layer.o, layer.bo], [model.unembed, null]] as const;
        for (const [lin, bias] of mats) {
          const x = model.alloc(lin.K + 3);
          for (let i = 0; i < x.length; i++) x[i] = rand() < zeros ? (rand() < 0.5 ? -0 : 0) : rand() * 2 - 1;
          const want = model.alloc(lin.N + 2), got = model.alloc(lin.N + 2);
          applyLinear(lin, x, 3, 1, want, 1, bias, mode);
          const ok = rowProduct(rp, lin, x, 3, got, 1, bias, mode);
          expect(ok).toBe(!usesSparse(lin, mode));
          if (!ok) continue;
          taken++;
          expect(bits(got)).toEqual(bits(want));
        }
      }),
      fcParams({ numRuns: 150 }),
    );
    expect(taken).toBeGreaterThan(200);
  });
});
