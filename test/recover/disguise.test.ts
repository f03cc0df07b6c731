/**
 * The disguise keeps the function and removes the structure: on random
 * programs from the project's generator, the disguised weights give the
 * compiled logits and attention patterns (to rounding), no weight is
 * one-hot any more, and the same seed gives the same weights.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BOS_ID, modelInput } from "../../src/model/tokenIds.ts";
import { compile } from "../../src/compiler/compile.ts";
import { arbProgramWithInput } from "../../src/hypothesis/arbitrary.ts";
import { disguiseWeights } from "../../src/recover/disguise.ts";
import { forward } from "../../src/sim/forward.ts";
import { fcParams } from "../support/seed.ts";

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let k = 0; k < a.length; k++) d = Math.max(d, Math.abs(a[k]! - b[k]!));
  return d;
};
const zeroShare = (x: ArrayLike<number>) => Array.prototype.filter.call(x, (v: number) => Math.abs(v) < 1e-12).length / x.length;

describe("disguiseWeights", () => {
  it("keeps logits and attention patterns of random compiled programs (rotation + per-head QK/OV maps)", () => {
    fc.assert(
      fc.property(arbProgramWithInput(), fc.nat(1000), (g, seed) => {
        const m = compile(g.program);
        const w = disguiseWeights(m.weights, { seed });
        const ids = modelInput(g.input);
        const a = forward(m.weights, ids, { cache: true });
        const b = forward(w, ids, { cache: true });
        const scale = Math.max(1, ...Array.from(a.logits, Math.abs));
        expect(maxAbsDiff(a.logits, b.logits)).toBeLessThan(1e-9 * scale);
        for (let l = 0; l < m.weights.config.n_layers; l++) {
          const key = `blocks.${l}.attn.hook_pattern`;
          expect(maxAbsDiff(a.cache!.get(key)!.data, b.cache!.get(key)!.data)).toBeLessThan(1e-9);
        }
      }),
      fcParams({ seed: 77, numRuns: 40 }),
    );
  });

  it("leaves no one-hot structure, and is deterministic per seed", () => {
    const m = compile((fc.sample(arbProgramWithInput(), { seed: 5, numRuns: 1 })[0]!).program);
    const w = disguiseWeights(m.weights, { seed: 3, noise: 1e-4 });
    expect(zeroShare(m.weights.W_E.data)).toBeGreaterThan(0.5);
    for (const t of [w.W_E, w.W_pos, w.W_U, w.blocks[0]!.W_Q, w.blocks[0]!.W_O]) expect(zeroShare(t.data)).toBeLessThan(0.05);
    const again = disguiseWeights(m.weights, { seed: 3, noise: 1e-4 });
    expect(again.W_U.data).toEqual(w.W_U.data);
    expect(again.blocks[0]!.W_K.data).toEqual(w.blocks[0]!.W_K.data);
    expect(disguiseWeights(m.weights, { seed: 4 }).W_E.data).not.toEqual(disguiseWeights(m.weights, { seed: 3 }).W_E.data);
  });
});
