import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BOS_ID, modelInput } from "../../src/model/tokenIds.ts";
import { compile } from "../../src/compiler/compile.ts";
import { checkedToLayout } from "../../src/compiler/layout.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { forward } from "../../src/sim/forward.ts";
import { referenceForward } from "../../src/sim/reference.ts";
import { checkExhaustive, checkRandom, compareSequence } from "../../src/verify/check.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { arbProgram, arbProgramWithInput } from "../../src/hypothesis/arbitrary.ts";
import { loadProgram, loadSource, programNames } from "../support/programs.ts";
import { meanKeys, selectedKeys } from "../support/selection.ts";
import { fcParams } from "../support/seed.ts";

const programs = programNames();

describe("compiled example programs agree with the semantics", () => {
  for (const name of programs) {
    it(`${name}: random sequences up to the context, float64 and float32`, () => {
      const model = compile(loadProgram(name));
      for (const precision of ["float64", "float32"] as const) {
        const r = checkRandom(model, { samples: 60, seed: 7, precision });
        expect(r.first).toBeNull();
        expect(r.disagreements).toBe(0);
      }
    });
    it(`${name}: every sequence up to length 4 over 3 tokens`, () => {
      const r = checkExhaustive(compile(loadProgram(name)), { maxLength: 4, alphabet: [0, 1, 2] });
      expect(r.sequences).toBe(3 + 9 + 27 + 81);
      expect(r.first).toBeNull();
    });
  }

  it("the check can fail: earliest weights against latest semantics disagree, at the induction head", () => {
    const latest = loadProgram("induction");
    const earliest = compile(loadProgram("induction-earliest"));
    const r = checkExhaustive({ ...earliest, program: latest }, { maxLength: 5, alphabet: [0, 1] });
    expect(r.disagreements).toBeGreaterThan(0);
    expect(r.first).toMatchObject({ feature: "next", layer: 2 });
    // The counterexample really separates the two rules.
    const t = r.first!.tokens;
    const p = r.first!.position;
    expect(interpret(latest, t).prediction(p)).not.toEqual(interpret(loadProgram("induction-earliest"), t).prediction(p));
  });
});

describe("long contexts", () => {
  it("context 1024: float32 and float64 runs decode every layer on full-length random inputs", () => {
    const text = [
      "vocab 0..7",
      "context 1024",
      "layer 1",
      "  head previous: select j = i - 1; copy token[j] as prev",
      "  head back: select j = i - 3; copy token[j] as prev3",
      "layer 2",
      "  head induction: select latest j < i where prev[j] == token[i]; copy token[j] as next",
      "  head first: select earliest j <= i where token[j] == prev3[i]; copy pos[j] as at",
      "output next",
    ].join("\n");
    const model = compile(loadSource(text));
    const rand = mulberry32(3);
    const input = Array.from({ length: 1023 }, () => Math.floor(rand() * 8));
    for (const precision of ["float32", "float64"] as const) {
      expect(compareSequence(model, input, new IncrementalRun(model.weights, { precision }))).toBeNull();
    }
  });
});

describe("random programs", () => {
  it("compiled runs decode to the symbolic values at every layer and position (float64), counts included", () => {
    let counting = 0;
    fc.assert(
      fc.property(arbProgramWithInput(), ({ program, input }) => {
        if (input.length >= 2 && program.layers.flat().some((h) => h.select.kind === "match" && h.select.rule === "count")) counting++;
        expect(compareSequence(compile(program), input)).toBeNull();
      }),
      fcParams({ numRuns: 150 }),
    );
    // The generator reaches count heads often enough for this to test them (about half its programs).
    expect(counting).toBeGreaterThanOrEqual(30);
  });

  it("float32 runs decode correctly too", () => {
    fc.assert(
      fc.property(arbProgramWithInput(), ({ program, input }) => {
        const model = compile(program);
        expect(compareSequence(model, input, new IncrementalRun(model.weights, { precision: "float32" }))).toBeNull();
      }),
      fcParams({ numRuns: 60 }),
    );
  });

  it("the stated ε bound holds on every observed attention pattern", () => {
    fc.assert(
      fc.property(arbProgramWithInput(), ({ program, input }) => {
        const model = compile(program);
        const run = interpret(program, input);
        const { cache } = forward(model.weights, modelInput(input), { cache: true });
        const T = input.length + 1;
        for (const c of model.circuits) {
          const pattern = cache!.get(`blocks.${c.block}.attn.hook_pattern`)!.data;
          for (let i = 0; i < T; i++) {
            // A count's .mean head (see scales.ts) is uniform over BOS and the matches, like `every`.
            const keys = c.head.name.endsWith(".mean") ? meanKeys(run, c.head, i) : selectedKeys(run, c.head, i);
            const row = (c.index * T + i) * T;
            const mass = keys.reduce((s, j) => s + pattern[row + j]!, 0);
            expect(mass).toBeGreaterThanOrEqual(1 - model.scales.epsilon);
            if (keys.length > 1) {
              // `every`: each selected key within e^η of uniform.
              for (const j of keys) expect(Math.abs(Math.log(pattern[row + j]! * keys.length))).toBeLessThanOrEqual(model.scales.eta + 1e-6);
            }
          }
        }
      }),
      fcParams({ numRuns: 100 }),
    );
  });

  it("the typed-array and mathjs paths agree to 1e-9 on compiled weights", () => {
    fc.assert(
      fc.property(arbProgramWithInput(), ({ program, input }) => {
        const model = compile(program);
        const ids = modelInput(input.slice(0, 6));
        const fast = forward(model.weights, ids).logits;
        const ref = referenceForward(model.weights, ids).logits;
        for (let k = 0; k < fast.length; k++) expect(Math.abs(fast[k]! - ref[k]!)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(ref[k]!)));
      }),
      fcParams({ numRuns: 25 }),
    );
  });

  it("the layout is a partition of d_model into uniquely named directions", () => {
    fc.assert(
      fc.property(arbProgram(), ({ program }) => {
        const layout = checkedToLayout(program);
        let offset = 0;
        for (const b of layout.blocks) {
          expect(b.offset).toBe(offset);
          expect(b.labels.length).toBe(b.size);
          offset += b.size;
        }
        expect(offset).toBe(layout.dModel);
        expect(new Set(layout.blocks.flatMap((b) => b.labels)).size).toBe(layout.dModel);
        for (const f of program.features.values()) if (f.layer > 0) expect(layout.blocks.some((b) => b.name === f.name)).toBe(true);
      }),
      fcParams({ numRuns: 100 }),
    );
  });
});
