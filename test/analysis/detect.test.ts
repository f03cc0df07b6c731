/**
 * Head detection from activations on repeated random sequences, and the
 * in-context learning score: compiled heads must be recognised as what the
 * program says they are, and random heads must not be.
 */
import { describe, expect, it } from "vitest";
import { defaultRepeatLength, detectHeads, headKind, repeatedSequences } from "../../src/analysis/detect.ts";
import { compile } from "../../src/compiler/compile.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { loadProgram, loadSource } from "../support/programs.ts";

const detect = (name: string) => {
  const m = compile(loadProgram(name));
  return detectHeads(m.weights, { layout: m.layout });
};

describe("repeated sequences", () => {
  it("are seeded, BOS-first, and repeat distinct tokens", () => {
    const a = repeatedSequences(9, 5, 8, 3, 0);
    expect(a).toEqual(repeatedSequences(9, 5, 8, 3, 0));
    expect(a).not.toEqual(repeatedSequences(9, 5, 8, 4, 0));
    for (const s of a) {
      expect(s).toHaveLength(17);
      expect(s[0]).toBe(0);
      expect(new Set(s.slice(1, 9)).size).toBe(8);
      expect(s.slice(9)).toEqual(s.slice(1, 9));
      expect(s.slice(1).includes(0)).toBe(false);
    }
    expect(() => repeatedSequences(9, 1, 9, 0, 0)).toThrow(/distinct/);
    expect(defaultRepeatLength(compile(loadProgram("induction")).weights, 0)).toBe(8);
  });
});

describe("head detection on compiled programs", () => {
  it("induction: layer 1 is a previous-token head, layer 2 an induction head", () => {
    const [prev, ind] = detect("induction").heads;
    expect(prev).toMatchObject({ name: "previous", block: 0 });
    expect(prev!.previous).toBeGreaterThan(0.999);
    expect(headKind(prev!)).toBe("previous");
    expect(ind).toMatchObject({ name: "induction", block: 1 });
    expect(ind!.induction).toBeGreaterThan(0.999);
    expect(ind!.duplicate).toBeLessThan(0.01);
    expect(headKind(ind!)).toBe("induction");
  });

  it("duplicate-token: layer 2 is a duplicate-token head; q-composition: a duplicate head then an induction-like head", () => {
    const [prev, dup] = detect("duplicate-token").heads;
    expect(headKind(prev!)).toBe("previous");
    expect(dup!.duplicate).toBeGreaterThan(0.999);
    expect(dup!.induction).toBeLessThan(0.01);
    expect(headKind(dup!)).toBe("duplicate");
    const [seen, after] = detect("q-composition").heads;
    expect(headKind(seen!)).toBe("duplicate");
    expect(after!.induction).toBeGreaterThan(0.999);
  });

  it("random weights give no clean detector", () => {
    const w = randomWeights({ d_model: 16, d_head: 4, n_heads: 3, n_layers: 2, n_ctx: 24, d_vocab: 12 }, 9);
    const d = detectHeads(w, { sequences: 4 });
    for (const h of d.heads) expect(Math.max(h.previous, h.duplicate, h.induction)).toBeLessThan(0.9);
  });
});

describe("in-context learning score", () => {
  it("is about −log(V−1) for induction (it learns the second copy from the first) and 0 for previous-token", () => {
    const ind = detect("induction").icl!;
    expect(ind.lossEarly).toBeCloseTo(Math.log(8), 3); // ⊥ in the first copy: flat over the 8 tokens
    expect(ind.lossLate).toBeLessThan(1e-3);
    expect(ind.score).toBeCloseTo(-Math.log(8), 2);
    expect(ind.late - ind.early).toBe(8);
    expect(Math.abs(detect("previous-token").icl!.score)).toBeLessThan(1e-3);
  });

  it("short contexts: measured from a repeated part of 2 tokens, not at all from 1", () => {
    const text = (context: number) => `vocab a b c\ncontext ${context}\nlayer 1\n  head p: select j = i - 1; copy token[j] as prev\noutput prev\n`;
    const at = (context: number) => detectHeads(compile(loadSource(text(context))).weights);
    expect(at(6)).toMatchObject({ length: 2, icl: { early: 1, late: 3 } });
    const tiny = at(4);
    expect(tiny).toMatchObject({ length: 1, icl: null });
    expect(tiny.heads[0]!.previous).toBeGreaterThan(0.999);
  });
});
