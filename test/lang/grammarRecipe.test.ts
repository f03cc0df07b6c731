/**
 * The grammar built from the recipe the package build writes is the grammar
 * built from grammar/circuits.ohm: the same parse trees on every example and
 * random program, the same failure messages on every prefix of every example
 * (each prefix a different rightmost failure); and a recipe made from other
 * text, or one that does not parse, is ignored rather than trusted.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type * as ohm from "ohm-js";
import { afterAll, describe, expect, it } from "vitest";
import { arbProgram } from "../../src/hypothesis/arbitrary.ts";
import { buildGrammar, grammarRecipe } from "../../src/lang/grammarRecipe.ts";
import { programNames, programSource, REPO_ROOT } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const source = readFileSync(`${REPO_ROOT}/grammar/circuits.ohm`, "utf8");
const dir = mkdtempSync(join(tmpdir(), "recipe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const recipePath = join(dir, "circuits.recipe.json");
writeFileSync(recipePath, JSON.stringify(grammarRecipe(source)));

const fromText = buildGrammar(source, join(dir, "absent.json"));
const fromRecipe = buildGrammar(source, recipePath);

/** A grammar's parse of `text` as a plain tree: rule names and terminals, or the failure message. */
function tree(g: ohm.Grammar): (text: string) => unknown {
  const sem = g.createSemantics().addOperation<unknown>("tree", {
    _nonterminal(...children) {
      return [this.ctorName, ...children.map((c) => c.tree())];
    },
    _terminal() {
      return this.sourceString;
    },
    _iter(...children) {
      return children.map((c) => c.tree());
    },
  });
  return (text) => {
    const m = g.match(text);
    return m.failed() ? { failure: m.message, at: m.getRightmostFailurePosition() } : sem(m).tree();
  };
}
const treeText = tree(fromText);
const treeRecipe = tree(fromRecipe);

describe("grammar recipe", () => {
  it("is a different build path (the recipe is really read)", () => {
    expect(fromRecipe).not.toBe(fromText);
    expect(treeRecipe("vocab a\noutput x\n")).toEqual(treeText("vocab a\noutput x\n"));
  });

  it("parses every example program, and every prefix of it, as the grammar file does", () => {
    for (const name of programNames()) {
      const { text } = programSource(name);
      expect(treeRecipe(text), name).toEqual(treeText(text));
      expect((treeText(text) as { failure?: string }).failure, name).toBeUndefined();
      for (let n = 0; n < text.length; n += 53) expect(treeRecipe(text.slice(0, n)), `${name}[0,${n})`).toEqual(treeText(text.slice(0, n)));
    }
  });

  it("parses random programs as the grammar file does", () => {
    fc.assert(
      fc.property(arbProgram(), ({ source: text }) => {
        expect(treeRecipe(text)).toEqual(treeText(text));
      }),
      fcParams({ numRuns: 30 }),
    );
  });

  it("ignores a recipe made from other text, and one that is not JSON", () => {
    const stale = join(dir, "stale.json");
    writeFileSync(stale, JSON.stringify(grammarRecipe(source.replace("Program = Header* Layer* Output?", "Program = Header* Layer*"))));
    const probe = "vocab a\nlayer 1\n  head h: select j = i - 1; copy token[j] as p\noutput p\n";
    expect(tree(buildGrammar(source, stale))(probe)).toEqual(treeText(probe));
    expect(tree(buildGrammar(source.replace("Program = Header* Layer* Output?", "Program = Header* Layer*"), stale))(probe)).toHaveProperty("failure");
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{ not json");
    expect(tree(buildGrammar(source, broken))(probe)).toEqual(treeText(probe));
  });
});
