/**
 * The compiler states its bound for a float format (float32 by default,
 * TransformerLens's default dtype). These tests hold it to that at the longest
 * contexts it accepts, on our float32 simulator and on an independent float32
 * forward (test/support/forwardF32.ts) that rounds every operation and sums
 * in another order.
 */
import { describe, expect, it } from "vitest";
import { BOS_ID, modelInput } from "../../src/model/tokenIds.ts";
import { compile, CompileError } from "../../src/compiler/compile.ts";
import { LIMITS } from "../../src/lang/check.ts";
import { maxContext } from "../../src/compiler/scales.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { compareSequence } from "../../src/verify/check.ts";
import { forwardF32 } from "../support/forwardF32.ts";
import { loadSource } from "../support/programs.ts";
import { selectedKeys } from "../support/selection.ts";

const positional = (C: number) =>
  ["vocab 0..7", `context ${C}`, "layer 1", "  head previous: select j = i - 1; copy token[j] as prev", "output prev"].join("\n");

// I_1 without self-exclusion: a positional head feeding a match head, with no
// one-hot position block, so d_model stays small at long contexts.
const induction = (C: number) =>
  [
    "vocab a b c d", `context ${C}`,
    "layer 1", "  head previous: select j = i - 3; copy token[j] as prev",
    "layer 2", "  head induction: select latest j <= i where prev[j] == token[i]; copy token[j] as next",
    "output next",
  ].join("\n");

describe("float32: the bound holds at the longest context compiled for it", () => {
  it("positional heads fit the language's whole context limit: context 8192 decodes every position in float32", () => {
    const C = LIMITS.context;
    const model = compile(loadSource(positional(C)));
    expect(model.weights.config.dtype).toBe("float32");
    expect(model.scales.precision).toBe("float32");
    // The vocabulary repeated to full length: the input on which the quadratic
    // positional score used to put 0.5/0.5 on neighbouring keys.
    const input = Array.from({ length: C - 1 }, (_, i) => i % 8);
    expect(compareSequence(model, input, new IncrementalRun(model.weights, { precision: "float32" }))).toBeNull();
  });

  it("match heads: one past the float32 limit is refused with the limit and the way out; float64 accepts it", () => {
    const limit = maxContext(2, 1, 1e-3, "float32");
    expect(limit).toBeGreaterThan(1000);
    expect(limit).toBeLessThan(LIMITS.context);
    expect(() => compile(loadSource(induction(limit + 1)))).toThrow(CompileError);
    expect(() => compile(loadSource(induction(limit + 1)))).toThrow(new RegExp(`at most ${limit} or compile with --precision float64`));
    expect(compile(loadSource(induction(limit + 1)), { precision: "float64" }).weights.config.dtype).toBe("float64");
  });

  it("match heads at the float32 limit: an independent float32 forward keeps ≥ 1 − ε on every selection and decodes every prediction", () => {
    const C = maxContext(2, 1, 1e-3, "float32");
    const model = compile(loadSource(induction(C)));
    const rand = mulberry32(5);
    // A random prefix, then its repetition: matches near the end of the context.
    const half = Array.from({ length: Math.floor((C - 1) / 2) }, () => Math.floor(rand() * 4));
    const input = [...half, ...half, ...Array.from({ length: C - 1 - 2 * half.length }, () => 0)];
    expect(input.length).toBe(C - 1);
    const run = interpret(model.program, input);
    const { patterns, logits } = forwardF32(model.weights, modelInput(input));
    const T = input.length + 1;
    let worst = 0;
    for (const c of model.circuits) {
      const pattern = patterns[c.block]!;
      for (let i = 0; i < T; i++) {
        const row = (c.index * T + i) * T;
        const mass = selectedKeys(run, c.head, i).reduce((s, j) => s + pattern[row + j]!, 0);
        worst = Math.max(worst, 1 - mass);
      }
    }
    expect(worst).toBeLessThanOrEqual(model.scales.epsilon);
    const Vo = model.weights.config.d_vocab_out;
    const kappa = model.scales.logitScale;
    for (let p = 1; p < T; p++) {
      const row = logits.subarray(p * Vo + 1, (p + 1) * Vo);
      const hi = Math.max(...row);
      const want = run.prediction(p);
      expect(hi < kappa / 2 ? null : row.indexOf(hi)).toBe(want);
    }
    // And our own float32 simulator decodes every feature of every layer.
    expect(compareSequence(model, input, new IncrementalRun(model.weights, { precision: "float32" }))).toBeNull();
  });
});
