import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { arbProgramWithInput } from "../../src/hypothesis/arbitrary.ts";
import type { Weights } from "../../src/model/weights.ts";
import { modelInput } from "../../src/model/tokenIds.ts";
import { HELPER_MODELS } from "../../src/sim/compactJob.ts";
import { forwardHelperReady, forwardThreadCount, forwardThreads, SHARE_MIN_ROWS } from "../../src/sim/compactThreads.ts";
import { forwardBatch } from "../../src/sim/forward.ts";
import { allSparse } from "../../src/sim/compact.ts";
import { prepare, type Precision } from "../../src/sim/prepare.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { loadProgram, programNames } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const PRECISIONS: readonly Precision[] = ["float64", "float32"];

/** `n` sequences of random lengths 1 … maxLength, BOS first. */
function randomBatch(seed: number, n: number, maxLength: number, vocab: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const length = 1 + Math.floor(rand() * maxLength);
    return modelInput(Array.from({ length: length - 1 }, () => Math.floor(rand() * vocab)));
  });
}

/** forwardBatch's logits on one thread, and shared with the helper as `how` says; they must match bit for bit. */
function expectSharedSame(weights: Weights, batch: readonly number[][], precision: Precision, how: "helper only" | "shared", label: string): void {
  forwardThreads.enabled = false;
  const alone = forwardBatch(weights, batch, { precision });
  forwardThreads.enabled = true;
  forwardThreads.helperOnly = how === "helper only";
  const chunks = forwardThreads.helperChunks;
  let shared;
  try {
    shared = forwardBatch(weights, batch, { precision });
  } finally {
    forwardThreads.helperOnly = false;
  }
  // Only all-sparse weights take the narrowed path, and only it is shared (a small random program can be dense).
  if (!allSparse(prepare(weights, precision), "auto")) expect(forwardThreads.helperChunks, `${label}: dense weights stay on this thread`).toBe(chunks);
  else if (how === "helper only") expect(forwardThreads.helperChunks, `${label}: chunks the helper ran`).toBeGreaterThan(chunks);
  batch.forEach((_, b) => {
    const x = alone[b].logits, y = shared[b].logits;
    expect(y.length).toBe(x.length);
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) throw new Error(`${label} ${precision} ${how}: sequence ${b} logit ${i}: ${y[i]} vs ${x[i]} on one thread`);
    }
  });
}

describe("forwardBatch on compiled weights shared with a helper thread (compactThreads.ts)", () => {
  beforeAll(async () => {
    // Tests run in worker threads, where the helper is not started unless asked.
    forwardThreads.inWorkers = true;
    expect(await forwardHelperReady(), "the helper thread loads (through tsx from the sources)").toBe(true);
  }, 60_000);
  afterAll(() => {
    forwardThreads.inWorkers = false;
  });

  it("runs on two threads once the helper has loaded", () => {
    expect(forwardThreadCount()).toBe(2);
  });

  it("gives the one-thread logits bit for bit on random compiled programs and batches (helper alone, and both threads)", () => {
    fc.assert(
      fc.property(arbProgramWithInput(), fc.integer(), fc.integer({ min: 2, max: 20 }), ({ program, input }, seed, n) => {
        const { weights } = compile(program);
        const first = modelInput(input);
        // Repeats and prefixes of one sequence among random ones: chunks reuse pattern rows of their own longest sequence.
        const batch = [first, first.slice(0, (1 + first.length) >> 1), ...randomBatch(seed, n, program.context, program.vocab.length), first];
        // Both threads claim only in jobs of SHARE_MIN_ROWS rows or more: pad with more random sequences.
        const big = [...batch];
        for (let k = 1; big.reduce((r, t) => r + t.length, 0) < SHARE_MIN_ROWS; k++) big.push(...randomBatch(seed + k, 8, program.context, program.vocab.length));
        for (const precision of PRECISIONS) {
          expectSharedSame(weights, batch, precision, "helper only", "generated program");
          expectSharedSame(weights, big, precision, "shared", "generated program");
        }
      }),
      fcParams({ seed: 1109, numRuns: 25 }),
    );
  });

  it("sends the helper each model once while it holds it, and grows the shared buffers, as batches change", () => {
    const a = compile(loadProgram("induction")).weights, b = compile(loadProgram("v-composition")).weights;
    const sent = forwardThreads.modelsSent;
    // Alternating models and growing batches: the helper keeps both, and each job outgrows the buffers of the last.
    for (const [k, w] of [a, b, a, b, a].entries()) {
      const c = w.config;
      const batch = randomBatch(k, 4 + 8 * k, c.n_ctx, c.d_vocab - 1);
      expectSharedSame(w, batch, PRECISIONS[k % 2], "helper only", `job ${k}`);
    }
    expect(forwardThreads.modelsSent - sent, "each of the two models sent once").toBe(2);
  });

  it(`drops its least recently used model beyond ${HELPER_MODELS}, and is sent it again when it comes back`, () => {
    const names = programNames().slice(0, HELPER_MODELS + 2);
    expect(names.length).toBe(HELPER_MODELS + 2);
    const models = names.map((name) => compile(loadProgram(name)).weights);
    const sent = forwardThreads.modelsSent;
    // Twice round more models than the helper keeps: every job finds its model dropped.
    for (let round = 0; round < 2; round++) {
      models.forEach((w, k) => expectSharedSame(w, randomBatch(k, 6, w.config.n_ctx, w.config.d_vocab - 1), "float64", "helper only", `${names[k]} round ${round}`));
    }
    expect(forwardThreads.modelsSent - sent).toBe(2 * models.length);
  });

  it("leaves small batches (under SHARE_MIN_ROWS token rows) and single sequences on this thread", () => {
    const w = compile(loadProgram("induction")).weights;
    const chunks = forwardThreads.helperChunks;
    const small = randomBatch(1, 3, 8, 8);
    expect(small.reduce((r, t) => r + t.length, 0)).toBeLessThan(SHARE_MIN_ROWS);
    forwardBatch(w, small, { precision: "float64" });
    forwardBatch(w, [modelInput(Array.from({ length: 40 }, (_, i) => i % 8))], { precision: "float64" });
    expect(forwardThreads.helperChunks).toBe(chunks);
  });
});
