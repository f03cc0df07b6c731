/**
 * Compiled counts: a `.mean` head one layer early writes 1/(m + 1), the count's own head turns it
 * into attention on position m (scales.ts). Checked against the semantics feature by feature, and
 * the stated bound checked on the attention patterns the simulator produces.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkLayoutAgainst, checkLayoutSelf } from "../../src/analysis/layoutCheck.ts";
import { BOS_ID, tokenId } from "../../src/model/tokenIds.ts";
import { compile, CompileError } from "../../src/compiler/compile.ts";
import { estimateSize } from "../../src/compiler/size.ts";
import { load } from "../../src/lang/check.ts";
import { SymbolicRun } from "../../src/semantics/interpret.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { checkRandom } from "../../src/verify/check.ts";
import { arbCountProgram, COUNTS } from "../support/countPrograms.ts";
import { fcParams } from "../support/seed.ts";

describe("compiled count heads", () => {
  it("float64: every feature of the hand-written counting program decodes to the semantics' value", () => {
    const model = compile(load({ path: "counts", text: COUNTS }), { precision: "float64" });
    const r = checkRandom(model, { samples: 150, seed: 11 });
    expect(r.first).toBeNull();
    expect(r.disagreements).toBe(0);
  });

  it("the stated bound: each count's head puts ≥ 1 − ε on position m, its .mean head ≈ 1/(m + 1) on BOS", () => {
    const program = load({ path: "counts", text: COUNTS });
    const model = compile(program, { precision: "float64" });
    const eps = model.scales.headEpsilon;
    const rand = mulberry32(5);
    const counted = model.circuits.filter((c) => c.head.select.kind === "match" && c.head.select.rule === "count");
    expect(counted.map((c) => c.head.name).sort()).toEqual(["all", "all.mean", "pairs", "pairs.mean", "seen", "seen.mean"]);
    const { countScale: lp, lambda } = model.scales;
    let worstMean = 0;
    let worstCount = 0;
    // The margin the derivation promises, with the 1/(m + 1) the .mean head actually wrote: every key
    // p ≠ m scores ≥ λ·|p − m| below position m (scales.ts). Smallest ratio margin / (λ·|p − m|) seen:
    let worstRatio = Infinity;
    for (let s = 0; s < 20; s++) {
      const input = Array.from({ length: 31 }, () => Math.floor(rand() * 3));
      const sim = new IncrementalRun(model.weights, { precision: "float64" });
      const sym = new SymbolicRun(program);
      sim.step(BOS_ID);
      input.forEach((t, k) => {
        sim.step(tokenId(t));
        sym.push(t);
        const i = k + 1;
        for (const c of counted) {
          const pattern = sim.pattern(c.block, c.index);
          const name = c.head.name.replace(/\.mean$/, "");
          const m = (sym.value(name === "seen" ? "k" : name === "all" ? "n" : "r", i) as number | null) ?? 0;
          if (c.head.name.endsWith(".mean")) {
            worstMean = Math.max(worstMean, Math.abs(pattern[0]! * (m + 1) - 1));
            const x = pattern[0]!;
            const score = (p: number) => lp * (2 * (p + 1) - x * (p + 1) ** 2);
            for (let p = 0; p <= i; p++) if (p !== m) worstRatio = Math.min(worstRatio, (score(m) - score(p)) / (lambda * Math.abs(p - m)));
          } else worstCount = Math.max(worstCount, 1 - pattern[m]!);
        }
      });
    }
    expect(worstCount).toBeLessThanOrEqual(eps);
    expect(worstRatio).toBeGreaterThanOrEqual(1);
    // The relative error of 1/(m + 1) that the count's margin allows (scales.ts): 1/(4C).
    expect(worstMean).toBeLessThanOrEqual(1 / (4 * program.context));
  });

  it("random counting programs, float64: compiled = symbolic on seeded inputs", () => {
    fc.assert(
      fc.property(arbCountProgram, fc.nat(1000), ({ program, source }, seed) => {
        const model = compile(program, { precision: "float64" });
        const r = checkRandom(model, { samples: 12, seed });
        expect(r.first, source).toBeNull();
      }),
      fcParams({ numRuns: 15, seed: 3802 }),
    );
  });

  it("float32 refuses counts beyond its rounding (scores grow like C³); size estimates count the .mean heads", () => {
    const program = load({ path: "counts", text: COUNTS });
    expect(() => compile(program)).toThrow(CompileError);
    expect(() => compile(program)).toThrow(/count head 'all' at context 32 .* --precision float64/);
    const model = compile(program, { precision: "float64" });
    const est = estimateSize(program);
    expect([est.dModel, est.nHeads, est.dHead]).toEqual([model.weights.config.d_model, model.weights.config.n_heads, model.weights.config.d_head]);
    expect(model.weights.config.n_heads).toBe(4); // layer 2: `same` and the three .mean heads
  });

  it("the layout (pos.u, pos.u2 and one .inv block per count) passes the checks analyses run on a file's layout", () => {
    const model = compile(load({ path: "counts", text: COUNTS }), { precision: "float64" });
    expect(model.layout.blocks.filter((b) => b.kind === "count").map((b) => [b.name, b.layer, b.writtenBy])).toEqual([
      ["all.inv", 2, "all.mean"], ["seen.inv", 2, "seen.mean"], ["pairs.inv", 2, "pairs.mean"],
    ]);
    expect(() => checkLayoutSelf(model.layout)).not.toThrow();
    expect(() => checkLayoutAgainst(model.layout, model.weights, model.tokens)).not.toThrow();
    const bad = { ...model.layout, blocks: model.layout.blocks.map((b) => (b.kind === "count" ? { ...b, domain: "pos" as const } : b)) };
    expect(() => checkLayoutSelf(bad)).toThrow(/count block 'all.inv'/);
  });
});
