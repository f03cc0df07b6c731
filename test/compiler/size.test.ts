/**
 * Resource limits checked before allocating (issue 8, defect 5): the size
 * estimate equals the compiled model's real dimensions and parameter count,
 * and programs over the limits are refused in milliseconds, the estimate in
 * the message. Before the fix a 64×64-head program was refused only after
 * 23 s and 620 MB, and context 8192 induction passed 3.75 GB while compiling.
 */
import fc from "fast-check";
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { compile, CompileError } from "../../src/compiler/compile.ts";
import { COMPILE_LIMITS, estimateSize } from "../../src/compiler/size.ts";
import { arbProgram } from "../../src/hypothesis/arbitrary.ts";
import { sizeOf, stateDict } from "../../src/model/weights.ts";
import { driver } from "../support/driver.ts";
import { loadProgram, loadSource, programNames, programPath } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

function expectEstimateExact(program: Parameters<typeof compile>[0]): void {
  const est = estimateSize(program);
  const w = compile(program).weights;
  const { config } = w;
  expect({ dModel: est.dModel, dHead: est.dHead, nHeads: est.nHeads }).toEqual({ dModel: config.d_model, dHead: config.d_head, nHeads: config.n_heads });
  expect(est.parameters).toBe(stateDict(w).reduce((a, [, t]) => a + sizeOf(t.shape), 0));
}

const INDUCTION = (context: number) => `vocab a b c d e f g h\ncontext ${context}\nlayer 1\n  head previous: select j = i - 1; copy token[j] as prev\nlayer 2\n  head induction: select latest j < i where prev[j] == token[i]; copy token[j] as next\noutput next\n`;

describe("size estimate", () => {
  it("is exact for every example program", () => {
    for (const name of programNames()) expectEstimateExact(loadProgram(name));
  });

  it("is exact for random programs", () => {
    fc.assert(fc.property(arbProgram(), ({ program }) => expectEstimateExact(program)), fcParams({ seed: 55, numRuns: 60 }));
  });
});

describe("refused before allocating", () => {
  const refusal = (text: string): [string, number] => {
    const program = loadSource(text, "big.circ");
    const t0 = performance.now();
    try {
      compile(program);
    } catch (e) {
      expect(e).toBeInstanceOf(CompileError);
      return [(e as Error).message, performance.now() - t0];
    }
    throw new Error("expected a CompileError");
  };

  it("context 8192 and 4096 induction: refused at once with the estimate and the limit", () => {
    for (const c of [8192, 4096]) {
      const [msg, ms] = refusal(INDUCTION(c));
      expect(msg).toMatch(new RegExp(`^big\\.circ: the model would have \\d+ parameters, a \\d+ MB file \\(limit ${COMPILE_LIMITS.parameters} parameters, 320 MB\\)`));
      expect(ms).toBeLessThan(200);
    }
    expect(() => compile(loadSource(INDUCTION(1024)))).not.toThrow();
  });

  it("64 layers × 6 heads: refused in milliseconds", () => {
    const layers = Array.from({ length: 64 }, (_, l) => `layer ${l + 1}\n${Array.from({ length: 6 }, (_, h) => `head h${l}_${h}: select j = i - 1; copy token[j] as f${l}_${h}`).join("\n")}`);
    const [msg, ms] = refusal(`vocab 0..63\ncontext 64\n${layers.join("\n")}\noutput f0_0\n`);
    expect(msg).toMatch(/d_model would be 24651 \(limit 20000\)/); // 384 features × 64 values + one, bos, 64 tokens, pos.lin and a 4-hand clock
    expect(ms).toBeLessThan(200);
  });
});

describe("--workers", () => {
  it("is at most the available parallelism, and checked before compiling", async () => {
    const n = availableParallelism();
    const res = await driver([
      ["check", programPath("induction"), "--exhaustive", "--max-length", "2", "--workers", "256"],
      ["check", programPath("induction"), "--exhaustive", "--max-length", "2", "--workers", String(n + 1)],
      ["check", programPath("induction"), "--exhaustive", "--max-length", "2", "--workers", "1"],
    ]);
    expect(res[0]).toMatchObject({ code: 2, stderr: `circuits: --workers must be an integer between 1 and ${n}, got '256'\n` });
    expect(res[1]!.code).toBe(2);
    expect(res[2]!.code).toBe(0);
  });
});
