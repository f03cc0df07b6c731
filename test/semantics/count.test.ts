/**
 * `count` heads in the reference semantics: a count selects the key j = m, m the number of
 * candidates that match (⊥ when none). Checked by hand, against the naive O(n²) oracle on random
 * programs that count and then compare counts with positions and with other counts, and through
 * the interpreter's undo log (pop restores what push changed).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { load } from "../../src/lang/check.ts";
import { printProgram } from "../../src/lang/print.ts";
import { interpret, SymbolicRun } from "../../src/semantics/interpret.ts";
import { arbCountProgram, COUNTS } from "../support/countPrograms.ts";
import { naiveRun } from "../support/naive.ts";
import { canonical } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";


describe("count heads", () => {
  it("by hand: the number of matches, as a position; the token at that position; ⊥ for none", () => {
    const p = load({ path: "counts", text: COUNTS });
    // a b a a c a b: positions 1 … 7
    const run = interpret(p, [0, 1, 0, 0, 2, 0, 1]);
    const at = (f: string) => Array.from({ length: 8 }, (_, q) => run.value(f, q));
    expect(at("n")).toEqual([null, 1, 2, 3, 4, 5, 6, 7]);
    // occurrences of the current token so far: a b a a c a b → 1 1 2 3 1 4 2
    expect(at("k")).toEqual([null, 1, 1, 2, 3, 1, 4, 2]);
    // the token at position k: a a b a a a b
    expect(at("kth")).toEqual([null, 0, 0, 1, 0, 0, 0, 1]);
    // earlier (j < i) positions with the same (previous, current) pair: only (a, b) at 7 repeats (at 2)
    expect(at("r")).toEqual([null, null, null, null, null, null, null, 1]);
  });

  it("prints and loads back to the same program", () => {
    const p = load({ path: "counts", text: COUNTS });
    const q = load({ path: "printed", text: printProgram(p) });
    expect(canonical(q)).toEqual(canonical(p));
    expect(printProgram(p)).toContain("select count j < i where prev[j] == prev[i] and token[j] == token[i]; copy pos[j] as r");
  });

  it("agrees with the naive oracle on random counting programs and inputs, and undoes exactly", () => {
    fc.assert(
      fc.property(arbCountProgram, fc.array(fc.nat(2), { minLength: 1, maxLength: 30 }), fc.nat(10), ({ program, source }, raw, back) => {
        const V = program.vocab.length;
        const input = raw.map((t) => t % V);
        const run = interpret(program, input);
        const naive = naiveRun(program, input);
        for (const f of program.features.keys()) {
          for (let q = 0; q <= input.length; q++) expect(run.value(f, q), `${source}\n${f} at ${q} of [${input}]`).toEqual(naive.get(f)![q]);
        }
        // Pop some positions, push others: the same values as a fresh run of the new input.
        const keep = Math.max(0, input.length - back);
        for (let s = input.length; s > keep; s--) run.pop();
        const tail = input.slice(keep).map((t) => (t + 1) % V);
        for (const t of tail) run.push(t);
        const fresh = interpret(program, [...input.slice(0, keep), ...tail]);
        for (const f of program.features.keys()) {
          for (let q = 0; q <= input.length; q++) expect(run.value(f, q), `${source}\n${f} at ${q} after undo`).toEqual(fresh.value(f, q));
        }
      }),
      fcParams({ numRuns: 120, seed: 3801 }),
    );
  });

  it("a count is not finite-state: the run's index holds numbers that grow with the input", () => {
    const p = load({ path: "counts", text: COUNTS });
    const run = new SymbolicRun({ ...p, context: 4002 });
    for (let t = 0; t < 4000; t++) run.push(0);
    expect(run.value("n", 4000)).toBe(4000);
    expect(run.value("k", 4000)).toBe(4000);
  });
});
