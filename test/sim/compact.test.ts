import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { arbProgramWithInput } from "../../src/hypothesis/arbitrary.ts";
import type { Weights } from "../../src/model/weights.ts";
import { modelInput } from "../../src/model/tokenIds.ts";
import { allSparse, compactModel } from "../../src/sim/compact.ts";
import { fillArena } from "../../src/sim/compactWasm.ts";
import { forward, forwardBatch } from "../../src/sim/forward.ts";
import { prepare, type Precision } from "../../src/sim/prepare.ts";
import { mulberry32, randomWeights } from "../../src/sim/random.ts";
import { workspace } from "../../src/sim/workspace.ts";
import { loadProgram, programNames } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";
import { arbCase } from "./gen.ts";

const PRECISIONS: readonly Precision[] = ["float64", "float32"];

/**
 * forwardBatch without a cache runs the narrowed path on all-sparse weights;
 * forward with a cache runs the general row path. Their logits must be the
 * same numbers, bit for bit (Object.is: the sign of a zero counts too). The
 * residual scratch (and the WebAssembly kernels' memories, both precisions)
 * is filled with NaN first: the narrowed path leaves the
 * coordinates nothing reads later unwritten, and one it should have written
 * then turns logits into NaN.
 */
function expectSameLogits(weights: Weights, batch: readonly number[][], precision: Precision, label: string): void {
  const rows = batch.reduce((n, s) => n + s.length, 0);
  workspace(prepare(weights, precision))("resid", rows * weights.config.d_model).fill(NaN);
  fillArena(NaN);
  const narrowed = forwardBatch(weights, batch, { precision });
  batch.forEach((tokens, b) => {
    const general = forward(weights, tokens, { precision, cache: true }).logits;
    const got = narrowed[b].logits;
    expect(got.length).toBe(general.length);
    for (let i = 0; i < got.length; i++) {
      if (!Object.is(got[i], general[i])) throw new Error(`${label} ${precision} sequence ${b} logit ${i}: ${got[i]} vs ${general[i]}`);
    }
  });
}

/** `n` sequences of random lengths 1 … maxLength, BOS first. */
function randomBatch(seed: number, n: number, maxLength: number, vocab: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const length = 1 + Math.floor(rand() * maxLength);
    return modelInput(Array.from({ length: length - 1 }, () => Math.floor(rand() * vocab)));
  });
}

describe("narrowed forward for compiled weights (compact.ts)", () => {
  it("is taken for every example program and gives the general path's logits bit for bit", () => {
    for (const name of programNames()) {
      const program = loadProgram(name);
      const { weights } = compile(program);
      for (const precision of PRECISIONS) {
        expect(allSparse(prepare(weights, precision), "auto"), name).toBe(true);
        // Twice: the second batch meets (token, position) pairs the first one tabled.
        expectSameLogits(weights, randomBatch(name.length, 6, program.context, program.vocab.length), precision, name);
        expectSameLogits(weights, randomBatch(name.length + 1, 6, program.context, program.vocab.length), precision, name);
      }
    }
  });

  it("narrows compiled heads to a few columns", () => {
    const cm = compactModel(prepare(compile(loadProgram("induction")).weights));
    const E = cm.model.config.d_head;
    for (const layer of cm.layers) {
      expect(layer.WV).toBeLessThan(E);
      expect(layer.WS).toBeLessThanOrEqual(E);
    }
    expect(cm.layers[0].WS).toBeLessThan(E);
  });

  it("embeds without the (token, position) table when d_vocab · n_ctx rows would not fit in it", () => {
    // 64 tokens × 64 positions × (d_model 64 + q, k, v columns) is over the table's 2^18 elements.
    const weights = randomWeights({ d_model: 64, d_head: 8, n_heads: 2, n_layers: 2, n_ctx: 64, d_vocab: 64 }, 5, { density: 0.05 });
    for (const precision of PRECISIONS) {
      expect(allSparse(prepare(weights, precision), "auto")).toBe(true);
      expectSameLogits(weights, randomBatch(3, 4, 64, 63), precision, "large vocabulary");
    }
  });

  it("adds one-to-one W_O and W_U products directly with the general path's rounding (float32: product rounded, then summed)", () => {
    // Sparse products whose W_O and W_U send each input to an output of its
    // own, with dense random embeddings and weights, so that the residual and
    // the added terms are arbitrary floats (float32 sums then round twice).
    const shape = { d_model: 24, d_head: 8, n_heads: 1, n_layers: 2, n_ctx: 6, d_vocab: 5, d_vocab_out: 4 };
    for (let seed = 0; seed < 40; seed++) {
      const base = randomWeights(shape, seed, { density: 0.04 });
      const dense = randomWeights(shape, seed + 1000);
      const rand = mulberry32(seed);
      const oneToOne = (rows: number, cols: number, to: (r: number) => number) => {
        const data = new Float64Array(rows * cols);
        for (let r = 0; r < rows; r++) data[r * cols + to(r)] = 2 * rand() - 1;
        return { shape: [rows, cols], data };
      };
      const weights: Weights = {
        ...base,
        W_E: dense.W_E,
        W_pos: dense.W_pos,
        blocks: base.blocks.map((b) => ({
          ...b,
          W_O: { ...oneToOne(8, 24, (e) => (3 * e + 1) % 24), shape: [1, 8, 24] },
          b_O: { shape: [24], data: new Float64Array(24) },
        })),
        W_U: oneToOne(24, 4, (d) => d % 4),
        b_U: dense.b_U,
      };
      // W_U above reaches each logit from 6 coordinates: not one-to-one. Keep 4 of them.
      for (let d = 4; d < 24; d++) weights.W_U.data[d * 4 + (d % 4)] = 0;
      for (const precision of PRECISIONS) {
        const cm = compactModel(prepare(weights, precision));
        expect(cm.unembedDirect).not.toBeNull();
        expect(cm.layers.every((l) => l.oDirect !== null)).toBe(true);
        expectSameLogits(weights, randomBatch(seed, 4, 6, 4), precision, `one-to-one seed ${seed}`);
      }
    }
  });

  it("keeps each head's pattern rows across calls and reuses them only where the q and key rows are equal", () => {
    // Every reuse below is of rows kept by an earlier call: the base sequence again, its prefixes, and
    // edits at the start, middle and end. The longest sequence of a call is scored in full unless the
    // record covers it, so the edits ride beside a covered base: an edit of the last token keeps every key
    // row of induction's layer 2 (its keys read the previous token) and changes only the last q row.
    fc.assert(
      fc.property(fc.constantFrom(...programNames()), fc.integer(), (name, seed) => {
        const program = loadProgram(name);
        const { weights } = compile(program);
        const rand = mulberry32(seed);
        const V = program.vocab.length;
        const base = modelInput(Array.from({ length: program.context - 1 }, () => Math.floor(rand() * V)));
        const edit = (at: number) => base.map((t, p) => (p === at ? 1 + (t % V) : t));
        const last = edit(base.length - 1), mid = edit(base.length >> 1), first = edit(1);
        const calls = [[base], [base], [base, last], [base.slice(0, 9), base.slice(0, 3)], [base, mid, last], [first], [base, first, last]];
        for (const precision of PRECISIONS) for (const batch of calls) expectSameLogits(weights, batch, precision, name);
      }),
      fcParams({ seed: 1110, numRuns: 16 }),
    );
  });

  it("agrees with the general path on random compiled programs and inputs", () => {
    fc.assert(
      fc.property(arbProgramWithInput(), fc.integer(), ({ program, input }, seed) => {
        const { weights } = compile(program);
        const first = modelInput(input);
        const batch = [first, first.slice(0, (1 + first.length) >> 1), ...randomBatch(seed, 3, program.context, program.vocab.length)];
        for (const precision of PRECISIONS) expectSameLogits(weights, batch, precision, "generated program");
      }),
      fcParams({ seed: 1107, numRuns: 25 }),
    );
  });

  it("agrees with the general path on random sparse weights (zero columns, biases, empty heads, shared patterns)", () => {
    fc.assert(
      fc.property(arbCase(fc.constantFrom(0, 0.02, 0.05, 0.09)), fc.integer(), ({ weights, tokens }, seed) => {
        const c = weights.config;
        // Repeats, prefixes and one-token edits of the first sequence: rows whose
        // q and keys equal the longest sequence's reuse its kept pattern rows.
        const edited = tokens.map((t, p) => (p === tokens.length >> 1 ? (t + 1) % c.d_vocab : t));
        const batch = [tokens, tokens.slice(0, 1 + (seed & 7) % tokens.length), edited, tokens, ...Array.from({ length: 3 }, (_, b) => {
          const rand = mulberry32(seed + b);
          return Array.from({ length: 1 + Math.floor(rand() * c.n_ctx) }, () => Math.floor(rand() * c.d_vocab));
        })];
        for (const precision of PRECISIONS) {
          if (!allSparse(prepare(weights, precision), "auto")) continue;
          expectSameLogits(weights, batch, precision, `density ${c.d_model}`);
        }
      }),
      fcParams({ seed: 1108, numRuns: 150 }),
    );
  });
});
