/**
 * The one printer: load(print(p)) is p — the same checked structure (heads,
 * selections, conjuncts in order, copies, features, composition, output) —
 * for random programs from the project's generator and for every example.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { load } from "../../src/lang/check.ts";
import { printProgram, printVocab } from "../../src/lang/print.ts";
import type { Program } from "../../src/lang/program.ts";
import { arbProgram } from "../../src/hypothesis/arbitrary.ts";
import { canonical, loadProgram, programNames } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const reload = (p: Program) => load({ path: "<printed>", text: printProgram(p) });

describe("printProgram", () => {
  it("load(print(p)) ≡ p on random programs", () => {
    fc.assert(
      fc.property(arbProgram(), (g) => {
        expect(canonical(reload(g.program))).toEqual(canonical(g.program));
      }),
      fcParams({ seed: 9031, numRuns: 300 }),
    );
  });

  it("load(print(p)) ≡ p on every example program, and printing is a fixed point", () => {
    for (const name of programNames()) {
      const p = loadProgram(name);
      const q = reload(p);
      expect(canonical(q)).toEqual(canonical(p));
      expect(printProgram(q)).toBe(printProgram(p));
    }
  });

  it("numeric vocabularies print as ranges, others as names; header lines are comments", () => {
    expect(printVocab(["0", "1", "2"])).toBe("0..2");
    expect(printVocab(["3", "4"])).toBe("3..4");
    expect(printVocab(["1", "3"])).toBe("1 3");
    expect(printVocab(["01", "02"])).toBe("01 02");
    expect(printVocab(["a", "b"])).toBe("a b");
    const p = load({ path: "x", text: "vocab 0..63\ncontext 8\nlayer 1\n head h: select j = i - 1; copy token[j] as f\noutput f\n" });
    const text = printProgram(p, { header: ["recovered"] });
    expect(text.split("\n").slice(0, 2)).toEqual(["# recovered", "vocab 0..63"]);
    expect(canonical(load({ path: "y", text }))).toEqual(canonical(p));
  });
});
