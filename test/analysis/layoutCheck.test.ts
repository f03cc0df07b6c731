/**
 * Metadata checked against the tensors (issue 8, defect 7): a token list of
 * the wrong length, a tampered layout (block names, labels, writer, layer,
 * domain, kind) or embeddings that are not the layout's are refused with one
 * line by analyze and decompile, instead of naming heads wrongly or printing
 * a different program. Compiled layouts always pass (no false refusals).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { checkLayoutAgainst, checkLayoutSelf } from "../../src/analysis/layoutCheck.ts";
import { layoutFromJson } from "../../src/analysis/named.ts";
import { analyzeCommand } from "../../src/cli/analyzeCmd.ts";
import { decompileCommand } from "../../src/cli/decompileCmd.ts";
import { compile } from "../../src/compiler/compile.ts";
import { layoutToJson } from "../../src/compiler/layout.ts";
import { arbProgram } from "../../src/hypothesis/arbitrary.ts";
import { encodeSafetensors } from "../../src/model/safetensors.ts";
import { stateDict, type Tensor } from "../../src/model/weights.ts";
import { encodeWeights } from "../../src/model/weightsFile.ts";
import { runInProcess } from "../support/inProcess.ts";
import { loadProgram, programNames } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const dir = mkdtempSync(join(tmpdir(), "circuits-layout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface JsonBlock {
  name: string;
  kind: string;
  offset: number;
  size: number;
  labels: string[];
  domain: string | null;
  layer: number;
  writtenBy: string | null;
}
interface Tamper {
  readonly layout?: (blocks: JsonBlock[]) => boolean; // false: not applicable to this program
  readonly tokens?: (tokens: string[]) => string[];
  readonly tensors?: (sd: [string, Tensor][]) => void;
}

const features = (bs: JsonBlock[]) => bs.filter((b) => b.kind === "feature");
const setEntry = (sd: [string, Tensor][], name: string, flat: number, value: number) => {
  const e = sd.find(([n]) => n === name)!;
  const data = Float64Array.from(e[1].data);
  data[flat] = value;
  e[1] = { shape: e[1].shape, data };
};

const TAMPERS: Record<string, Tamper> = {
  "tokens one short": { tokens: (t) => t.slice(0, -1) },
  "tokens one long": { tokens: (t) => [...t, "zz"] },
  "tokens reordered": { tokens: (t) => [t[0]!, ...t.slice(1).reverse()] },
  "a feature moved to another layer": { layout: (bs) => { const f = features(bs)[0]; if (!f) return false; f.layer += 1; return true; } },
  "a feature moved to layer 0": { layout: (bs) => { const f = features(bs)[0]; if (!f) return false; f.layer = 0; return true; } },
  "a feature with no writer": { layout: (bs) => { const f = features(bs)[0]; if (!f) return false; f.writtenBy = null; return true; } },
  "a feature's domain flipped": { layout: (bs) => { const f = features(bs)[0]; if (!f) return false; f.domain = f.domain === "token" ? "pos" : "token"; return true; } },
  "a feature's domain null": { layout: (bs) => { const f = features(bs)[0]; if (!f) return false; f.domain = null; return true; } },
  "a feature's kind set to token": { layout: (bs) => { const f = features(bs)[0]; if (!f) return false; f.kind = "token"; return true; } },
  "an unknown kind": { layout: (bs) => { bs[0]!.kind = "magic"; return true; } },
  "two blocks with one name": { layout: (bs) => { const f = features(bs); if (f.length < 2) return false; f[1]!.name = f[0]!.name; return true; } },
  "a feature's labels reversed": {
    layout: (bs) => { const f = features(bs).find((x) => x.size > 1); if (!f) return false; f.labels.reverse(); return true; },
  },
  "a label duplicated": { layout: (bs) => { const f = features(bs).find((x) => x.size > 1); if (!f) return false; f.labels[1] = f.labels[0]!; return true; } },
  "a label of another block's name": { layout: (bs) => { const f = features(bs)[0]; if (!f) return false; f.labels[0] = `zz:${f.labels[0]!.split(":")[1]}`; return true; } },
  "the token block's labels reversed": { layout: (bs) => { const t = bs.find((b) => b.kind === "token")!; if (t.size < 2) return false; t.labels.reverse(); return true; } },
  "the embedding kinds swapped": { layout: (bs) => { bs[0]!.kind = "bos"; bs[1]!.kind = "one"; return true; } },
  "embed.W_E rows swapped": {
    tensors: (sd) => {
      const D = sd.find(([n]) => n === "embed.W_E")![1].shape[1]!;
      const row1 = sd.find(([n]) => n === "embed.W_E")![1].data.slice(D, 2 * D);
      const row2 = sd.find(([n]) => n === "embed.W_E")![1].data.slice(2 * D, 3 * D);
      row1.forEach((x, d) => setEntry(sd, "embed.W_E", 2 * D + d, x));
      row2.forEach((x, d) => setEntry(sd, "embed.W_E", D + d, x));
    },
  },
  "unembed.b_U nonzero on a token": { tensors: (sd) => setEntry(sd, "unembed.b_U", 1, 0.5) },
  "a bias b_V nonzero": { tensors: (sd) => setEntry(sd, "blocks.0.attn.b_V", 0, 0.25) },
  "W_pos scaled": { tensors: (sd) => setEntry(sd, "pos_embed.W_pos", 0, 2) },
};

const PROGRAMS = ["induction", "bigram-induction", "q-composition", "v-composition", "previous-token"];

describe("tampered metadata is refused by analyze and decompile, in one line", () => {
  for (const program of PROGRAMS) {
    it(program, async () => {
      const m = compile(loadProgram(program));
      let applied = 0;
      for (const [what, t] of Object.entries(TAMPERS)) {
        const layout = structuredClone(layoutToJson(m.layout)) as { blocks: JsonBlock[] };
        if (t.layout && !t.layout(layout.blocks)) continue;
        const tokens = t.tokens ? t.tokens([...m.tokens]) : [...m.tokens];
        const sd = stateDict(m.weights);
        t.tensors?.(sd);
        const metadata = { format: "induction-circuits/1", config: JSON.stringify(m.weights.config), tokens: JSON.stringify(tokens), layout: JSON.stringify(layout) };
        const path = join(dir, `${program}-${applied++}.safetensors`);
        writeFileSync(path, encodeSafetensors(sd, metadata));
        const cmds = t.tensors ? [decompileCommand] : [decompileCommand, analyzeCommand]; // analyze reads weights of any kind
        for (const cmd of cmds) {
          const r = await runInProcess(cmd, path);
          expect(r.code, `${program}: ${what}: ${cmd.name} ${r.stdout.slice(0, 200)}`).toBe(2);
          expect(r.error).not.toContain("\n");
          expect(r.stdout).toBe("");
        }
      }
      expect(applied).toBeGreaterThan(12);
    });
  }

  it("the untampered files still decompile and analyze", async () => {
    for (const program of PROGRAMS) {
      const m = compile(loadProgram(program));
      const path = join(dir, `${program}-clean.safetensors`);
      writeFileSync(path, encodeWeights(m.weights, { tokens: m.tokens, layout: layoutToJson(m.layout) }).bytes);
      expect((await runInProcess(decompileCommand, path)).code).toBe(0);
      expect((await runInProcess(analyzeCommand, path)).code).toBe(0);
    }
  });
});

describe("what a layout may change: names only", () => {
  it("swapping two heads' names in the layout decompiles to the same program with the names swapped", async () => {
    const m = compile(loadProgram("induction"));
    const save = (layout: unknown, name: string) => {
      const path = join(dir, name);
      writeFileSync(path, encodeWeights(m.weights, { tokens: m.tokens, layout }).bytes);
      return path;
    };
    const layout = structuredClone(layoutToJson(m.layout)) as { blocks: JsonBlock[] };
    const [prev, next] = features(layout.blocks);
    [prev!.writtenBy, next!.writtenBy] = [next!.writtenBy, prev!.writtenBy];
    const original = (await runInProcess(decompileCommand, save(layoutToJson(m.layout), "names-0.safetensors"))).stdout;
    const renamed = await runInProcess(decompileCommand, save(layout, "names-1.safetensors"));
    expect(renamed.code).toBe(0);
    const swap = (t: string) => t.replace(/head (previous|induction)/g, (_, n: string) => `head ${n === "previous" ? "induction" : "previous"}`);
    expect(renamed.stdout).toBe(swap(original));
    expect(renamed.stdout).not.toBe(original);
  });
});

describe("compiled layouts pass every check", () => {
  it("on the example programs and on random programs", () => {
    const check = (m: ReturnType<typeof compile>) => {
      const layout = layoutFromJson(layoutToJson(m.layout), m.weights.config.d_model);
      checkLayoutSelf(layout);
      checkLayoutAgainst(layout, m.weights, m.tokens);
    };
    for (const name of programNames()) check(compile(loadProgram(name)));
    fc.assert(fc.property(arbProgram(), ({ program }) => check(compile(program))), fcParams({ numRuns: 60, seed: 8807 }));
  });
});
