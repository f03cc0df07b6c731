/**
 * The project's conventions each live in one module, and the code uses that
 * module instead of restating the rule: token ids (src/model/tokenIds.ts);
 * and program layers (1-based, `layer`) are never confused with TransformerLens
 * blocks (0-based, `block`) — grammar/README.md states both rules.
 */
import fc from "fast-check";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeModel } from "../../src/analysis/analyze.ts";
import { compile } from "../../src/compiler/compile.ts";
import { BOS_ID, modelInput, modelVocabSize, tokenId, vocabIndex, vocabIndices, vocabSizeOf } from "../../src/model/tokenIds.ts";
import { loadProgram, REPO_ROOT } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

/** Every .ts file under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []);
}

const SRC = tsFiles(join(REPO_ROOT, "src")).map((f) => ({ path: f.slice(REPO_ROOT.length + 1), text: readFileSync(f, "utf8") }));

describe("token ids: BOS = 0, vocabulary index v = id v + 1, in one module", () => {
  it("maps indices to ids and back, BOS first", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 4095 }), { maxLength: 40 }), (tokens) => {
        const ids = modelInput(tokens);
        expect(ids[0]).toBe(BOS_ID);
        expect(ids.length).toBe(tokens.length + 1);
        expect(vocabIndices(ids.slice(1))).toEqual(tokens);
        for (const v of tokens) expect(vocabIndex(tokenId(v))).toBe(v);
        expect(ids.slice(1).every((id) => id !== BOS_ID)).toBe(true);
        expect(vocabSizeOf(modelVocabSize(tokens.length))).toBe(tokens.length);
      }),
      fcParams({ numRuns: 100 }),
    );
  });

  it("is the rule compiled weights follow: id tokenId(v) embeds token v, BOS embeds `bos`", () => {
    const model = compile(loadProgram("induction"));
    const { W_E } = model.weights;
    const D = model.layout.dModel;
    expect(model.weights.config.d_vocab).toBe(modelVocabSize(model.program.vocab.length));
    expect(W_E.data[BOS_ID * D + model.layout.space.at("bos")]).toBe(1);
    model.program.vocab.forEach((name, v) => expect(W_E.data[tokenId(v) * D + model.layout.space.at(`token:${name}`)]).toBe(1));
  });

  it("is stated nowhere else in src/", () => {
    const restated = SRC.filter((f) => f.path !== join("src", "model", "tokenIds.ts")).flatMap((f) =>
      f.text.split("\n").flatMap((line, k) =>
        /\bBOS_ID\s*=|\.map\(\(?(t|id|tok|v)\)? => \1 [+-] 1\)|\[0, \.\.\./.test(line) ? [`${f.path}:${k + 1}: ${line.trim()}`] : []));
    expect(restated).toEqual([]);
  });
});

describe("numbering: `layer` is the program's (1-based), `block` is TransformerLens's (0-based)", () => {
  it("every compiled head sits in block layer − 1, and analyses name it by that block", () => {
    let named = 0;
    for (const name of ["induction", "v-composition", "bigram-induction"]) {
      const model = compile(loadProgram(name));
      for (const c of model.circuits) expect(c.block, `${name}: ${c.head.name}`).toBe(c.head.layer - 1);
      const a = analyzeModel(model.weights, { layout: model.layout, program: model.program, skipDetection: "not needed here" });
      for (const h of [...a.composition.heads, ...a.copying]) expect(h.id).toBe(`L${h.block}H${h.head}`);
      const byName = new Map(model.program.layers.flat().map((h) => [h.name, h.layer]));
      for (const h of a.composition.heads.filter((x) => byName.has(x.name))) {
        expect(h.block, `${name}: ${h.name}`).toBe(byName.get(h.name)! - 1);
        named++;
      }
    }
    expect(named).toBeGreaterThanOrEqual(6);
  });
});
