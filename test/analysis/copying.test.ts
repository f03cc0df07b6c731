/**
 * Copying scores: hand-built matrices with known eigenvalues, and compiled
 * heads — a head that copies `token` into the output feature scores exactly
 * 1, a head whose OV does not reach the logits or maps tokens to other
 * tokens does not copy.
 */
import { describe, expect, it } from "vitest";
import { activeHeads } from "../../src/analysis/circuits.ts";
import { COPIER_SCORE, copyingScoreOf, copyingScores, headCopying } from "../../src/analysis/copying.ts";
import { fromRows, matmul, tensorToMat } from "../../src/analysis/linalg.ts";
import { compile } from "../../src/compiler/compile.ts";
import type { Weights } from "../../src/model/weights.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { loadProgram } from "../support/programs.ts";

const eye = (n: number, c = 1) => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? c : 0)));

describe("copying score of a matrix", () => {
  it("identity → 1, negative identity → −1, rotation and cyclic permutation → 0", () => {
    expect(copyingScoreOf(fromRows(eye(5))).score).toBeCloseTo(1, 12);
    expect(copyingScoreOf(fromRows(eye(5, -3))).score).toBeCloseTo(-1, 12);
    const t = 0.7;
    expect(copyingScoreOf(fromRows([[0, -1], [1, 0]])).score).toBeCloseTo(0, 12);
    // A rotation by t: eigenvalues e^{±it}, score cos t.
    expect(copyingScoreOf(fromRows([[Math.cos(t), -Math.sin(t)], [Math.sin(t), Math.cos(t)]])).score).toBeCloseTo(Math.cos(t), 12);
    const cyc = Array.from({ length: 6 }, (_, i) => Array.from({ length: 6 }, (_, j) => (j === (i + 1) % 6 ? 2 : 0)));
    expect(copyingScoreOf(fromRows(cyc)).score).toBeCloseTo(0, 10);
  });

  it("mixed spectra: diag(3, −1) → 2/4, and a nilpotent map has no eigenvalue mass", () => {
    expect(copyingScoreOf(fromRows([[3, 5], [0, -1]])).score).toBeCloseTo(0.5, 12);
    const nil = copyingScoreOf(fromRows([[0, 1, 0], [0, 0, 1], [0, 0, 0]]));
    expect(nil).toMatchObject({ score: 0, magnitude: 0 });
  });
});

/** The same weights with W_U's token columns rotated: attending to token t now raises t+1. */
function shiftUnembedding(w: Weights): Weights {
  const V = w.config.d_vocab_out;
  const D = w.config.d_model;
  const data = new Float64Array(w.W_U.data.length);
  for (let d = 0; d < D; d++) {
    for (let v = 1; v < V; v++) data[d * V + (v % (V - 1)) + 1] = w.W_U.data[d * V + v]!;
  }
  return { ...w, W_U: { shape: w.W_U.shape, data } };
}

describe("copying scores of compiled heads", () => {
  const induction = compile(loadProgram("induction"));

  it("the induction head copies token into the output: score exactly 1; the previous-token head writes prev, not logits", () => {
    const [prev, ind] = copyingScores(induction.weights, induction.layout);
    expect(ind).toMatchObject({ name: "induction", score: 1, method: "W_E W_OV W_U" });
    expect(prev).toMatchObject({ name: "previous", score: 0, magnitude: 0 });
  });

  it("the duplicate-token head copies prev, not token: not a copier", () => {
    const dup = compile(loadProgram("duplicate-token"));
    const scores = copyingScores(dup.weights, dup.layout);
    expect(scores.find((h) => h.name === "duplicate")!.score).toBe(0);
    expect(scores.every((h) => (h.score ?? 0) <= COPIER_SCORE)).toBe(true);
  });

  it("a head that maps each token to the next one is not a copier (and the score can fail)", () => {
    const shifted = shiftUnembedding(induction.weights);
    const ind = copyingScores(shifted, induction.layout)[1]!;
    expect(ind.score).toBeCloseTo(0, 9);
    expect(ind.magnitude).toBeGreaterThan(0);
  });

  it("the d_head-sized matrix W_O W_U W_E W_V gives the same score as the vocabulary-sized one", () => {
    const w = randomWeights({ d_model: 16, d_head: 3, n_heads: 2, n_layers: 1, n_ctx: 4, d_vocab: 40 }, 5);
    for (const h of activeHeads(w)) {
      const viaHead = headCopying(w, h);
      expect(viaHead.method).toBe("W_O W_U W_E W_V");
      const full = matmul(matmul(tensorToMat(w.W_E), h.W_V), matmul(h.W_O, tensorToMat(w.W_U)));
      expect(viaHead.score!).toBeCloseTo(copyingScoreOf(full).score, 8);
    }
  });
});
