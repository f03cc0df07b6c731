/**
 * The incremental interpreter on random programs: push/pop against fresh runs
 * (the exhaustive checker's prefix walk), the BOS rule, the context bound, and
 * agreement with the naive O(n²) reading of the language's rules (test/support/naive.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Program } from "../../src/lang/program.ts";
import { interpret, SymbolicRun } from "../../src/semantics/interpret.ts";
import { formatValue, valueEquals } from "../../src/semantics/values.ts";
import { arbInput, arbProgram, arbProgramWithInput } from "../../src/hypothesis/arbitrary.ts";
import { naiveRun } from "../support/naive.ts";
import { loadProgram, programNames } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

/** The first (feature, position) where two runs differ, or null; positions 0 … length-1. */
function firstDifference(program: Program, a: SymbolicRun, b: SymbolicRun): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (const [name, f] of program.features) {
    for (let p = 0; p < a.length; p++) {
      const x = a.value(name, p);
      const y = b.value(name, p);
      if (!valueEquals(x, y)) return `${name}@${p}: ${formatValue(program, f.domain, x)} vs ${formatValue(program, f.domain, y)}`;
    }
  }
  return null;
}

describe("push/pop", () => {
  it("pushing, popping k and pushing another suffix equals a fresh run of the final sequence", () => {
    const arb = arbProgram().chain((g) =>
      fc.record({
        g: fc.constant(g),
        first: arbInput(g.program),
        popFrac: fc.double({ min: 0, max: 1, noNaN: true }),
        suffix: arbInput(g.program),
      }),
    );
    fc.assert(
      fc.property(arb, ({ g, first, popFrac, suffix }) => {
        const run = interpret(g.program, first);
        const k = Math.round(popFrac * first.length);
        for (let n = 0; n < k; n++) run.pop();
        const kept = first.slice(0, first.length - k);
        const rest = suffix.slice(0, g.program.context - 1 - kept.length);
        for (const t of rest) run.push(t);
        const diff = firstDifference(g.program, run, interpret(g.program, [...kept, ...rest]));
        expect(diff, `${g.source}\nfirst ${JSON.stringify(first)}, pop ${k}, push ${JSON.stringify(rest)}`).toBeNull();
      }),
      fcParams({ numRuns: 150 }),
    );
  });

  it("a depth-first walk over every sequence up to length 4 matches fresh runs at every node", () => {
    fc.assert(
      fc.property(arbProgram(), ({ program, source }) => {
        const vocab = Math.min(program.vocab.length, 3);
        const depth = Math.min(4, program.context - 1);
        const run = new SymbolicRun(program);
        const prefix: number[] = [];
        let nodes = 0;
        const walk = () => {
          nodes++;
          const diff = firstDifference(program, run, interpret(program, prefix));
          if (diff) throw new Error(`${source}\nprefix ${JSON.stringify(prefix)}: ${diff}`);
          if (prefix.length === depth) return;
          for (let t = 0; t < vocab; t++) {
            run.push(t);
            prefix.push(t);
            walk();
            prefix.pop();
            run.pop();
          }
        };
        walk();
        expect(nodes).toBe((vocab ** (depth + 1) - 1) / (vocab - 1));
        expect(run.length).toBe(1);
      }),
      fcParams({ numRuns: 25 }),
    );
  });

  it("pop on a run holding only BOS throws", () => {
    const run = new SymbolicRun(loadProgram("induction"));
    expect(() => run.pop()).toThrow(/nothing to pop/);
    run.push(0);
    run.pop();
    expect(() => run.pop()).toThrow();
  });
});

describe("the BOS rule", () => {
  it("every feature at position 0 is ⊥, built-ins included", () => {
    fc.assert(
      fc.property(arbProgramWithInput(), ({ program, input }) => {
        const run = interpret(program, input);
        for (const name of program.features.keys()) expect(run.value(name, 0), name).toBeNull();
        expect(run.token(0)).toBeNull();
      }),
      fcParams({ numRuns: 100 }),
    );
  });

  it("holds in every example program on a full-context input", () => {
    for (const name of programNames()) {
      const program = loadProgram(name);
      const input = Array.from({ length: program.context - 1 }, (_, k) => (k * 7) % 3);
      const run = interpret(program, input);
      for (const f of program.features.keys()) expect(run.value(f, 0), `${name}: ${f}`).toBeNull();
    }
  });
});

describe("the context bound", () => {
  it("interpret runs an input of context-1 tokens and throws on one more", () => {
    for (const name of programNames()) {
      const program = loadProgram(name);
      const full = Array.from({ length: program.context - 1 }, (_, k) => k % program.vocab.length);
      const run = interpret(program, full);
      expect(run.length).toBe(program.context);
      expect(() => run.push(0)).toThrow(/context/);
      expect(() => interpret(program, [...full, 0])).toThrow(/context/);
    }
  });

  it("push rejects token indices outside the vocabulary", () => {
    const program = loadProgram("bigram-induction");
    const run = new SymbolicRun(program);
    expect(() => run.push(program.vocab.length)).toThrow(/vocabulary/);
    expect(() => run.push(-1)).toThrow(/vocabulary/);
    expect(() => run.push(0.5)).toThrow(/vocabulary/);
    expect(run.length).toBe(1);
  });
});

describe("random programs against the naive semantics", () => {
  it("every feature at every position equals the naive O(n²) reading of the language's rules", () => {
    fc.assert(
      fc.property(arbProgramWithInput(), ({ program, source, input }) => {
        const run = interpret(program, input);
        const naive = naiveRun(program, input);
        for (const [name, f] of program.features) {
          for (let p = 0; p <= input.length; p++) {
            const x = run.value(name, p);
            const y = naive.get(name)![p]!;
            if (!valueEquals(x, y)) {
              expect.fail(
                `${source}\ninput ${JSON.stringify(input)}: ${name}@${p} is ${formatValue(program, f.domain, x)}, naive ${formatValue(program, f.domain, y)}`,
              );
            }
          }
        }
      }),
      fcParams({ numRuns: 300 }),
    );
  });

  it("distribution features hold distributions, the others plain values", () => {
    fc.assert(
      fc.property(arbProgramWithInput(), ({ program, input }) => {
        const run = interpret(program, input);
        for (const [name, f] of program.features) {
          for (let p = 1; p <= input.length; p++) {
            const v = run.value(name, p);
            if (v === null) continue;
            expect(typeof v === "object", `${name}@${p}`).toBe(f.distribution);
          }
        }
      }),
      fcParams({ numRuns: 100 }),
    );
  });
});
