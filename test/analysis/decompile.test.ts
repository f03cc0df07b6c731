/**
 * decompile(compile(P)) is P: the same text (up to comments and spacing) for
 * every example program; for random programs the same checked structure —
 * heads, selections, conjuncts in order, copies, features, composition — and
 * the same value of every feature at every position on random inputs. Also:
 * through a weights file (float32 too), without using the layout's reader
 * lists, and refusing weights that are not a compiled program.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decompile, DecompileError } from "../../src/analysis/decompile.ts";
import { layoutFromJson } from "../../src/analysis/named.ts";
import { compile } from "../../src/compiler/compile.ts";
import { countHeads, layoutToJson } from "../../src/compiler/layout.ts";
import { load } from "../../src/lang/check.ts";
import type { Program } from "../../src/lang/program.ts";
import type { Tensor, Weights } from "../../src/model/weights.ts";
import { decodeWeights, encodeWeights } from "../../src/model/weightsFile.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { valueEquals } from "../../src/semantics/values.ts";
import { arbProgram } from "../../src/hypothesis/arbitrary.ts";
import { canonical, loadProgram, programNames } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

/** Program text without comments, blank lines or runs of spaces. */
const bare = (text: string) =>
  text.split("\n").map((l) => l.replace(/#.*/, "").trim().replace(/\s+/g, " ")).filter(Boolean).join("\n");

/** Every feature at every position agrees between two programs on one input. */
function sameValues(a: Program, b: Program, input: readonly number[]): boolean {
  const ra = interpret(a, input);
  const rb = interpret(b, input);
  for (const f of a.features.keys()) {
    for (let p = 0; p <= input.length; p++) if (!valueEquals(ra.value(f, p), rb.value(f, p))) return false;
  }
  return true;
}

const roundTrip = (program: Program) => {
  const m = compile(program);
  return decompile(m.weights, { layout: m.layout, tokens: m.tokens });
};

describe("decompiling the example programs", () => {
  for (const name of programNames()) {
    it(`${name}: the same program text`, () => {
      const program = loadProgram(name);
      const d = roundTrip(program);
      expect(bare(d.text)).toBe(bare(program.source.text));
      expect(canonical(d.program)).toEqual(canonical(program));
    });
  }

  it("reads the rule and offset it sees (the check can fail): earliest is not latest, i − 2 is not i − 1", () => {
    expect(roundTrip(loadProgram("induction-earliest")).text).toMatch(/select earliest j < i where prev\[j\] == token\[i\]/);
    const d = roundTrip(loadProgram("v-composition"));
    expect(d.heads.map((h) => h.select)).toEqual([{ kind: "offset", k: 1 }, { kind: "offset", k: 2 }]);
    expect(canonical(d.program)).not.toEqual(canonical(loadProgram("previous-token")));
  });

  it("recovers the compiler's constants β, γ and the self penalty", () => {
    const m = compile(loadProgram("induction"));
    const [, ind] = decompile(m.weights, { layout: m.layout }).heads;
    expect(ind!.constants.beta).toBeCloseTo(m.scales.beta, 6);
    expect(ind!.constants.gamma).toBeCloseTo(m.scales.gamma, 6);
    expect(ind!.constants.penalty).toBeCloseTo(m.scales.penalty, 6);
  });
});

describe("decompiling random programs", () => {
  it("gives the same checked program, and the same values of every feature on random inputs", () => {
    fc.assert(
      // Counting programs are refused (see the test below): decompile does not read count heads yet.
      fc.property(arbProgram().filter(({ program: p }) => !countHeads(p).length), fc.array(fc.array(fc.nat({ max: 4 }), { maxLength: 15 }), { minLength: 1, maxLength: 3 }), ({ program, source }, raws) => {
        const d = roundTrip(program);
        expect(canonical(d.program)).toEqual(canonical(program));
        for (const raw of raws) {
          const input = raw.slice(0, program.context - 1).map((t) => t % program.vocab.length);
          expect(sameValues(program, d.program, input)).toBe(true);
        }
        // A second round trip is a fixed point of the text.
        expect(roundTrip(d.program).text).toBe(d.text);
        // Same text as generated, up to how each conjunct is written (sides, where the shift sits).
        const conjuncts = /(\w+)\[(i|j)\]( [+-] \d+)? == (\w+)\[(i|j)\]( [+-] \d+)?/g;
        const loose = (t: string) => bare(t).replace(conjuncts, "≡");
        expect(loose(d.text)).toBe(loose(source));
      }),
      fcParams({ numRuns: 80, seed: 77 }),
    );
  });

  it("refuses a counting model in one line naming the count (fast-check's shrunk counterexample)", () => {
    const counting = `vocab a b
context 4

layer 1
  head h1: select j = i; copy token[j] as f1

layer 2
  head h2: select count j <= i; copy token[j] as f2

output f2
`;
    const model = compile(load({ path: "counting", text: counting }));
    const layout = layoutFromJson(JSON.parse(JSON.stringify(layoutToJson(model.layout))), model.weights.config.d_model);
    expect(() => decompile(model.weights, { layout })).toThrow(DecompileError);
    expect(() => decompile(model.weights, { layout })).toThrow(/^the model has count heads \(h2\), which decompile cannot read back yet/);
  });
});

const toFloat32 = (t: Tensor): Tensor => ({ shape: t.shape, data: Float32Array.from(t.data) });
function float32(w: Weights): Weights {
  const b = w.blocks.map((l) => Object.fromEntries(Object.entries(l).map(([k, t]) => [k, toFloat32(t)]))) as unknown as Weights["blocks"];
  return { ...w, W_E: toFloat32(w.W_E), W_pos: toFloat32(w.W_pos), W_U: toFloat32(w.W_U), b_U: toFloat32(w.b_U), blocks: b };
}

describe("decompiling weights files", () => {
  it("from a saved file's metadata, float32 tensors included, without the layout's reader lists", () => {
    for (const name of ["bigram-induction", "q-composition", "every-average"]) {
      const m = compile(loadProgram(name));
      // Strip readBy: the decompiler must not need the answer.
      const json = layoutToJson(m.layout) as { blocks: Record<string, unknown>[] };
      const layoutNoReaders = { ...json, blocks: json.blocks.map(({ readBy: _r, ...b }) => b) };
      for (const weights of [m.weights, float32(m.weights)]) {
        const { bytes } = encodeWeights(weights, { tokens: m.tokens, layout: layoutNoReaders });
        const loaded = decodeWeights(bytes);
        const layout = layoutFromJson(loaded.layout, loaded.weights.config.d_model);
        const d = decompile(loaded.weights, { layout, tokens: loaded.tokens });
        expect(bare(d.text)).toBe(bare(m.program.source.text));
      }
    }
  });

  it("refuses weights that are not a compiled program, naming the entry", () => {
    const m = compile(loadProgram("induction"));
    const D = m.weights.config.d_model;
    const E = m.weights.config.d_head;
    const tamper = (layer: number, name: "W_O" | "W_Q", index: number, value: number): Weights => {
      const blocks = m.weights.blocks.map((b, l) => {
        if (l !== layer) return b;
        const data = Float64Array.from(b[name].data);
        data[index] = value;
        return { ...b, [name]: { shape: b[name].shape, data } };
      });
      return { ...m.weights, blocks };
    };
    // OV of the induction head: next:a written as 0.5·token:a.
    const ovBroken = tamper(1, "W_O", 0 * D + m.layout.space.at("next:a"), 0.5);
    expect(() => decompile(ovBroken, { layout: m.layout })).toThrow(DecompileError);
    expect(() => decompile(ovBroken, { layout: m.layout })).toThrow(/W_OV token → next is not a copy/);
    // QK of the previous-token head: a query weight on token:c (large enough not to be rounding
    // noise, which is anything below 1e-5 of the circuit's largest entry, here 2·β_off ≈ 1e5).
    const qkBroken = tamper(0, "W_Q", m.layout.space.at("token:c") * E + 0, 1000);
    expect(() => decompile(qkBroken, { layout: m.layout })).toThrow(/head L0H0: unexpected QK entry token:c/);
    // A layout that disagrees with the file's token list.
    expect(() => decompile(m.weights, { layout: m.layout, tokens: ["<bos>", "x"] })).toThrow(/token list/);
  });
});
