/** The compile / check / generate / layout commands end to end, as separate processes. */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadWeights } from "../../src/model/weightsFile.ts";
import { cli } from "../support/spawn.ts";

const dir = mkdtempSync(join(tmpdir(), "circuits-pipeline-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("circuits pipeline commands", () => {
  it("check --exhaustive --max-length 6 covers all 299,592 sequences with no disagreement", async () => {
    const o = await cli("check", "programs/induction.circ", "--exhaustive", "--max-length", "6", "--json");
    expect(o.code).toBe(0);
    expect(JSON.parse(o.stdout)).toMatchObject({ sequences: 299592, disagreements: 0, first: null, mode: "exhaustive" });
  });

  it("generate finds the cycle and it matches the successor-table prediction", async () => {
    const o = await cli("generate", "programs/induction.circ", "--prompt", "a b c a", "--steps", "20", "--json");
    expect(o.code).toBe(0);
    const r = JSON.parse(o.stdout);
    expect(r.tokens.join(" ")).toBe("b c a b c a b c a b c a b c a b c a b c");
    expect(r.symbolic).toEqual(r.tokens);
    expect(r).toMatchObject({ agree: true, cycle: { prePeriod: 0, period: 3 }, predicted: { prePeriod: 0, period: 3 }, predictionMatches: true });
  });

  it("compile writes loadable weights and a sidecar; a bad destination leaves nothing behind", async () => {
    const out = join(dir, "ind.safetensors");
    const o = await cli("compile", "programs/induction.circ", "-o", out, "--json");
    expect(o.code).toBe(0);
    expect(JSON.parse(o.stdout).config).toMatchObject({ n_layers: 2, n_heads: 1, attn_only: true });
    const loaded = loadWeights(out);
    expect(loaded.tokens).toEqual(["<bos>", "a", "b", "c", "d", "e", "f", "g", "h"]);
    expect(existsSync(join(dir, "ind.json"))).toBe(true);

    const bad = await cli("compile", "programs/induction.circ", "-o", join(dir, "missing", "x.safetensors"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("nothing was written");
    expect(bad.stderr).not.toContain("    at ");
    expect(readdirSync(dir).sort()).toEqual(["ind.json", "ind.safetensors"]);
  });

  it("run --attention --trace shows where each compiled head attends and every decoded feature", async () => {
    const o = await cli("run", "programs/induction.circ", "-i", "a b c d a b c a", "--attention", "--trace", "--json");
    const r = JSON.parse(o.stdout);
    expect(r.attention.previous.map((a: { key: number }) => a.key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(r.attention.induction.map((a: { key: number }) => a.key)).toEqual([0, 0, 0, 0, 2, 3, 4, 6]);
    for (const a of r.attention.induction) expect(a.weight).toBeGreaterThan(0.999);
    expect(r.compiledTrace).toEqual(r.trace);
  });

  it("layout --json partitions d_model into named blocks", async () => {
    const o = await cli("layout", "programs/induction.circ", "--json");
    const layout = JSON.parse(o.stdout);
    expect(layout.blocks.map((b: { name: string }) => b.name)).toEqual(["one", "bos", "token", "position", "pos", "prev", "next"]);
    expect(layout.blocks.reduce((s: number, b: { size: number }) => s + b.size, 0)).toBe(layout.d_model);
  });
});
