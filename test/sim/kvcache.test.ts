import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { forward } from "../../src/sim/forward.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { randomWeights } from "../../src/sim/random.ts";
import type { Weights } from "../../src/model/weights.ts";
import { arbCase, arbShape, expectClose, expectIdentical, rowOf } from "./gen.ts";
import { fcParams } from "../support/seed.ts";

/** Check every observable of `run` against a full cached forward of the same tokens. */
function expectMatchesForward(run: IncrementalRun, weights: Weights, tokens: number[], label: string): void {
  const { n_layers: L, n_heads: H, d_model: D, d_vocab_out: Vo } = weights.config;
  const precision = run.model.precision;
  expect(run.length).toBe(tokens.length);
  expect(run.tokens()).toEqual(tokens);
  const full = forward(weights, tokens, { cache: true, precision });
  const T = tokens.length;
  const t = T - 1;
  expectClose(run.logits(), rowOf(full.logits, t, Vo), 1e-9, `${label} logits`);
  expect(Array.from(run.logitsView())).toEqual(Array.from(run.logits()));
  for (let l = 0; l <= L; l++) expect(Array.from(run.residualView(l))).toEqual(Array.from(run.residual(l)));
  for (let l = 0; l <= L; l++) {
    const name = l < L ? `blocks.${l}.hook_resid_pre` : `blocks.${L - 1}.hook_resid_post`;
    const want = full.cache!.get(name)!.data.subarray(t * D, (t + 1) * D);
    expectClose(run.residual(l), Float64Array.from(want), 1e-9, `${label} residual(${l})`);
  }
  for (let l = 0; l < L; l++) {
    const pat = full.cache!.get(`blocks.${l}.attn.hook_pattern`)!.data; // [H, T, T]
    for (let h = 0; h < H; h++) {
      const want = Float64Array.from(pat.subarray((h * T + t) * T, (h * T + t) * T + T));
      expectClose(run.pattern(l, h), want, 1e-9, `${label} pattern(${l}, ${h})`);
    }
  }
}

describe("IncrementalRun", () => {
  it("gives the full forward's logits at every position (bit-identical)", () => {
    fc.assert(
      fc.property(arbCase(), fc.constantFrom("float64" as const, "float32" as const), ({ weights, tokens }, precision) => {
        const full = forward(weights, tokens, { precision }).logits;
        const run = new IncrementalRun(weights, { precision });
        const Vo = weights.config.d_vocab_out;
        tokens.forEach((tok, t) => {
          const got = run.push(tok);
          expectClose(got, rowOf(full, t, Vo), 1e-9, `position ${t}`);
          expectIdentical(got, rowOf(full, t, Vo), `position ${t}`);
        });
        expectMatchesForward(run, weights, tokens, "end");
      }),
      fcParams({ numRuns: 150 }),
    );
  });

  it("walks push/pop/push sequences without drift", () => {
    type Op = { kind: "push"; token: number } | { kind: "pop" };
    const arb = fc.tuple(arbShape, fc.integer(), fc.constantFrom(1, 0.05)).chain(([shape, seed, density]) =>
      fc.record({
        weights: fc.constant(randomWeights(shape, seed, { density })),
        ops: fc.array(
          fc.oneof(
            { weight: 3, arbitrary: fc.integer({ min: 0, max: shape.d_vocab - 1 }).map((token): Op => ({ kind: "push", token })) },
            { weight: 2, arbitrary: fc.constant<Op>({ kind: "pop" }) },
          ),
          { minLength: 1, maxLength: 40 },
        ),
      }),
    );
    fc.assert(
      fc.property(arb, ({ weights, ops }) => {
        const run = new IncrementalRun(weights);
        const stack: number[] = [];
        const C = weights.config.n_ctx;
        ops.forEach((op, n) => {
          if (op.kind === "pop") {
            if (stack.length === 0) {
              expect(() => run.pop()).toThrow(/IncrementalRun.pop: the sequence is empty/);
              return;
            }
            expect(run.pop()).toBe(stack.pop());
          } else if (stack.length === C) {
            expect(() => run.push(op.token)).toThrow(/context is full \(n_ctx = \d+\)/);
          } else {
            stack.push(op.token);
            const logits = run.push(op.token);
            const Vo = weights.config.d_vocab_out;
            expectIdentical(logits, rowOf(forward(weights, stack).logits, stack.length - 1, Vo), `op ${n}`);
          }
          if (stack.length > 0) expectMatchesForward(run, weights, stack, `after op ${n}`);
          else expect(run.length).toBe(0);
        });
      }),
      fcParams({ numRuns: 100 }),
    );
  });

  it("throws clear errors past n_ctx, on bad tokens and bad indices", () => {
    const w = randomWeights({ d_model: 4, d_head: 2, n_heads: 2, n_layers: 2, n_ctx: 3, d_vocab: 3 }, 5);
    const run = new IncrementalRun(w);
    expect(() => run.residual(0)).toThrow(/IncrementalRun.residual: the sequence is empty/);
    run.push(0);
    run.push(1);
    run.push(2);
    expect(() => run.push(0)).toThrow("IncrementalRun.push: context is full (n_ctx = 3); pop() before pushing more");
    expect(run.length).toBe(3);
    run.pop();
    expect(() => run.push(3)).toThrow(/token 3 at position 2 is not in the vocabulary \[0, 3\)/);
    expect(run.length).toBe(2);
    expect(() => run.residual(3)).toThrow(RangeError);
    expect(() => run.pattern(2, 0)).toThrow(/layer 2 is not in 0 \.\. 1/);
    expect(() => run.pattern(0, 2)).toThrow(/head 2 is not in 0 \.\. 1/);
    expect(run.pattern(1, 1).length).toBe(2);
    run.clear();
    expect(run.length).toBe(0);
  });
});
