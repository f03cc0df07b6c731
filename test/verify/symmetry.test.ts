/**
 * Renaming symmetry: the semantics commutes with renaming tokens on random
 * programs (every checked program qualifies: the checker refuses token
 * shifts and mixed comparisons); programs and weights that do not qualify are
 * refused with their reason; the class tree's split partitions it; and the
 * class walk on worker threads and in shards gives the one-thread result.
 */
import fc from "fast-check";
import { fcParams } from "../support/seed.ts";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { arbProgram } from "../../src/hypothesis/arbitrary.ts";
import type { Program } from "../../src/lang/program.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import type { Value } from "../../src/semantics/values.ts";
import { countSequences } from "../../src/verify/check.ts";
import {
  checkClasses, classesInRange, classShardRange, classSize, classSplit, countClasses, growthTable,
} from "../../src/verify/classes.ts";
import { CheckPool } from "../../src/verify/parallel.ts";
import { floatObstacle, semanticObstacle, symmetryObstacle, weightObstacle } from "../../src/verify/symmetry.ts";
import { loadProgram, loadSource } from "../support/programs.ts";

/** A value with its token indices renamed by pi (positions stay). */
function renamed(v: Value, pi: readonly number[], token: boolean): Value {
  if (!token || v === null) return v;
  if (typeof v === "number") return pi[v]!;
  return new Map([...v].map(([k, p]) => [pi[k]!, p]));
}

const same = (a: Value, b: Value) =>
  a === null || typeof a === "number" || b === null || typeof b === "number"
    ? a === b
    : a.size === b.size && [...a].every(([k, p]) => b.get(k)?.equals(p) === true);

describe("the semantics commutes with renaming tokens", () => {
  it("interpret(π∘s) = π∘interpret(s) for every feature at every position (random programs, π and s)", () => {
    const arb = arbProgram().chain((g) => {
      const V = g.program.vocab.length;
      return fc.record({
        g: fc.constant(g),
        pi: fc.shuffledSubarray([...Array(V).keys()], { minLength: V, maxLength: V }),
        s: fc.array(fc.nat({ max: V - 1 }), { maxLength: Math.min(10, g.program.context - 1) }),
      });
    });
    let renamings = 0;
    fc.assert(
      fc.property(arb, ({ g, pi, s }) => {
        const p = g.program;
        expect(semanticObstacle(p)).toBeNull();
        const a = interpret(p, s);
        const b = interpret(p, s.map((t) => pi[t]!));
        for (const f of p.features.values()) {
          for (let i = 1; i <= s.length; i++) {
            const want = renamed(a.value(f.name, i), pi, f.domain === "token");
            if (!same(b.value(f.name, i), want)) return false;
          }
        }
        if (pi.some((x, k) => x !== k)) renamings++;
        return true;
      }),
      fcParams({ seed: 12, numRuns: 100 }),
    );
    expect(renamings).toBeGreaterThan(40); // not only identities
  });
});

describe("what does not qualify is refused with its reason", () => {
  const induction = loadProgram("induction");
  // Programs the checker refuses, built by editing a checked one: the guard must still see them.
  const edited = (change: (h: Program["layers"][number][number]) => Program["layers"][number][number]): Program => ({
    ...induction,
    layers: induction.layers.map((l) => l.map(change)),
  });

  it("a shift on token values orders tokens", () => {
    const p = edited((h) => (h.select.kind === "match" ? { ...h, select: { ...h.select, conditions: h.select.conditions.map((c) => ({ ...c, shift: 1 })) } } : h));
    expect(semanticObstacle(p)).toMatch(/head 'induction' shifts token values \(prev\[j\] == token\[i\] \+ 1\)/);
  });

  it("a token compared with a position, or a position-valued output", () => {
    const p = edited((h) => (h.select.kind === "match" ? { ...h, select: { ...h.select, conditions: [{ key: "pos", query: "token", shift: 0 }] } } : h));
    expect(semanticObstacle(p)).toMatch(/compares 'pos' \(pos\) with 'token' \(token\)/);
    expect(semanticObstacle({ ...induction, output: "pos" })).toMatch(/output 'pos' is not token-valued/);
  });

  it("two head-written token features compared: the float run is not bit-for-bit equivariant", () => {
    const p = loadProgram("bigram-induction");
    expect(semanticObstacle(p)).toBeNull();
    expect(floatObstacle(p)).toMatch(/head 'induction' compares two head-written token features \(prev2\[j\] == prev\[i\]\)/);
  });

  it("weights perturbed on one token are caught, naming the tensor and the renaming", () => {
    const m = compile(induction, { precision: "float64" });
    expect(weightObstacle(m)).toBeNull();
    const W_E = { ...m.weights.W_E, data: Float64Array.from(m.weights.W_E.data) };
    const D = m.weights.config.d_model;
    for (let d = 0; d < D; d++) W_E.data[3 * D + d]! *= 1.0000001; // token id 3 = 'c'
    const bad = { ...m, weights: { ...m.weights, W_E } };
    expect(symmetryObstacle(bad)).toMatch(/^W_E\[\d+, \d+\] changes under renaming b↔c$/);
    expect(() => checkClasses(bad, { maxLength: 2 })).toThrow(/W_E/);
    // A head weight touching one token direction only.
    const blocks = m.weights.blocks.map((b) => ({ ...b, W_V: { ...b.W_V, data: Float64Array.from(b.W_V.data) } }));
    const tok = m.layout.blocks.find((b) => b.name === "token")!;
    const E = m.weights.config.d_head;
    blocks[0]!.W_V.data[(tok.offset + 5) * E + 5]! += 1e-3; // head 0, token 'f' → its copy direction
    expect(weightObstacle({ ...m, weights: { ...m.weights, blocks } })).toMatch(/^blocks\.0\.attn\.W_V\[0\]\[\d+, \d+\] changes under renaming (e↔f|f↔g)$/);
  });

  it("a layer that writes the token block is refused", () => {
    const m = compile(loadProgram("previous-token"), { precision: "float64" });
    const tok = m.layout.blocks.find((b) => b.name === "token")!;
    const V = m.program.vocab.length;
    const b_O = { ...m.weights.blocks[0]!.b_O, data: Float64Array.from(m.weights.blocks[0]!.b_O.data) };
    for (let v = 0; v < V; v++) b_O.data[tok.offset + v] = 0.25; // equivariant, but the block is no longer exact
    const blocks = [{ ...m.weights.blocks[0]!, b_O }, ...m.weights.blocks.slice(1)];
    expect(weightObstacle({ ...m, weights: { ...m.weights, blocks } })).toMatch(/b_O writes the token block/);
  });

  it("every example program either qualifies or names its head", () => {
    for (const name of ["induction", "induction-earliest", "previous-token", "duplicate-token", "every-average", "q-composition", "v-composition"]) {
      expect(symmetryObstacle(compile(loadProgram(name), { precision: "float64" })), name).toBeNull();
    }
    expect(symmetryObstacle(compile(loadProgram("bigram-induction"), { precision: "float64" }))).toMatch(/head 'induction'/);
  });

  it("a count head falls back to the full walk (regression: proofs/symmetry.test.ts, seed 1212, threw 'Space: no direction c0:a')", () => {
    const text = "vocab a b\ncontext 4\nlayer 1\n  head h1: select j = i; copy token[j] as f1\nlayer 2\n" +
      "  head h2: select count j <= i where token[j] == token[i]; copy token[j] as f2\n  head h3: select j = i; copy token[j] as f3\noutput f3\n";
    const m = compile(loadSource(text), { precision: "float64" });
    expect(semanticObstacle(m.program)).toBeNull();
    expect(symmetryObstacle(m)).toMatch(/^head 'h2' is a count/);
  });
});

describe("the class tree", () => {
  it("counts: 5,009,279 classes stand for the 78,536,544,840 sequences of length 1–12 over 8 tokens", () => {
    expect(countClasses(8, 12)).toBe(5_009_279);
    expect(countSequences(8, 12)).toBe(78_536_544_840);
    // Σ_k (representatives of length n with k distinct)·a(a−1)…(a−k+1) = a^n, level by level.
    for (const [a, L] of [[1, 6], [2, 9], [3, 7], [8, 12], [20, 5]] as const) {
      for (let n = 1; n <= L; n++) {
        // Representatives of length n with k distinct: S(n, k), by the growth recursion from the root.
        const S = Array.from({ length: a + 1 }, () => 0);
        const walk = (len: number, k: number) => {
          if (len === n) return void S[k]!++;
          for (let c = 0; c < Math.min(k + 1, a); c++) walk(len + 1, c === k ? k + 1 : k);
        };
        if (n <= 9) {
          walk(0, 0);
          expect(S.reduce((s, x, k) => s + x * classSize(a, k), 0)).toBe(a ** n);
          expect(S.reduce((s, x) => s + x, 0)).toBe(growthTable(a, n)[0]![n]);
        }
      }
    }
  });

  it("shard ranges of any count cover every class exactly once", () => {
    for (const [a, L] of [[1, 5], [2, 1], [3, 6], [4, 9], [8, 12], [30, 3]] as const) {
      const split = classSplit(a, L);
      expect(classesInRange(split, 0, split.units)).toBe(countClasses(a, L));
      for (const N of [1, 2, 3, 7, 64]) {
        let sum = 0;
        let prevHi = 0;
        for (let i = 0; i < N; i++) {
          const [lo, hi] = classShardRange(split, { index: i, count: N });
          expect(lo).toBe(prevHi);
          prevHi = hi;
          sum += classesInRange(split, lo, hi);
        }
        expect(prevHi).toBe(split.units);
        expect(sum).toBe(countClasses(a, L));
      }
    }
    // Balanced by nodes: 2 shards of the 8-token, length-12 tree are within 1 % of half.
    const s = classSplit(8, 12);
    const [, mid] = classShardRange(s, { index: 0, count: 2 });
    expect(Math.abs(classesInRange(s, 0, mid) / countClasses(8, 12) - 0.5)).toBeLessThan(0.01);
  });
});

describe("the class walk on threads and in shards", () => {
  // induction-earliest's weights against induction's semantics: disagreements once a token repeats twice.
  const failing = { ...compile(loadProgram("induction-earliest")), program: loadProgram("induction") };
  const pool = new CheckPool(failing, 2);
  afterAll(() => pool.close());
  const plain = (r: { sequences: number; disagreements: number; first: unknown; classes?: number }) => ({
    sequences: r.sequences, disagreements: r.disagreements, first: r.first, classes: r.classes,
  });

  it("2 workers and 3 shards give the one-thread class walk's counts and first disagreement", async () => {
    const opts = { maxLength: 7, alphabet: [0, 1, 2, 3], symmetric: true };
    const one = checkClasses(failing, opts);
    expect(one.sequences).toBe(countSequences(4, 7));
    expect(one.disagreements).toBeGreaterThan(0);
    expect(plain(await pool.check({ ...opts, chunksPerWorker: 40 }))).toEqual(plain(one));
    let classes = 0, sequences = 0, disagreements = 0;
    let first: unknown = null;
    for (let i = 0; i < 3; i++) {
      const r = await pool.check({ ...opts, shard: { index: i, count: 3 } });
      expect(plain(r)).toEqual(plain(checkClasses(failing, { ...opts, shard: { index: i, count: 3 } })));
      classes += r.classes!;
      sequences += r.sequences;
      disagreements += r.disagreements;
      first ??= r.first;
    }
    expect({ classes, sequences, disagreements, first }).toEqual({ classes: one.classes, sequences: one.sequences, disagreements: one.disagreements, first: one.first });
  }, 60_000);

  it("a source with token-valued features only in copies qualifies (loadSource)", () => {
    const p = loadSource("vocab a b c\ncontext 8\nlayer 1\n  head h: select latest j < i where token[j] == token[i]; copy pos[j] as at, token[j] as same\noutput same\n");
    expect(symmetryObstacle(compile(p, { precision: "float64" }))).toBeNull();
  });
});
