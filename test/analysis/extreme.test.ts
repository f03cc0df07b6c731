/**
 * Non-finite and extreme weights (issue 8, defect 6): NaN and ±Inf are
 * refused at load by tensor name and index; huge finite entries (±1e308)
 * give finite scores or a one-line refusal naming the tensor — never an
 * internal error from the eigenvalue solver, never NaN in a report.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { analyzeModel, WeightsRangeError } from "../../src/analysis/analyze.ts";
import { analyzeComposition } from "../../src/analysis/composition.ts";
import { copyingScores } from "../../src/analysis/copying.ts";
import { eigenvalues } from "../../src/analysis/spectrum.ts";
import { analyzeCommand } from "../../src/cli/analyzeCmd.ts";
import { decompileCommand } from "../../src/cli/decompileCmd.ts";
import { compile } from "../../src/compiler/compile.ts";
import { layoutToJson } from "../../src/compiler/layout.ts";
import { encodeSafetensors } from "../../src/model/safetensors.ts";
import { stateDict, type Tensor, type Weights } from "../../src/model/weights.ts";
import { decodeWeights, encodeWeights } from "../../src/model/weightsFile.ts";
import { runInProcess } from "../support/inProcess.ts";
import { loadProgram } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const dir = mkdtempSync(join(tmpdir(), "circuits-extreme-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const model = compile(loadProgram("induction"));
const extra = { tokens: model.tokens, layout: layoutToJson(model.layout) };
/** The compiled file's metadata, reused on tampered tensors (saveWeights itself refuses non-finite ones). */
const metadata = (() => {
  const { bytes } = encodeWeights(model.weights, extra);
  return decodeWeights(bytes).metadata;
})();

/** The state dict with one entry replaced. */
function tampered(name: string, flat: number, value: number): [string, Tensor][] {
  return stateDict(model.weights).map(([n, t]) => {
    if (n !== name) return [n, t];
    const data = Float64Array.from(t.data);
    data[flat] = value;
    return [n, { shape: t.shape, data }];
  });
}

function weightsOf(entries: [string, Tensor][]): Weights {
  const get = (n: string) => entries.find(([k]) => k === n)![1];
  return {
    ...model.weights,
    W_E: get("embed.W_E"),
    W_pos: get("pos_embed.W_pos"),
    W_U: get("unembed.W_U"),
    b_U: get("unembed.b_U"),
    blocks: model.weights.blocks.map((_, l) => ({
      W_Q: get(`blocks.${l}.attn.W_Q`),
      W_K: get(`blocks.${l}.attn.W_K`),
      W_V: get(`blocks.${l}.attn.W_V`),
      W_O: get(`blocks.${l}.attn.W_O`),
      b_Q: get(`blocks.${l}.attn.b_Q`),
      b_K: get(`blocks.${l}.attn.b_K`),
      b_V: get(`blocks.${l}.attn.b_V`),
      b_O: get(`blocks.${l}.attn.b_O`),
    })),
  };
}

// Entries chosen where the compiled weights are nonzero or read (W_E row of token a, W_V/W_O of live heads).
const TARGETS: [string, number][] = [
  ["embed.W_E", 1 * model.weights.config.d_model + 2],
  ["blocks.0.attn.W_V", 5],
  ["blocks.1.attn.W_O", 7],
  ["blocks.1.attn.W_Q", 3],
  ["unembed.b_U", 2],
  ["pos_embed.W_pos", 4],
];

describe("non-finite weights are refused at load, by name and index", () => {
  for (const value of [NaN, Infinity, -Infinity]) {
    for (const [name, flat] of TARGETS) {
      it(`${value} in ${name}: analyze and decompile exit 2 naming the tensor`, async () => {
        const path = join(dir, `bad-${name}-${value}.safetensors`);
        writeFileSync(path, encodeSafetensors(tampered(name, flat, value), metadata));
        for (const cmd of [analyzeCommand, decompileCommand]) {
          const r = await runInProcess(cmd, path);
          expect(r.code).toBe(2);
          expect(r.error).toMatch(new RegExp(`tensor "${name.replace(/\./g, "\\.")}" holds ${String(value).replace("+", "")} at index \\[`));
          expect(r.error).not.toContain("\n");
          expect(r.stdout).toBe("");
        }
      });
    }
  }

  it("the library refuses them too: analyzeModel names the tensor", () => {
    const w = weightsOf(tampered("blocks.0.attn.W_V", 5, NaN));
    expect(() => analyzeModel(w)).toThrow(WeightsRangeError);
    expect(() => analyzeModel(w)).toThrow(/blocks\.0\.attn\.W_V" holds NaN at index \[0,0,5\]/);
  });
});

describe("huge finite weights: finite scores or a one-line refusal, never an internal error", () => {
  for (const value of [1e308, -1e308, Number.MAX_VALUE]) {
    for (const [name, flat] of TARGETS) {
      it(`${value} in ${name}`, async () => {
        const path = join(dir, `big-${name}-${value}.safetensors`);
        writeFileSync(path, encodeSafetensors(tampered(name, flat, value), metadata));
        for (const cmd of [analyzeCommand, decompileCommand]) {
          for (const json of [[], ["--json"]]) {
            const r = await runInProcess(cmd, path, ...json);
            if (r.code === 2) {
              expect(r.error).not.toContain("\n");
              expect(r.error).not.toMatch(/internal error|did not converge/);
            } else {
              expect([0, 1]).toContain(r.code);
              expect(r.stdout).not.toMatch(/NaN|Infinity|null,\s*"magnitude"/);
            }
          }
        }
      });
    }
  }

  it("any tensor, any entry, any huge value (seeded): analyze and decompile end in exit 0, 1 or 2, never an internal error", async () => {
    const names = stateDict(model.weights).map(([n, t]) => [n, t.data.length] as const);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: names.length - 1 }),
        fc.nat(),
        fc.constantFrom(1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE, 1e200, 3e38),
        async (k, i, value) => {
          const [name, size] = names[k]!;
          const path = join(dir, "any.safetensors");
          writeFileSync(path, encodeSafetensors(tampered(name, i % size, value), metadata));
          for (const cmd of [analyzeCommand, decompileCommand]) {
            const r = await runInProcess(cmd, path, "--json");
            expect([0, 1, 2]).toContain(r.code);
            if (r.code === 2) expect(r.error).not.toContain("\n");
            else expect(r.stdout).not.toMatch(/NaN|Infinity/);
          }
        },
      ),
      fcParams({ seed: 608, numRuns: 20 }),
    );
  });

  it("composition and copying scores are finite and unchanged in kind when one entry is 1e308", () => {
    const w = weightsOf(tampered("blocks.0.attn.W_V", 5, 1e308));
    const c = analyzeComposition(w);
    expect(c.scores.every((s) => Number.isFinite(s.score))).toBe(true);
    const copy = copyingScores(w);
    expect(copy.every((h) => h.score !== null && Number.isFinite(h.score))).toBe(true);
  });

  it("a forward pass that overflows is refused naming the largest weight", () => {
    const w = weightsOf(tampered("embed.W_E", 1 * model.weights.config.d_model + 2, 1e308));
    expect(() => analyzeModel(w)).toThrow(/forward pass overflows .* the largest weight is embed\.W_E\[1,2\] = 1e\+308/);
  });

  it("eigenvalues of a matrix with entries near the float64 limit: scaled exactly, no overflow", () => {
    const big = 2 ** 1020;
    const m = { rows: 3, cols: 3, data: Float64Array.from([0, big, 0, 0, 0, big, big, 0, 0]) }; // big × a 3-cycle
    const ev = eigenvalues(m);
    expect(ev).toHaveLength(3);
    for (const z of ev) expect(Math.hypot(z.re / big, z.im / big)).toBeCloseTo(1, 12);
    expect(() => eigenvalues({ rows: 1, cols: 1, data: Float64Array.from([NaN]) })).toThrow(/non-finite/);
  });
});
