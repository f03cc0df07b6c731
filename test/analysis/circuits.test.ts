/**
 * QK/OV circuits of compiled heads, read in named directions: the entries the
 * compiler wrote (src/compiler/heads.ts) must come back out of the products,
 * dense and sparse paths must agree, and full circuits must say what each
 * head does to tokens.
 */
import { describe, expect, it } from "vitest";
import { activeHeads, fullOVCircuit, fullQKCircuit, largestEntries, ovCircuit, qkCircuit, sparseCircuit } from "../../src/analysis/circuits.ts";
import { at, frobenius } from "../../src/analysis/linalg.ts";
import { compile } from "../../src/compiler/compile.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { loadProgram } from "../support/programs.ts";

const induction = compile(loadProgram("induction"));
const [previous, inductionHead] = activeHeads(induction.weights);

describe("circuits of the induction model", () => {
  it("finds the two real heads (and skips padding heads)", () => {
    expect(activeHeads(induction.weights).map((h) => [h.block, h.head])).toEqual([[0, 0], [1, 0]]);
    // bigram-induction pads layer 2 to two heads: three of four slots are real.
    expect(activeHeads(compile(loadProgram("bigram-induction")).weights)).toHaveLength(3);
  });

  it("the induction head's QK matches token[i] with prev[j] at β, and its OV copies token into next", () => {
    const beta = induction.scales.beta;
    const qk = largestEntries(inductionHead!, "QK", induction.layout, { rowBlocks: ["token"], colBlocks: ["prev"], top: 100 });
    expect(qk).toHaveLength(8);
    for (const e of qk) {
      expect(e.row.slice("token:".length)).toBe(e.col.slice("prev:".length));
      expect(e.value).toBeCloseTo(beta, 6);
    }
    const ov = largestEntries(inductionHead!, "OV", induction.layout, { top: 100 });
    expect(ov.map((e) => `${e.row}>${e.col}`).sort()).toEqual(induction.program.vocab.map((t) => `token:${t}>next:${t}`).sort());
    expect(ov.every((e) => e.value === 1)).toBe(true);
  });

  it("the largest QK entry of the strict induction head is its self penalty", () => {
    const [top] = largestEntries(inductionHead!, "QK", induction.layout, { top: 1 });
    expect(top!.row).toMatch(/^pos:\d+$/);
    expect(top!.row).toBe(top!.col);
    expect(top!.value).toBeCloseTo(-induction.scales.penalty, 6);
  });

  it("the previous-token head's QK reads only positions: its full QK circuit over tokens is zero", () => {
    const full = fullQKCircuit(induction.weights, previous!);
    expect(full.rows).toBe(9);
    expect(frobenius(full)).toBe(0);
    // Only the clock (each hand's entries pair the same period) and the BOS term.
    const entries = largestEntries(previous!, "QK", induction.layout, { top: 100 });
    const period = (label: string) => /^pos\.(?:cos|sin)(\d+)$/.exec(label)?.[1];
    for (const e of entries) {
      if (e.row === "one") expect(e.col).toBe("bos");
      else expect(period(e.row)).toBe(period(e.col) ?? "none");
    }
    expect(entries.some((e) => e.row === "one" && e.col === "bos")).toBe(true);
    expect(entries.filter((e) => e.row !== "one").length).toBe(2 + 4 * 3); // period 4 has zero cos entries at k = 1
  });

  it("full OV: the induction head raises the logit of the token it attends to (10·I off BOS)", () => {
    const full = fullOVCircuit(induction.weights, inductionHead!);
    expect([full.rows, full.cols]).toEqual([9, 9]);
    for (let a = 0; a < 9; a++) for (let b = 0; b < 9; b++) expect(at(full, a, b)).toBe(a === b && a > 0 ? induction.scales.logitScale : 0);
    expect(frobenius(fullOVCircuit(induction.weights, previous!))).toBe(0); // prev is not the output
  });

  it("sparse circuits equal the dense products (QK divided by √d_head), on random dense weights too", () => {
    const w = randomWeights({ d_model: 12, d_head: 5, n_heads: 2, n_layers: 2, n_ctx: 6, d_vocab: 7 }, 11);
    for (const h of [...activeHeads(w), inductionHead!]) {
      const qk = qkCircuit(h);
      const ov = ovCircuit(h);
      const sq = sparseCircuit(h, "QK");
      const so = sparseCircuit(h, "OV");
      for (let r = 0; r < qk.rows; r++) {
        for (let c = 0; c < qk.cols; c++) {
          expect(sq.get(r, c)).toBeCloseTo(at(qk, r, c) / Math.sqrt(h.dHead), 9);
          expect(so.get(r, c)).toBeCloseTo(at(ov, r, c), 9);
        }
      }
    }
  });
});
