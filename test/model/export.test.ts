/**
 * The exported file, read as a stranger would: a plain safetensors parse
 * (u64 header length, JSON header, little-endian data) and a textbook
 * attention-only forward over the TransformerLens tensor names. Neither uses
 * the project's reader or simulator, so agreement means the file is right.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { saveWeights } from "../../src/model/weightsFile.ts";
import { forward } from "../../src/sim/forward.ts";
import { layoutToJson } from "../../src/compiler/layout.ts";
import { loadProgram, programNames } from "../support/programs.ts";

const dir = mkdtempSync(join(tmpdir(), "circuits-export-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Plain {
  shape: number[];
  data: Float64Array;
}

function plainRead(path: string): { tensors: Map<string, Plain>; meta: Record<string, string> } {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  const tensors = new Map<string, Plain>();
  for (const [name, info] of Object.entries<{ dtype: string; shape: number[]; data_offsets: [number, number] }>(header)) {
    if (name === "__metadata__") continue;
    const [a, b] = info.data_offsets;
    const width = info.dtype === "F64" ? 8 : 4;
    const data = new Float64Array((b - a) / width);
    for (let k = 0; k < data.length; k++) {
      const at = 8 + n + a + k * width;
      data[k] = width === 8 ? view.getFloat64(at, true) : view.getFloat32(at, true);
    }
    tensors.set(name, { shape: info.shape, data });
  }
  return { tensors, meta: header.__metadata__ ?? {} };
}

/** Attention-only forward, written from the definitions with plain loops. */
function plainForward(t: Map<string, Plain>, cfg: Record<string, number>, tokens: number[]): number[][] {
  const { d_model: D, n_heads: H, d_head: E, n_layers: L, d_vocab_out: Vo } = cfg as Record<string, number>;
  const g = (name: string) => t.get(name)!.data;
  const T = tokens.length;
  let x = tokens.map((tok, p) => Array.from({ length: D }, (_, d) => g("embed.W_E")[tok * D + d]! + g("pos_embed.W_pos")[p * D + d]!));
  for (let l = 0; l < L; l++) {
    const [WQ, WK, WV, WO] = ["W_Q", "W_K", "W_V", "W_O"].map((n) => g(`blocks.${l}.attn.${n}`));
    const [bQ, bK, bV, bO] = ["b_Q", "b_K", "b_V", "b_O"].map((n) => g(`blocks.${l}.attn.${n}`));
    const out = x.map((row) => row.map((v, d) => v + bO![d]!));
    for (let h = 0; h < H; h++) {
      const proj = (W: Float64Array, b: Float64Array) =>
        x.map((row) => Array.from({ length: E }, (_, e) => row.reduce((s, v, d) => s + v * W[(h * D + d) * E + e]!, b[h * E + e]!)));
      const q = proj(WQ!, bQ!);
      const k = proj(WK!, bK!);
      const v = proj(WV!, bV!);
      for (let i = 0; i < T; i++) {
        const scores = Array.from({ length: i + 1 }, (_, j) => q[i]!.reduce((s, qe, e) => s + qe * k[j]![e]!, 0) / Math.sqrt(E));
        const m = Math.max(...scores);
        const w = scores.map((s) => Math.exp(s - m));
        const z = w.reduce((a, b) => a + b, 0);
        for (let e = 0; e < E; e++) {
          const ze = w.reduce((s, wj, j) => s + (wj / z) * v[j]![e]!, 0);
          for (let d = 0; d < D; d++) out[i]![d]! += ze * WO![(h * E + e) * D + d]!;
        }
      }
    }
    x = out;
  }
  return x.map((row) => Array.from({ length: Vo }, (_, o) => row.reduce((s, v, d) => s + v * g("unembed.W_U")[d * Vo + o]!, g("unembed.b_U")[o]!)));
}

describe("exported weights, read without the project's code", () => {
  for (const name of programNames()) {
    it(`${name}: TransformerLens names and shapes, config metadata, logits reproduced`, () => {
      const model = compile(loadProgram(name));
      const path = join(dir, `${name}.safetensors`);
      saveWeights(path, model.weights, { tokens: model.tokens, layout: layoutToJson(model.layout) });
      const { tensors, meta } = plainRead(path);
      const cfg = JSON.parse(meta.config!);
      const { d_model: D, n_heads: H, d_head: E, n_ctx: C, d_vocab: V, n_layers: L } = cfg;
      expect(tensors.get("embed.W_E")!.shape).toEqual([V, D]);
      expect(tensors.get("pos_embed.W_pos")!.shape).toEqual([C, D]);
      expect(tensors.get("unembed.W_U")!.shape).toEqual([D, V]);
      for (let l = 0; l < L; l++) {
        for (const n of ["W_Q", "W_K", "W_V"]) expect(tensors.get(`blocks.${l}.attn.${n}`)!.shape).toEqual([H, D, E]);
        expect(tensors.get(`blocks.${l}.attn.W_O`)!.shape).toEqual([H, E, D]);
        expect(tensors.get(`blocks.${l}.attn.b_O`)!.shape).toEqual([D]);
      }
      expect(cfg).toMatchObject({ attn_only: true, normalization_type: null, positional_embedding_type: "standard" });
      expect(JSON.parse(meta.tokens!)).toEqual(model.tokens);
      expect(JSON.parse(readFileSync(path.replace(/\.safetensors$/, ".json"), "utf8")).config).toEqual(cfg);

      const ids = [0, 1, 2, 3, 1, 2, 4, 1, 1, 3];
      const want = forward(model.weights, ids).logits;
      const got = plainForward(tensors, cfg, ids);
      got.forEach((row, p) => row.forEach((x, o) => expect(Math.abs(x - want[p * V + o]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(x)))));
    });
  }
});
