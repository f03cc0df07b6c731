/**
 * The KV cache's attention shared with a helper thread (attentionSplit.ts,
 * attentionHelper.ts) against the whole-sequence forward, bit for bit, at
 * every position: every head width (whole and padded vectors), one head
 * (its scores cut in parts, its values in column halves) and several (a
 * chunk per head), dense and sparse queries, rows whose softmax leaves
 * expNeg's range (finished in JavaScript), and the helper running every
 * chunk or sharing them with this thread.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attentionHelperStarted, attentionThreads } from "../../src/sim/attentionHelper.ts";
import { forward } from "../../src/sim/forward.ts";
import { IncrementalRun, KV_WASM_MIN_CONTEXT } from "../../src/sim/kvcache.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { wasmAvailable } from "../../src/sim/wasm.ts";
import { fcParams } from "../support/seed.ts";

const bits = (a: ArrayLike<number>): string[] => Array.from(a, (x) => (Object.is(x, -0) ? "-0" : String(x)));

describe.runIf(wasmAvailable())("KV-cached attention shared with the helper thread", () => {
  const saved = { ...attentionThreads, minKeys: { ...attentionThreads.minKeys } };
  beforeAll(async () => {
    attentionThreads.inWorkers = true;
    // Every row shares, from the first key (short rows are where the tails of vectors and blocks are).
    attentionThreads.minKeys = { float64: 1, float32: 1 };
    attentionThreads.minPartBlocks = 2;
    expect(await attentionHelperStarted()).toBe(true);
  });
  afterAll(() => {
    attentionThreads.inWorkers = saved.inWorkers;
    attentionThreads.minKeys = saved.minKeys;
    attentionThreads.minPartBlocks = saved.minPartBlocks;
    attentionThreads.helperOnly = false;
  });

  it("gives the forward's logits at every position, whichever thread runs which head", () => {
    const chunksBefore = attentionThreads.helperChunks, jsBefore = attentionThreads.javascriptHeads;
    const arb = fc.record({
      d_head: fc.constantFrom(1, 2, 3, 5, 8, 12, 16),
      n_heads: fc.integer({ min: 1, max: 4 }),
      n_layers: fc.integer({ min: 1, max: 2 }),
      length: fc.integer({ min: 1, max: 200 }),
      density: fc.constantFrom(1, 1, 0.3, 0.08),
      // Large weights give scores whose exponents leave expNeg's range.
      scale: fc.constantFrom(1, 1, 40),
      precision: fc.constantFrom("float64" as const, "float32" as const),
      helperOnly: fc.boolean(),
      seed: fc.integer({ min: 0, max: 1e6 }),
    });
    fc.assert(
      fc.property(arb, ({ d_head, n_heads, n_layers, length, density, scale, precision, helperOnly, seed }) => {
        const shape = { d_model: 16, d_head, n_heads, n_layers, n_ctx: KV_WASM_MIN_CONTEXT + 72, d_vocab: 7, d_vocab_out: 5 };
        const weights = randomWeights(shape, seed, { density, scale });
        let s = seed;
        const tokens = Array.from({ length }, () => (s = (s * 1103515245 + 12345) >>> 0) % 7);
        const want = forward(weights, tokens, { precision }).logits;
        attentionThreads.helperOnly = helperOnly;
        const run = new IncrementalRun(weights, { precision });
        for (let t = 0; t < length; t++) {
          run.step(tokens[t]);
          expect(bits(run.logitsView()), `position ${t}`).toEqual(bits(want.subarray(t * 5, (t + 1) * 5)));
        }
      }),
      fcParams({ numRuns: 24 }),
    );
    attentionThreads.helperOnly = false;
    // The shared path ran, on the helper too, and so did its JavaScript finish.
    expect(attentionThreads.helperChunks).toBeGreaterThan(chunksBefore);
    expect(attentionThreads.javascriptHeads).toBeGreaterThan(jsBefore);
  });

  it("sends the helper a run's memory once while it holds it, and again after another run's pushes", () => {
    const shape = { d_model: 16, d_head: 8, n_heads: 2, n_layers: 1, n_ctx: KV_WASM_MIN_CONTEXT, d_vocab: 7, d_vocab_out: 5 };
    const wA = randomWeights(shape, 1), wB = randomWeights(shape, 2);
    const tokens = Array.from({ length: 40 }, (_, t) => (t * 5 + 1) % 7);
    const wantA = forward(wA, tokens, { precision: "float64" }).logits, wantB = forward(wB, tokens, { precision: "float64" }).logits;
    attentionThreads.helperOnly = true;
    const a = new IncrementalRun(wA), b = new IncrementalRun(wB);
    const sent0 = attentionThreads.memoriesSent;
    for (let t = 0; t < 20; t++) a.step(tokens[t]);
    expect(attentionThreads.memoriesSent - sent0).toBe(1);
    // Alternating runs: each push of the other run sends its memory again.
    for (let t = 0; t < 40; t++) {
      b.step(tokens[t]);
      expect(bits(b.logitsView()), `b at ${t}`).toEqual(bits(wantB.subarray(t * 5, (t + 1) * 5)));
      if (t >= 20) {
        a.step(tokens[t]);
        expect(bits(a.logitsView()), `a at ${t}`).toEqual(bits(wantA.subarray(t * 5, (t + 1) * 5)));
      }
    }
    // a's pushes: 1; b's first 20: 1; then b, a, b, a, … from t = 20: every push but the first switches.
    expect(attentionThreads.memoriesSent - sent0).toBe(1 + 1 + (2 * 20 - 1));
    attentionThreads.helperOnly = false;
  });

  it("leaves rows shorter than minKeys on this thread", () => {
    attentionThreads.minKeys = { float64: 64, float32: 64 };
    try {
      const shape = { d_model: 16, d_head: 8, n_heads: 2, n_layers: 1, n_ctx: KV_WASM_MIN_CONTEXT, d_vocab: 7, d_vocab_out: 5 };
      const run = new IncrementalRun(randomWeights(shape, 3));
      const before = attentionThreads.helperChunks;
      for (let t = 0; t < 63; t++) run.step(t % 7);
      expect(attentionThreads.helperChunks).toBe(before);
      attentionThreads.helperOnly = true;
      run.step(1); // the 64th key: shared
      expect(attentionThreads.helperChunks).toBe(before + 2);
    } finally {
      attentionThreads.helperOnly = false;
      attentionThreads.minKeys = { float64: 1, float32: 1 };
    }
  });
});
