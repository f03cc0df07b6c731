/**
 * Theorem 12 (renaming symmetry), checked: the class walk and the full walk
 * agree — same verdict, same count of sequences and of disagreements, same
 * first disagreement — on several programs at small V and N, on passing and
 * on failing (but equivariant) weights; the float run of a qualifying model
 * is bit-for-bit equivariant; and weights that are not equivariant, or whose
 * decoding ties, make the check fall back to the full walk and say why.
 */
import fc from "fast-check";
import { fcParams } from "../test/support/seed.ts";
import { describe, expect, it } from "vitest";
import { BOS_ID } from "../src/model/tokenIds.ts";
import { type CompiledModel, compile } from "../src/compiler/compile.ts";
import { blockOf } from "../src/compiler/layout.ts";
import { arbProgram } from "../src/hypothesis/arbitrary.ts";
import { IncrementalRun } from "../src/sim/kvcache.ts";
import { checkExhaustive, countSequences } from "../src/verify/check.ts";
import {
  checkClasses, checkClassRange, checkExhaustiveBySymmetry, classSize, classSplit, SymmetryError,
} from "../src/verify/classes.ts";
import { disagreementAt } from "../src/verify/check.ts";
import { symmetryObstacle } from "../src/verify/symmetry.ts";
import { loadProgram } from "../test/support/programs.ts";

const verdict = (r: { sequences: number; disagreements: number; first: unknown }) => ({
  sequences: r.sequences, disagreements: r.disagreements, first: r.first,
});

/** Weights with one tensor's data replaced (the rest shared). */
function withData(m: CompiledModel, edit: (w: CompiledModel["weights"]) => CompiledModel["weights"]): CompiledModel {
  return { ...m, weights: edit(m.weights) };
}

/** Disagreements the class walk would count if it ignored ties: each representative's verdict times its class size. */
function forcedWalk(m: CompiledModel, alphabet: readonly number[], N: number): number {
  let bad = 0;
  const walk = (rep: number[], k: number) => {
    if (rep.length && disagreementAt(m, rep)) bad += classSize(alphabet.length, k);
    if (rep.length === N) return;
    for (let c = 0; c < Math.min(k + 1, alphabet.length); c++) walk([...rep, alphabet[c]!], c === k ? k + 1 : k);
  };
  walk([], 0);
  return bad;
}

describe("the class walk equals the full walk", () => {
  const cases: [string, number, number][] = [
    ["induction", 4, 5], ["induction-earliest", 3, 6], ["previous-token", 5, 4], ["duplicate-token", 4, 5],
    ["every-average", 3, 5], ["q-composition", 3, 6], ["v-composition", 4, 5],
  ];
  for (const [name, a, N] of cases) {
    it(`${name}, V = ${a}, N = ${N}`, () => {
      const m = compile(loadProgram(name), { precision: "float64" });
      const opts = { maxLength: N, alphabet: [...Array(a).keys()] };
      const byClass = checkExhaustiveBySymmetry(m, opts);
      expect(byClass.symmetry).toEqual({ used: true });
      expect(byClass.classes!).toBeLessThan(byClass.sequences);
      expect(verdict(byClass)).toEqual(verdict(checkExhaustive(m, opts)));
      expect(byClass.sequences).toBe(countSequences(a, N));
    });
  }

  it("on failing but equivariant weights: the same disagreements, counted by class, and the same first", () => {
    // induction-earliest's weights against induction's semantics.
    const failing = { ...compile(loadProgram("induction-earliest"), { precision: "float64" }), program: loadProgram("induction") };
    // q-composition with W_U scaled by 0.45: a predicted token's logit (≈ 0.45κ) falls below κ/2 and reads as ⊥.
    const halved = withData(compile(loadProgram("q-composition"), { precision: "float64" }), (w) => ({
      ...w, W_U: { ...w.W_U, data: w.W_U.data.map((x) => x * 0.45) },
    }));
    for (const [m, a, N] of [[failing, 4, 6], [halved, 3, 5]] as const) {
      const opts = { maxLength: N, alphabet: [...Array(a).keys()] };
      const full = checkExhaustive(m, opts);
      expect(full.disagreements).toBeGreaterThan(0);
      expect(full.disagreements).toBeLessThan(full.sequences);
      const byClass = checkExhaustiveBySymmetry(m, opts);
      expect(byClass.symmetry.used).toBe(true);
      expect(verdict(byClass)).toEqual(verdict(full));
    }
  });

  it("a non-equivariant perturbation (one token's W_E row scaled) is detected and the check falls back", () => {
    const m = compile(loadProgram("induction"), { precision: "float64" });
    const D = m.weights.config.d_model;
    const bent = withData(m, (w) => ({ ...w, W_E: { ...w.W_E, data: w.W_E.data.map((x, i) => (Math.floor(i / D) === 2 ? x * 0.4 : x)) } }));
    const opts = { maxLength: 4, alphabet: [0, 1, 2, 3] };
    const r = checkExhaustiveBySymmetry(bent, opts);
    expect(r.symmetry).toEqual({ used: false, reason: expect.stringMatching(/^W_E\[\d+, \d+\] changes under renaming a↔b$/) });
    const full = checkExhaustive(bent, opts);
    expect(full.disagreements).toBeGreaterThan(0); // token 'b' copies as 0.4 < ½: a real failure the class walk would misjudge
    expect(verdict(r)).toEqual(verdict(full));
    expect(r.classes).toBeUndefined();
  });

  it("a decoding tie voids the class walk: it would misjudge members, so the check falls back", () => {
    // previous-token with its queries scaled 1000× (every attention exactly one-hot: the losing
    // scores' exponentials underflow to 0) and W_U also reading the token block: at 'x y' (x ≠ y)
    // the logits of x and y tie at exactly κ, and argmax takes the lower index — right for the
    // representative 'a b', wrong for its member 'b a'. Every change is the same for every token.
    const m = compile(loadProgram("previous-token"), { precision: "float64" });
    const tok = blockOf(m.layout, "token");
    const { d_vocab_out: Vo } = m.weights.config;
    const V = m.program.vocab.length;
    const tied = withData(m, (w) => {
      const data = Float64Array.from(w.W_U.data);
      for (let v = 0; v < V; v++) data[(tok.offset + v) * Vo + v + 1] = m.scales.logitScale;
      const blocks = w.blocks.map((b) => ({ ...b, W_Q: { ...b.W_Q, data: b.W_Q.data.map((x) => x * 1000) } }));
      return { ...w, blocks, W_U: { ...w.W_U, data } };
    });
    expect(symmetryObstacle(tied)).toBeNull(); // the weights are equivariant…
    const opts = { maxLength: 3, alphabet: [0, 1, 2] };
    expect(() => checkClasses(tied, opts)).toThrow(SymmetryError); // …but the decoding ties
    const r = checkExhaustiveBySymmetry(tied, opts);
    expect(r.symmetry).toEqual({ used: false, reason: expect.stringMatching(/decoding tie at the representative \[0, 0, 1\]/) });
    const full = checkExhaustive(tied, opts);
    expect(full.disagreements).toBeGreaterThan(0);
    expect(verdict(r)).toEqual(verdict(full));
    // Forced through anyway, the class walk would miscount: ties are why it stops.
    const split = classSplit(3, 3);
    const forced = checkClassRange(tied, { ...opts, alphabet: opts.alphabet }, split, 0, split.units);
    expect(forced.tie).toEqual([0, 0, 1]);
    const forcedAll = forcedWalk(tied, opts.alphabet, 3);
    expect(forcedAll).not.toBe(full.disagreements);
  });
});

describe("the float run of a qualifying model is bit-for-bit equivariant", () => {
  /** Residual and logit bits at every position of s, with token directions renamed by pi. */
  function permutedRun(m: CompiledModel, s: readonly number[], pi: readonly number[] | null, precision: "float32" | "float64"): Float64Array[] {
    const run = new IncrementalRun(m.weights, { precision });
    const D = m.weights.config.d_model;
    const V = m.program.vocab.length;
    const token = m.layout.blocks.filter((b) => b.domain === "token");
    const out: Float64Array[] = [];
    run.step(BOS_ID);
    for (const t of s) {
      run.step(t + 1);
      const r = Float64Array.from(run.residualView(m.program.layers.length));
      const l = Float64Array.from(run.logitsView());
      if (pi) {
        // Map the renamed run back: coordinate v of a token block sits at pi[v].
        const back = Float64Array.from(r);
        for (const b of token) for (let v = 0; v < V; v++) back[b.offset + v] = r[b.offset + pi[v]!]!;
        const lb = Float64Array.from(l);
        for (let v = 0; v < V; v++) lb[v + 1] = l[pi[v]! + 1]!;
        out.push(back, lb);
      } else out.push(r, l);
      expect(r.length).toBe(D);
    }
    return out;
  }

  it("random qualifying programs, sequences and renamings: every residual and logit bit maps over (float64 and float32)", () => {
    let qualifying = 0;
    const arb = arbProgram().chain((g) => {
      const V = g.program.vocab.length;
      return fc.record({
        g: fc.constant(g),
        pi: fc.shuffledSubarray([...Array(V).keys()], { minLength: V, maxLength: V }),
        s: fc.array(fc.nat({ max: V - 1 }), { minLength: 1, maxLength: Math.min(10, g.program.context - 1) }),
      });
    });
    fc.assert(
      fc.property(arb, ({ g, pi, s }) => {
        let m: CompiledModel;
        try {
          m = compile(g.program, { precision: "float64" });
        } catch {
          return true; // too large for the compiler: not a model
        }
        if (symmetryObstacle(m)) return true;
        qualifying++;
        return (["float64", "float32"] as const).every((precision) => {
          const a = permutedRun(m, s, null, precision);
          const b = permutedRun(m, s.map((t) => pi[t]!), pi, precision);
          // === treats +0 and −0 as equal, the only difference the argument allows.
          return a.every((x, k) => x.every((y, d) => y === b[k]![d]));
        });
      }),
      fcParams({ seed: 1212, numRuns: 40 }),
    );
    expect(qualifying).toBeGreaterThan(12);
  });
});
