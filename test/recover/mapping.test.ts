/**
 * Placing program heads on model heads: distinct heads, a reader always in a
 * later layer than what it reads, the largest total agreement; and on a
 * model whose real heads hide among distractor heads (random attention, no
 * output) at context 64 (vocabulary 16; 64 with RECOVER_FULL=1), the search
 * finds the real ones.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { editProgram } from "../../src/lang/edit.ts";
import type { LayerWeights, Tensor, Weights } from "../../src/model/weights.ts";
import { bestMapping } from "../../src/recover/attentionMatch.ts";
import { disguiseWeights } from "../../src/recover/disguise.ts";
import { recoverProgram } from "../../src/recover/search.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { loadProgram } from "../support/programs.ts";

describe("bestMapping", () => {
  const o = (block: number, index: number, agreement: number) => ({ block, index, agreement });

  it("takes the best total, heads distinct, readers in later layers", () => {
    // Head 1 reads head 0. Head 0 alone would prefer layer 1, but then head 1 has nowhere to go.
    const m = bestMapping({ options: [[o(1, 0, 0.9), o(0, 1, 0.8)], [o(1, 0, 0.95), o(0, 0, 0.99)]], parents: [[], [0]] });
    expect(m).toEqual([o(0, 1, 0.8), o(1, 0, 0.95)]);
    // Two independent heads wanting the same model head: the better total wins.
    expect(bestMapping({ options: [[o(0, 0, 0.9), o(0, 1, 0.6)], [o(0, 0, 0.7)]], parents: [[], []] })).toEqual([o(0, 1, 0.6), o(0, 0, 0.7)]);
    expect(bestMapping({ options: [[o(1, 0, 0.9)], [o(1, 1, 0.9)]], parents: [[], [0]] })).toBeNull();
    expect(bestMapping({ options: [[o(0, 0, 0.9)], []], parents: [[], []] })).toBeNull();
  });
});

/** The model's heads moved to the given indices of H heads per layer; the others attend at random and write nothing. */
function withDistractors(w: Weights, H: number, places: readonly number[], seed: number): Weights {
  const rand = mulberry32(seed);
  const { d_model: D, d_head: E } = w.config;
  const spread = (t: Tensor, per: number, place: number, random: boolean): Tensor => {
    const data = new Float64Array(H * per);
    for (let h = 0; h < H; h++) {
      if (h === place) data.set(t.data.subarray(0, per), h * per);
      else if (random) for (let k = 0; k < per; k++) data[h * per + k] = 3 * (2 * rand() - 1);
    }
    return { shape: [H, ...t.shape.slice(1)], data };
  };
  const blocks: LayerWeights[] = w.blocks.map((b, l) => ({
    W_Q: spread(b.W_Q, D * E, places[l]!, true),
    W_K: spread(b.W_K, D * E, places[l]!, true),
    W_V: spread(b.W_V, D * E, places[l]!, true),
    W_O: spread(b.W_O, E * D, places[l]!, false),
    b_Q: spread(b.b_Q, E, places[l]!, false),
    b_K: spread(b.b_K, E, places[l]!, false),
    b_V: spread(b.b_V, E, places[l]!, false),
    b_O: b.b_O,
  }));
  return { ...w, config: { ...w.config, n_heads: H }, blocks };
}

// The lead's target shape is vocabulary 64, context 64; disguising that compiled model (d_model 260,
// d_head 129, 4 heads) costs ~10 s on a loaded 2-core box, so by default the vocabulary is 16.
const V = process.env.RECOVER_FULL ? 64 : 16;

describe("recoverProgram among distractor heads", () => {
  it(`vocabulary ${V}, context 64, 4 heads per layer: the induction program on the real heads`, () => {
    const m = compile(editProgram(loadProgram("induction"), { vocab: Array.from({ length: V }, (_, v) => String(v)) }));
    const w = disguiseWeights(withDistractors(m.weights, 4, [2, 1], 9), { seed: 4, noise: 1e-5 });
    const r = recoverProgram(w, { repeats: 8, uniform: 8 });
    expect(r.fits, r.verdict).toBe(true);
    expect(r.best!.heads.map((h) => `${h.block}.${h.index}`)).toEqual(["0.2", "1.1"]);
    expect(r.best!.text).toContain("select latest j < i where prev[j] == token[i]; copy token[j] as next");
    expect(r.best!.prediction.classes.find((c) => c.class === "second copy")!.fraction).toBe(1);
    expect(r.vocabularyNote).toMatch(/numbered/); // no token names were given: 0 … 63
    expect(r.best!.text).toContain(`vocab 0..${V - 1}`);
    expect(r.nearMiss).toBeNull();

    // The same weights with a threshold no head can reach: nothing fits, and the
    // induction program is the near miss, with its weakest head named.
    const strict = recoverProgram(w, { repeats: 8, uniform: 8, minAttention: 1.05 });
    expect(strict.fits).toBe(false);
    expect(strict.nearMiss, strict.verdict).not.toBeNull();
    expect(strict.nearMiss!.text).toContain("select latest j < i where prev[j] == token[i]; copy token[j] as next");
    expect(strict.nearMiss!.heads.map((h) => `${h.block}.${h.index}`)).toEqual(["0.2", "1.1"]);
    expect(strict.verdict).toMatch(/closest below the attention threshold: j = i - 1; then latest j < i where prev\[j\] == token\[i\] \(agrees on 100\.0 % where defined, 100\.0 % on second copies; its weakest head, on blocks\.\d head \d, puts \d+\.\d % of its attention on the selection, below 105\.0 %\)/);
  });
});
