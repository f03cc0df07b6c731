/**
 * Models from elsewhere: a TransformerLens-style state dict with LayerNorm
 * (and MLP blocks) is folded so that the folded attention-only weights, run
 * with only the normalisation's centring and division left (LNPre), give the
 * same attention and logits as the original LayerNorm model — checked against
 * a textbook forward written here. RMSNorm folds without centring. MLP blocks
 * are named as ignored; the strict loader (what `run` would use) refuses both.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { analyzeCommand } from "../../src/cli/analyzeCmd.ts";
import { decompileCommand } from "../../src/cli/decompileCmd.ts";
import { decodeForeign } from "../../src/model/foreign.ts";
import { encodeSafetensors } from "../../src/model/safetensors.ts";
import type { Tensor, Weights } from "../../src/model/weights.ts";
import { decodeWeights } from "../../src/model/weightsFile.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { runInProcess } from "../support/inProcess.ts";

const dir = mkdtempSync(join(tmpdir(), "circuits-foreign-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const D = 8, H = 2, E = 3, L = 2, V = 7, C = 6, M = 5;
const EPS = 1e-5;

/** A random TransformerLens state dict: attention with biases, optional LN/RMS and MLP parameters. */
function stateDict(seed: number, opts: { norm: "LN" | "RMS" | null; mlp: boolean }): [string, Tensor][] {
  const r = mulberry32(seed);
  const t = (...shape: number[]): Tensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * 2) });
  const scaleVec = (): Tensor => ({ shape: [D], data: Float64Array.from({ length: D }, () => 0.5 + r()) });
  const sd: [string, Tensor][] = [["embed.W_E", t(V, D)], ["pos_embed.W_pos", t(C, D)]];
  for (let l = 0; l < L; l++) {
    if (opts.norm) sd.push([`blocks.${l}.ln1.w`, scaleVec()]);
    if (opts.norm === "LN") sd.push([`blocks.${l}.ln1.b`, t(D)]);
    for (const k of ["W_Q", "W_K", "W_V"]) sd.push([`blocks.${l}.attn.${k}`, t(H, D, E)]);
    sd.push([`blocks.${l}.attn.W_O`, t(H, E, D)]);
    for (const k of ["b_Q", "b_K", "b_V"]) sd.push([`blocks.${l}.attn.${k}`, t(H, E)]);
    sd.push([`blocks.${l}.attn.b_O`, t(D)]);
    if (opts.mlp) {
      if (opts.norm) sd.push([`blocks.${l}.ln2.w`, scaleVec()]);
      if (opts.norm === "LN") sd.push([`blocks.${l}.ln2.b`, t(D)]);
      sd.push([`blocks.${l}.mlp.W_in`, t(D, M)], [`blocks.${l}.mlp.b_in`, t(M)], [`blocks.${l}.mlp.W_out`, t(M, D)], [`blocks.${l}.mlp.b_out`, t(D)]);
    }
  }
  if (opts.norm) sd.push(["ln_final.w", scaleVec()]);
  if (opts.norm === "LN") sd.push(["ln_final.b", t(D)]);
  sd.push(["unembed.W_U", t(D, V)], ["unembed.b_U", t(V)]);
  return sd;
}

type Norm = (x: number[], w?: Float64Array, b?: Float64Array) => number[];
const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
const layerNorm: Norm = (x, w, b) => {
  const m = mean(x);
  const c = x.map((v) => v - m);
  const s = Math.sqrt(mean(c.map((v) => v * v)) + EPS);
  return c.map((v, d) => (v / s) * (w ? w[d]! : 1) + (b ? b[d]! : 0));
};
const rmsNorm: Norm = (x, w) => {
  const s = Math.sqrt(mean(x.map((v) => v * v)) + EPS);
  return x.map((v, d) => (v / s) * (w ? w[d]! : 1));
};

/** Attention-and-normalisation forward (MLPs left out), textbook loops: logits [T][V]. */
function forward(get: (n: string) => Tensor | undefined, tokens: number[], norm: Norm | null): number[][] {
  const T = tokens.length;
  const at = (n: string, ...ix: number[]) => {
    const t = get(n)!;
    let i = 0;
    ix.forEach((x, k) => (i = i * t.shape[k]! + x));
    return t.data[i]!;
  };
  const vec = (n: string) => get(n)?.data as Float64Array | undefined;
  const resid = tokens.map((tok, p) => Array.from({ length: D }, (_, d) => at("embed.W_E", tok, d) + at("pos_embed.W_pos", p, d)));
  for (let l = 0; l < L; l++) {
    const x = resid.map((row) => (norm ? norm(row, vec(`blocks.${l}.ln1.w`), vec(`blocks.${l}.ln1.b`)) : row));
    const out = resid.map(() => Array.from({ length: D }, (_, d) => at(`blocks.${l}.attn.b_O`, d)));
    for (let h = 0; h < H; h++) {
      const proj = (k: string) => x.map((row) => Array.from({ length: E }, (_, e) => row.reduce((s, v, d) => s + v * at(`blocks.${l}.attn.W_${k}`, h, d, e), at(`blocks.${l}.attn.b_${k}`, h, e))));
      const q = proj("Q"), k = proj("K"), v = proj("V");
      for (let i = 0; i < T; i++) {
        const s = Array.from({ length: i + 1 }, (_, j) => q[i]!.reduce((a, qv, e) => a + qv * k[j]![e]!, 0) / Math.sqrt(E));
        const mx = Math.max(...s);
        const z = s.map((x) => Math.exp(x - mx));
        const sum = z.reduce((a, b) => a + b, 0);
        for (let e = 0; e < E; e++) {
          const ze = z.reduce((a, w, j) => a + (w / sum) * v[j]![e]!, 0);
          for (let d = 0; d < D; d++) out[i]![d]! += ze * at(`blocks.${l}.attn.W_O`, h, e, d);
        }
      }
    }
    resid.forEach((row, i) => row.forEach((_, d) => (row[d]! += out[i]![d]!)));
  }
  return resid.map((row) => {
    const x = norm ? norm(row, vec("ln_final.w"), vec("ln_final.b")) : row;
    return Array.from({ length: V }, (_, v) => x.reduce((s, xv, d) => s + xv * at("unembed.W_U", d, v), at("unembed.b_U", v)));
  });
}

/** The folded Weights as a state-dict getter. */
function getter(w: Weights): (n: string) => Tensor | undefined {
  const m = new Map<string, Tensor>([["embed.W_E", w.W_E], ["pos_embed.W_pos", w.W_pos], ["unembed.W_U", w.W_U], ["unembed.b_U", w.b_U]]);
  w.blocks.forEach((b, l) => Object.entries(b).forEach(([k, t]) => m.set(`blocks.${l}.attn.${k}`, t)));
  return (n) => m.get(n);
}

const seq = [3, 1, 4, 1, 5, 2];
const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, i) => row.map((x, v) => Math.abs(x - b[i]![v]!))));

describe("LayerNorm folded as fold_ln does", () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: folded weights + centring and division only reproduce the LayerNorm model's logits`, () => {
      const sd = stateDict(seed, { norm: "LN", mlp: false });
      const original = new Map(sd);
      const { model } = decodeForeign(encodeSafetensors(sd), "x");
      expect(model.normalization).toBe("LN");
      expect(model.attentionOnly).toBe(false);
      expect(model.folded).toEqual(["blocks.0.ln1.w", "blocks.0.ln1.b", "blocks.1.ln1.w", "blocks.1.ln1.b", "ln_final.w", "ln_final.b"]);
      const want = forward((n) => original.get(n), seq, layerNorm);
      const got = forward(getter(model.weights), seq, layerNorm /* without w, b: LNPre */);
      expect(maxDiff(want, got)).toBeLessThan(1e-9);
      // Without the fold the same forward is far off: the test can tell.
      const unfolded = forward((n) => (/ln/.test(n) ? undefined : original.get(n)), seq, layerNorm);
      expect(maxDiff(want, unfolded)).toBeGreaterThan(1e-2);
      // Writing weights and reading weights are centred over d_model.
      const rowMeans = (t: Tensor, rows: number) => Array.from({ length: rows }, (_, r) => Math.abs(mean(Array.from(t.data.subarray(r * D, (r + 1) * D)))));
      expect(Math.max(...rowMeans(model.weights.W_E, V), ...rowMeans(model.weights.W_pos, C), ...rowMeans(model.weights.blocks[1]!.W_O, H * E))).toBeLessThan(1e-12);
      const colMean = (t: Tensor, h: number, e: number, width: number) => mean(Array.from({ length: D }, (_, d) => t.data[(h * D + d) * width + e]!));
      expect(Math.abs(colMean(model.weights.blocks[0]!.W_Q, 1, 2, E))).toBeLessThan(1e-12);
      expect(Math.abs(colMean(model.weights.W_U, 0, 4, V))).toBeLessThan(1e-12);
    });
  }

  it("RMSNorm (weights, no biases): folded without centring, reproduces the RMSNorm model", () => {
    const sd = stateDict(7, { norm: "RMS", mlp: false });
    const original = new Map(sd);
    const { model } = decodeForeign(encodeSafetensors(sd), "x");
    expect(model.normalization).toBe("RMS");
    expect(model.notes.join(" ")).toMatch(/RMSNorm folded/);
    expect(model.notes.join(" ")).not.toMatch(/centred/);
    expect(maxDiff(forward((n) => original.get(n), seq, rmsNorm), forward(getter(model.weights), seq, rmsNorm))).toBeLessThan(1e-9);
  });

  it("an attention-only model without normalisation comes through unchanged, with no notes", () => {
    const sd = stateDict(4, { norm: null, mlp: false });
    const { model } = decodeForeign(encodeSafetensors(sd), "x");
    expect(model.attentionOnly).toBe(true);
    expect(model.notes).toEqual([]);
    expect(model.weights.W_E.data).toEqual(new Map(sd).get("embed.W_E")!.data);
  });
});

describe("MLP blocks are named as ignored", () => {
  it("the notes list every MLP and ln2 tensor and say what was folded and what remains", () => {
    const { model } = decodeForeign(encodeSafetensors(stateDict(5, { norm: "LN", mlp: true })), "x");
    expect(model.ignored).toEqual([
      "blocks.0.ln2.b", "blocks.0.ln2.w", "blocks.0.mlp.W_in", "blocks.0.mlp.W_out", "blocks.0.mlp.b_in", "blocks.0.mlp.b_out",
      "blocks.1.ln2.b", "blocks.1.ln2.w", "blocks.1.mlp.W_in", "blocks.1.mlp.W_out", "blocks.1.mlp.b_in", "blocks.1.mlp.b_out",
    ]);
    const notes = model.notes.join("\n");
    expect(notes).toMatch(/^LayerNorm folded as TransformerLens's fold_ln does/);
    expect(notes).toMatch(/writing weights centred over d_model \(W_E, W_pos, W_O, b_O\)/);
    expect(notes).toMatch(/division .* remains: .* fixed positive scale/);
    expect(notes).toMatch(/MLP blocks ignored \(blocks 0, 1, d_mlp 5\)/);
  });

  it("circuits analyze reports it all, skips detection (the simulator is attention-only), exits 0; decompile explains", async () => {
    const path = join(dir, "gpt.safetensors");
    const config = { d_model: D, n_heads: H, d_head: E, n_layers: L, n_ctx: C, d_vocab: V, d_vocab_out: V, d_mlp: M, act_fn: "gelu", normalization_type: "LN", attn_only: false, positional_embedding_type: "standard" };
    writeFileSync(path, encodeSafetensors(stateDict(6, { norm: "LN", mlp: true }), { config: JSON.stringify(config) }, { half: (n) => (n.includes("mlp") ? "BF16" : n.startsWith("embed") ? "F16" : undefined) }));
    const r = await runInProcess(analyzeCommand, path);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/note: LayerNorm folded/);
    expect(r.stdout).toMatch(/note: MLP blocks ignored/);
    expect(r.stdout).toMatch(/head detection: not run — the simulator is attention-only/);
    expect(r.stdout).toMatch(/L0H0\s+L1H0\s+\(all\)\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+/);
    const j = JSON.parse((await runInProcess(analyzeCommand, path, "--json")).stdout);
    expect(j.detection).toBeNull();
    expect(j.notes).toHaveLength(4);
    expect((await runInProcess(decompileCommand, path)).code).toBe(1);
  });
});

describe("refusals, one line each", () => {
  const bad = (edit: (sd: [string, Tensor][]) => [string, Tensor][], config?: object) =>
    encodeSafetensors(edit(stateDict(9, { norm: "LN", mlp: true })), config ? { config: JSON.stringify(config) } : {});
  const cases: [string, Uint8Array, RegExp][] = [
    ["ln1 only in block 0", bad((sd) => sd.filter(([n]) => n !== "blocks.1.ln1.w" && n !== "blocks.1.ln1.b")), /LayerNorm parameters are incomplete: blocks\.0\.ln1 has \.w\/\.b but blocks\.1\.ln1 has no \.w\/no \.b/],
    ["an LN vector of the wrong size", bad((sd) => sd.map(([n, t]) => [n, n === "ln_final.b" ? { shape: [3], data: new Float64Array(3) } : t])), /tensor "ln_final\.b" has shape \[3\], expected \[8\]/],
    ["an MLP of mismatched width", bad((sd) => sd.map(([n, t]) => [n, n === "blocks.1.mlp.b_in" ? { shape: [4], data: new Float64Array(4) } : t])), /tensor "blocks\.1\.mlp\.b_in" has shape \[4\], expected \[5\]/],
    ["an MLP in a block with no attention", bad((sd) => [...sd, ["blocks.5.mlp.b_out", { shape: [D], data: new Float64Array(D) }]]), /belongs to block 5, but the attention blocks are 0\.\.1/],
    ["config says RMS", bad((sd) => sd, { normalization_type: "RMS" }), /config\.normalization_type="RMS" disagrees with the tensors, which show LN/],
    ["rotary positions", bad((sd) => sd, { positional_embedding_type: "rotary" }), /positional_embedding_type="rotary" is not supported/],
    ["attn_only with MLPs", bad((sd) => sd, { attn_only: true }), /config\.attn_only=true, but the file has MLP tensors/],
    ["NaN in an MLP", bad((sd) => sd.map(([n, t]) => [n, n === "blocks.0.mlp.W_out" ? { shape: t.shape, data: t.data.map((x, i) => (i === 3 ? NaN : x)) } : t])), /"blocks\.0\.mlp\.W_out" holds NaN at index \[0,3\]/],
  ];
  for (const [what, bytes, msg] of cases) {
    it(what, () => {
      let m = "";
      try {
        decodeForeign(bytes, "load");
      } catch (e) {
        m = (e as Error).message;
      }
      expect(m).toMatch(msg);
      expect(m).toMatch(/^load: /);
      expect(m).not.toContain("\n");
    });
  }

  it("the strict loader (what run/generate/check use) refuses LayerNorm and MLP tensors and says why", () => {
    expect(() => decodeWeights(encodeSafetensors(stateDict(3, { norm: "LN", mlp: false })), "load")).toThrow(
      /^load: tensor "blocks\.0\.ln1\.w" belongs to a LayerNorm: the simulator runs attention-only models without normalisation/,
    );
    expect(() => decodeWeights(encodeSafetensors(stateDict(3, { norm: null, mlp: true })), "load")).toThrow(/"blocks\.0\.mlp\.W_in" belongs to an MLP block/);
  });
});
