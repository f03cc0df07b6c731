/**
 * Programs edited as values (src/lang/edit.ts): an empty edit is the same
 * program; a rule or vocabulary edit changes exactly that and nothing else;
 * an edit that makes an ill-formed program is refused by the checker.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { editProgram, withRule } from "../../src/lang/edit.ts";
import { printProgram } from "../../src/lang/print.ts";
import { arbProgram } from "../../src/hypothesis/arbitrary.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { loadProgram } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const body = (text: string) => text.split("\n").filter((l) => !l.startsWith("#")).join("\n");

describe("editProgram", () => {
  // (To `every` is not always legal: the features it writes become distributions, which
  // a later match may not compare — the refusal is tested below.)
  it("an empty edit gives the same program; a rule edit changes every match head's rule and nothing else", () => {
    fc.assert(
      fc.property(arbProgram(), fc.constantFrom("latest", "earliest"), (g, rule) => {
        expect(body(printProgram(editProgram(g.program, {})))).toBe(body(printProgram(g.program)));
        const edited = withRule(g.program, rule);
        const before = g.program.layers.flat(), after = edited.layers.flat();
        expect(after.map((h) => h.name)).toEqual(before.map((h) => h.name));
        after.forEach((h, k) => {
          const b = before[k]!;
          if (b.select.kind === "match") expect(h.select).toEqual({ ...b.select, rule });
          else expect(h.select).toEqual(b.select);
          expect(h.copies).toEqual(b.copies);
        });
      }),
      fcParams({ seed: 4242, numRuns: 150 }),
    );
  });

  it("latest → earliest on the induction program changes its predictions where a token repeats twice", () => {
    const latest = loadProgram("induction");
    const earliest = withRule(latest, "earliest");
    // a b a c a: at the last a, latest predicts c, earliest b.
    const input = [0, 1, 0, 2, 0];
    expect(interpret(latest, input).prediction(5)).toBe(2);
    expect(interpret(earliest, input).prediction(5)).toBe(1);
  });

  it("renames the vocabulary, and refuses an edit the checker refuses", () => {
    const p = editProgram(loadProgram("induction"), { vocab: ["a", "b", "c", "d", "e", "f", "g", "z"] });
    expect(p.vocab.at(-1)).toBe("z");
    expect(() => editProgram(loadProgram("induction"), { vocab: ["a", "a"] })).toThrow(/E010: token 'a' declared twice/);
    // Making the previous-token feature a distribution breaks the induction head's comparison.
    expect(() => editProgram(loadProgram("induction"), { head: (h) => (h.name === "previous" ? { ...h, select: { kind: "match", rule: "every", strict: true, conditions: [] } } : h) })).toThrow(/E036/);
  });
});
