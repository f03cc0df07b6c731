/**
 * Composition scores rediscover the checker's composition graph from
 * compiled weights alone — on every example program and on random programs —
 * with the orientation right (a K edge is not a Q edge), non-edges at exactly
 * 0, true edges above the analytic lower bound, random heads at the
 * 1/√d_model baseline — and the edge rule relative to the random baseline
 * (written score > mean + k·sd of random models of the same shapes) shows
 * every compiled graph exactly and no edge at all in random models.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { activeHeads, ovCircuit, qkCircuit } from "../../src/analysis/circuits.ts";
import { analyzeComposition, compareGraphs, compositionScore, DEFAULT_SIGMAS, headLevel, randomBaseline, rowSpaceBasis } from "../../src/analysis/composition.ts";
import { compiledComposition, compiledHeadIds } from "../../src/analysis/compiledGraph.ts";
import { frobenius, matmul, transpose } from "../../src/analysis/linalg.ts";
import { compile } from "../../src/compiler/compile.ts";
import type { Program } from "../../src/lang/program.ts";
import { domainSize } from "../../src/lang/program.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { arbProgram } from "../../src/hypothesis/arbitrary.ts";
import { loadProgram, programNames } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

/** The program's graph with heads renamed to their TransformerLens ids and features dropped. */
function idGraph(program: Program) {
  const id = compiledHeadIds(program);
  return headLevel(compiledComposition(program).map((e) => ({ ...e, from: id.get(e.from)!, to: id.get(e.to)! })));
}

/**
 * The analytic floor of a true edge's score on compiled weights (see
 * composition.ts): Q/K ≥ √((n_f − |s|)/n_f) / √(m·n + m² + 2.25·C), V ≥ 1/√(Σ copied sizes).
 */
function lowerBound(program: Program, to: string, kind: "Q" | "K" | "V", feature: string): number {
  const head = program.layers.flat().find((h) => h.name === to)!;
  const size = (f: string) => domainSize(program, program.features.get(f)!.domain);
  if (kind === "V") return 1 / Math.sqrt(head.copies.reduce((s, c) => s + size(c.from), 0));
  if (head.select.kind !== "match") throw new Error("Q/K edge into a positional head");
  const conds = head.select.conditions;
  const m = conds.length;
  const n = Math.max(...conds.map((c) => size(c.key)));
  const c = conds.find((x) => (kind === "K" ? x.key : x.query) === feature)!;
  const nf = size(feature);
  return Math.sqrt((nf - Math.abs(c.shift)) / nf) / Math.sqrt(m * n + m * m + 2.25 * program.context);
}

describe("composition graph of the example programs", () => {
  for (const name of programNames()) {
    it(`${name}: detected from weights = program.composition, feature-level with the layout, head-level without`, () => {
      const model = compile(loadProgram(name));
      const named = analyzeComposition(model.weights, { layout: model.layout });
      expect(compareGraphs(named.detected, model.program.composition)).toMatchObject({ equal: true });
      const bare = analyzeComposition(model.weights);
      expect(compareGraphs(bare.detected, idGraph(model.program))).toMatchObject({ equal: true });
    });
  }

  it("induction: K-composition previous → induction, and Q and V exactly 0 (the orientation matters)", () => {
    const model = compile(loadProgram("induction"));
    const [prev, ind] = activeHeads(model.weights);
    expect(compositionScore(prev!, ind!, "K")).toBeGreaterThan(0.05);
    expect(compositionScore(prev!, ind!, "Q")).toBe(0);
    expect(compositionScore(prev!, ind!, "V")).toBe(0);
  });

  it("q-composition and v-composition show their own kind only", () => {
    for (const [name, kind] of [["q-composition", "Q"], ["v-composition", "V"], ["duplicate-token", "V"]] as const) {
      const [a, b] = activeHeads(compile(loadProgram(name)).weights);
      for (const k of ["Q", "K", "V"] as const) {
        if (k === kind) expect(compositionScore(a!, b!, k)).toBeGreaterThan(0.1);
        else expect(compositionScore(a!, b!, k)).toBe(0);
      }
    }
  });

  it("a wrong graph is not recovered: induction's weights against induction-earliest's (same graph) and bigram's (not)", () => {
    const detected = analyzeComposition(compile(loadProgram("induction")).weights, { layout: compile(loadProgram("induction")).layout }).detected;
    expect(compareGraphs(detected, loadProgram("induction-earliest").composition).equal).toBe(true);
    const cmp = compareGraphs(detected, loadProgram("bigram-induction").composition);
    expect(cmp.equal).toBe(false);
    expect(cmp.missing).toEqual(["previous → induction Q (prev)", "previous2 → induction K (prev2)"]);
  });
});

describe("composition graph of random programs", () => {
  it("non-edges score exactly 0, true edges at least the analytic floor (any positive written score is an edge)", () => {
    fc.assert(
      fc.property(arbProgram(), ({ program }) => {
        const model = compile(program);
        // A fixed tiny threshold: the structural claim, without drawing a baseline per program.
        const a = analyzeComposition(model.weights, { layout: model.layout, threshold: 1e-9 });
        // Counts compile to two heads: their K/Q edges sit on the hidden .mean head (compiledGraph.ts).
        const edges = compiledComposition(program);
        expect(compareGraphs(a.detected, edges)).toMatchObject({ equal: true });
        const truth = new Set(edges.map((e) => `${e.from}/${e.to}/${e.kind}/${e.feature}`));
        for (const s of a.featureScores) {
          if (!truth.has(`${s.from}/${s.to}/${s.kind}/${s.feature}`)) expect(s.score).toBe(0);
          // The analytic floor is derived for the program's own heads; a count's hidden edges must just be there.
          else if (s.to.endsWith(".mean") || s.feature!.endsWith(".inv")) expect(s.score).toBeGreaterThan(0);
          else expect(s.score).toBeGreaterThanOrEqual(lowerBound(program, s.to, s.kind, s.feature!) * (1 - 1e-9));
        }
      }),
      fcParams({ numRuns: 80, seed: 20240611 }),
    );
  });

  it("the rule relative to the random baseline recovers every graph exactly (head-level: never an extra edge)", () => {
    let minMargin = Infinity;
    fc.assert(
      fc.property(arbProgram(), ({ program }) => {
        const model = compile(program);
        const a = analyzeComposition(model.weights, { layout: model.layout });
        expect(compareGraphs(a.detected, compiledComposition(program))).toMatchObject({ equal: true });
        for (const s of a.detected) {
          const cell = a.randomBaseline.find((c) => c.block === a.heads.find((h) => h.name === s.to)!.block)!;
          minMargin = Math.min(minMargin, (s.written - cell.mean) / cell.sd);
        }
        // Without a layout a head is scored as a whole: a head writing several features dilutes each
        // edge (its OV norm counts all of them), so such edges may fall under the rule —
        // never an extra edge, and exact whenever every head writes one feature.
        const bare = compareGraphs(analyzeComposition(model.weights).detected, idGraph(program));
        expect(bare.extra).toEqual([]);
        if (program.layers.flat().every((h) => h.copies.length === 1)) expect(bare.equal).toBe(true);
      }),
      fcParams(// Each program draws its own baseline (several analyses of its size): fewer runs than above.
      { numRuns: 15, seed: 20240611 }),
    );
    // Every true edge clears the random baseline by more than the rule's k standard deviations.
    expect(minMargin).toBeGreaterThan(DEFAULT_SIGMAS);
  });
});

describe("the random baseline", () => {
  it("the factored evaluation equals the dense ‖W_OV^A·R^B‖/(‖W_OV^A‖·‖R^B‖) with R = W_QK, W_QKᵀ, W_OV", () => {
    const w = randomWeights({ d_model: 10, d_head: 3, n_heads: 2, n_layers: 2, n_ctx: 4, d_vocab: 5 }, 4);
    const heads = activeHeads(w);
    for (const a of heads.filter((h) => h.block === 0)) {
      for (const b of heads.filter((h) => h.block === 1)) {
        const ov = ovCircuit(a);
        const R = { Q: qkCircuit(b), K: transpose(qkCircuit(b)), V: ovCircuit(b) };
        for (const kind of ["Q", "K", "V"] as const) {
          const dense = frobenius(matmul(ov, R[kind])) / (frobenius(ov) * frobenius(R[kind]));
          expect(compositionScore(a, b, kind)).toBeCloseTo(dense, 12);
        }
      }
    }
  });


  it("independent random heads score about 1/√d_model, for every kind", () => {
    for (const D of [16, 64, 144]) {
      const w = randomWeights({ d_model: D, d_head: 8, n_heads: 4, n_layers: 2, n_ctx: 4, d_vocab: 5 }, D);
      const a = analyzeComposition(w);
      expect(a.baseline).toBeCloseTo(1 / Math.sqrt(D), 12);
      for (const kind of ["Q", "K", "V"] as const) {
        const s = a.scores.filter((x) => x.kind === kind);
        expect(s).toHaveLength(16);
        const mean = s.reduce((t, x) => t + x.score, 0) / s.length;
        expect(mean / a.baseline).toBeGreaterThan(0.8);
        expect(mean / a.baseline).toBeLessThan(1.2);
      }
      // Relative to the random baseline, random heads do not compose; a fixed tiny threshold would say all of them do.
      expect(a.detected).toHaveLength(0);
      expect(analyzeComposition(w, { threshold: 1e-3 }).detected).toHaveLength(48);
    }
  });
});

describe("edges relative to the random baseline", () => {
  it("random models show no edge, over many seeds and shapes (uniform and sparse weights)", () => {
    const shapes = [
      { d_model: 16, d_head: 4, n_heads: 2, n_layers: 2 },
      { d_model: 32, d_head: 8, n_heads: 4, n_layers: 2 },
      { d_model: 24, d_head: 6, n_heads: 2, n_layers: 3 },
      { d_model: 64, d_head: 16, n_heads: 4, n_layers: 2 },
    ];
    let pairs = 0;
    for (const shape of shapes) {
      for (let seed = 0; seed < 25; seed++) {
        for (const density of [1, 0.3]) {
          const a = analyzeComposition(randomWeights({ ...shape, n_ctx: 4, d_vocab: 5 }, 7000 + seed, { density }));
          pairs += a.scores.length;
          expect(a.detected, `${JSON.stringify(shape)} seed ${seed} density ${density}`).toEqual([]);
        }
      }
    }
    expect(pairs).toBeGreaterThan(5000);
  });

  it("the baseline is deterministic, pools Q/K/V per reading layer, and has the rule's threshold", () => {
    const config = randomWeights({ d_model: 20, d_head: 5, n_heads: 2, n_layers: 3, n_ctx: 4, d_vocab: 5 }, 1).config;
    const b = randomBaseline(config);
    expect(b).toEqual(randomBaseline(config));
    expect(b.map((c) => c.block)).toEqual([1, 2]);
    for (const c of b) {
      expect(c.samples).toBeGreaterThanOrEqual(24);
      expect(c.mean).toBeGreaterThan(0);
      expect(c.mean).toBeLessThan(1);
      expect(c.threshold).toBeCloseTo(c.mean + DEFAULT_SIGMAS * c.sd, 12);
    }
  });

  it("the written subspace is the row space of the earlier layers' W_O (orthonormal, the right rank)", () => {
    const w = randomWeights({ d_model: 12, d_head: 3, n_heads: 2, n_layers: 2, n_ctx: 4, d_vocab: 5 }, 3);
    const heads = activeHeads(w).filter((h) => h.block === 0);
    const U = rowSpaceBasis([...heads.map((h) => h.W_O), heads[0]!.W_O], 12); // a repeated head adds nothing
    expect(U.rows).toBe(6);
    const G = matmul(U, transpose(U));
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) expect(G.data[i * 6 + j]).toBeCloseTo(i === j ? 1 : 0, 12);
    // Every W_O row lies in the span: projecting it onto U changes nothing.
    for (const h of heads) {
      const back = matmul(matmul(h.W_O, transpose(U)), U);
      back.data.forEach((x, k) => expect(x).toBeCloseTo(h.W_O.data[k]!, 12));
    }
  });
});
