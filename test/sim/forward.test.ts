import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { forward, forwardBatch } from "../../src/sim/forward.ts";
import { referenceForward } from "../../src/sim/reference.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { arbCase, arbShape, expectClose, expectIdentical } from "./gen.ts";
import { fcParams } from "../support/seed.ts";

const hookNames = (L: number): string[] => {
  const names = ["hook_embed", "hook_pos_embed"];
  for (let l = 0; l < L; l++) {
    names.push(`blocks.${l}.hook_resid_pre`);
    for (const h of ["q", "k", "v", "attn_scores", "pattern", "z", "result"]) names.push(`blocks.${l}.attn.hook_${h}`);
    names.push(`blocks.${l}.hook_attn_out`, `blocks.${l}.hook_resid_post`);
  }
  return names.sort();
};

describe("forward (float64) against the mathjs reference", () => {
  it("agrees on logits and on every cache entry to 1e-9", () => {
    fc.assert(
      fc.property(arbCase(), ({ weights, tokens }) => {
        const fast = forward(weights, tokens, { cache: true });
        const ref = referenceForward(weights, tokens);
        expectClose(fast.logits, ref.logits, 1e-9, "logits");
        const cache = fast.cache!;
        expect([...cache.keys()].sort()).toEqual(hookNames(weights.config.n_layers));
        expect([...ref.cache.keys()].sort()).toEqual(hookNames(weights.config.n_layers));
        for (const [name, want] of ref.cache) {
          const got = cache.get(name)!;
          expect(got.shape, name).toEqual(want.shape);
          expectClose(got.data, want.data, 1e-9, name);
        }
      }),
      fcParams({ numRuns: 150 }),
    );
  });

  it("gives cache entries the TransformerLens shapes and masks", () => {
    const w = randomWeights({ d_model: 5, d_head: 3, n_heads: 2, n_layers: 2, n_ctx: 8, d_vocab: 4, d_vocab_out: 3 }, 7);
    const { logits, cache } = forward(w, [0, 1, 2, 3, 1], { cache: true });
    expect(logits.length).toBe(5 * 3);
    expect(cache!.get("hook_embed")!.shape).toEqual([5, 5]);
    expect(cache!.get("blocks.1.attn.hook_q")!.shape).toEqual([5, 2, 3]);
    expect(cache!.get("blocks.1.attn.hook_result")!.shape).toEqual([5, 2, 5]);
    const scores = cache!.get("blocks.0.attn.hook_attn_scores")!;
    const pattern = cache!.get("blocks.0.attn.hook_pattern")!;
    expect(scores.shape).toEqual([2, 5, 5]);
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < 5; i++) {
        let total = 0;
        for (let j = 0; j < 5; j++) {
          const at = (h * 5 + i) * 5 + j;
          if (j > i) {
            expect(scores.data[at]).toBe(-Infinity);
            expect(pattern.data[at]).toBe(0);
          } else {
            expect(Number.isFinite(scores.data[at])).toBe(true);
            expect(pattern.data[at]).toBeGreaterThan(0);
          }
          total += pattern.data[at];
        }
        expect(total).toBeCloseTo(1, 12);
      }
    }
    // Position 0 can only see itself.
    expect(pattern.data[0]).toBe(1);
  });

  it("returns the same logits whether or not a cache is recorded", () => {
    fc.assert(
      fc.property(arbCase(), ({ weights, tokens }) => {
        expectIdentical(forward(weights, tokens).logits, forward(weights, tokens, { cache: true }).logits, "logits");
      }),
      fcParams({ numRuns: 100 }),
    );
  });

  it("is causal: logits at position t do not depend on later tokens", () => {
    fc.assert(
      fc.property(arbCase(), fc.nat(), ({ weights, tokens }, salt) => {
        const Vo = weights.config.d_vocab_out;
        const t = salt % tokens.length;
        const changed = tokens.map((x, p) => (p > t ? (x + 1) % weights.config.d_vocab : x));
        expectIdentical(
          forward(weights, tokens).logits.subarray(0, (t + 1) * Vo),
          forward(weights, changed).logits.subarray(0, (t + 1) * Vo),
          "prefix logits",
        );
      }),
      fcParams({ numRuns: 100 }),
    );
  });
});

describe("forwardBatch", () => {
  it("equals forward on each ragged sequence, in both precisions", () => {
    const arb = fc.tuple(arbShape, fc.integer(), fc.constantFrom(1, 0.05)).chain(([shape, seed, density]) =>
      fc.record({
        weights: fc.constant(randomWeights(shape, seed, { density })),
        batch: fc.array(
          fc.array(fc.integer({ min: 0, max: shape.d_vocab - 1 }), { minLength: 1, maxLength: shape.n_ctx }),
          { minLength: 0, maxLength: 6 },
        ),
        precision: fc.constantFrom("float64" as const, "float32" as const),
      }),
    );
    fc.assert(
      fc.property(arb, ({ weights, batch, precision }) => {
        const results = forwardBatch(weights, batch, { precision });
        expect(results.length).toBe(batch.length);
        results.forEach((r, b) => expectIdentical(r.logits, forward(weights, batch[b], { precision }).logits, `seq ${b}`));
        const cached = forwardBatch(weights, batch, { precision, cache: true });
        cached.forEach((r, b) => expect(r.cache?.has("blocks.0.attn.hook_pattern"), `seq ${b}`).toBe(true));
      }),
      fcParams({ numRuns: 100 }),
    );
  });
});

describe("float32 mode", () => {
  it("computes in Float32Array storage and stays within 1e-3 (relative) of float64", () => {
    fc.assert(
      fc.property(arbCase(), ({ weights, tokens }) => {
        const f64 = forward(weights, tokens).logits;
        const f32 = forward(weights, tokens, { precision: "float32", cache: true });
        expect(f32.cache!.get("blocks.0.hook_resid_post")!.data).toBeInstanceOf(Float32Array);
        expect(f32.cache!.get("blocks.0.attn.hook_pattern")!.data).toBeInstanceOf(Float32Array);
        // Every logit is exactly a float32 value: proof that the last product was stored in float32.
        for (const x of f32.logits) expect(Math.fround(x)).toBe(x);
        const scale = Math.max(1, ...Array.from(f64, Math.abs));
        for (let i = 0; i < f64.length; i++) {
          if (Math.abs(f32.logits[i] - f64[i]) > 1e-3 * scale) {
            throw new Error(`logit ${i}: float32 ${f32.logits[i]} vs float64 ${f64[i]} (scale ${scale})`);
          }
        }
      }),
      fcParams({ numRuns: 100 }),
    );
  });
});

describe("input checks", () => {
  const w = randomWeights({ d_model: 3, d_head: 2, n_heads: 1, n_layers: 1, n_ctx: 4, d_vocab: 3 }, 1);
  it("rejects tokens outside the vocabulary, empty and over-long sequences", () => {
    expect(() => forward(w, [0, 3])).toThrow(/forward: token 3 at position 1 is not in the vocabulary \[0, 3\)/);
    expect(() => forward(w, [0, 1.5])).toThrow(/token 1.5/);
    expect(() => forward(w, [])).toThrow(/empty sequence/);
    expect(() => forward(w, [0, 0, 0, 0, 0])).toThrow(/exceeds n_ctx = 4/);
    expect(() => forwardBatch(w, [[0], [7]])).toThrow(/forwardBatch: token 7/);
  });
  it("names the tensor whose shape disagrees with the config", () => {
    const bad = { ...w, W_U: { shape: [3, 2], data: new Float64Array(6) } };
    expect(() => forward(bad, [0])).toThrow(/unembed\.W_U has shape \[3, 2\].*config says \[3, 3\]/);
  });
});
