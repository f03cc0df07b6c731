import { afterEach, beforeEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../../src/model/safetensors.ts";
import { stateDict } from "../../src/model/weights.ts";
import type { Tensor, Weights } from "../../src/model/weights.ts";
import {
  WEIGHTS_FORMAT,
  decodeWeights,
  loadWeights,
  saveWeights,
  sidecarPath,
  weightsFromStateDict,
} from "../../src/model/weightsFile.ts";
import { makeConfig, randomWeights, rawBytes, rawFile } from "./helpers.ts";
import type { Dims } from "./helpers.ts";
import { fcParams } from "../support/seed.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "weights-file-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const small: Dims = { d_model: 6, d_head: 3, n_heads: 2, n_layers: 2, n_ctx: 5, d_vocab: 7, d_vocab_out: 4 };

function expectSameWeights(a: Weights, b: Weights): void {
  expect(b.config).toEqual(a.config);
  const sa = stateDict(a);
  const sb = stateDict(b);
  expect(sb.map(([n]) => n)).toEqual(sa.map(([n]) => n));
  sa.forEach(([name, t], i) => {
    const u = sb[i][1];
    expect(u.shape, name).toEqual(t.shape);
    expect(u.data.constructor, name).toBe(t.data.constructor);
    expect(rawBytes(u.data), name).toEqual(rawBytes(t.data));
  });
}

/** Encode a state dict (optionally edited) with no metadata, as a foreign tool would. */
function foreignFile(w: Weights, edit: (sd: [string, Tensor][]) => [string, Tensor][] = (x) => x): Uint8Array {
  return encodeSafetensors(edit(stateDict(w)), {});
}

const dimsArb: fc.Arbitrary<Dims> = fc.record({
  d_model: fc.integer({ min: 1, max: 6 }),
  d_head: fc.integer({ min: 1, max: 4 }),
  n_heads: fc.integer({ min: 1, max: 3 }),
  n_layers: fc.integer({ min: 0, max: 3 }),
  n_ctx: fc.integer({ min: 1, max: 5 }),
  d_vocab: fc.integer({ min: 1, max: 6 }),
  d_vocab_out: fc.integer({ min: 1, max: 6 }),
});

describe("saveWeights / loadWeights", () => {
  it("round trips random weights (F64 and F32) with identical tensors, config, tokens and layout", () => {
    let run = 0;
    fc.assert(
      fc.property(dimsArb, fc.integer(), fc.boolean(), fc.boolean(), (dims, seed, f32, attnResult) => {
        const w0 = randomWeights(dims, seed, f32);
        const w: Weights = { ...w0, config: { ...w0.config, use_attn_result: attnResult } };
        const tokens = Array.from({ length: dims.d_vocab }, (_, i) => `tok${i}"\n✓`);
        const layout = { residual: [{ name: "tok", start: 0, width: dims.d_model }], nested: { a: [1, null, "x"] } };
        const path = join(dir, `m${run++}.safetensors`);
        saveWeights(path, w, { tokens, layout, note: "hello" });
        const loaded = loadWeights(path);
        expectSameWeights(w, loaded.weights);
        expect(loaded.tokens).toEqual(tokens);
        expect(loaded.layout).toEqual(layout);
        expect(loaded.metadata.format).toBe(WEIGHTS_FORMAT);
        expect(JSON.parse(loaded.metadata.config)).toEqual(w.config);
        expect(JSON.parse(loaded.metadata.note)).toBe("hello");
      }),
      fcParams({ numRuns: 25 }),
    );
    // only the weights files and their sidecars, no temp files
    const files = readdirSync(dir).sort();
    expect(files.length).toBe(2 * run);
    expect(files.every((f) => /^m\d+\.(safetensors|json)$/.test(f))).toBe(true);
  });

  it("writes the metadata and sidecar described in the module doc", () => {
    const w = randomWeights(small, 1);
    const path = join(dir, "model.safetensors");
    saveWeights(path, w, { tokens: ["a", "b", "c", "d", "e", "f", "g"], layout: { k: 1 } });
    expect(sidecarPath(path)).toBe(join(dir, "model.json"));
    const sidecar = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    expect(sidecar).toEqual({
      format: WEIGHTS_FORMAT,
      config: w.config,
      tokens: ["a", "b", "c", "d", "e", "f", "g"],
      layout: { k: 1 },
      digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      tensors: Object.fromEntries(stateDict(w).map(([n, t]) => [n, t.shape])),
    });
    const { tensors, metadata } = decodeSafetensors(readFileSync(path));
    expect([...tensors.keys()].sort()).toEqual(stateDict(w).map(([n]) => n).sort());
    expect(metadata).toEqual({
      format: WEIGHTS_FORMAT,
      config: JSON.stringify(w.config),
      tokens: '["a","b","c","d","e","f","g"]',
      layout: '{"k":1}',
      digest: JSON.stringify(sidecar.digest),
    });
  });

  it("loads a file without metadata, inferring the config from the shapes", () => {
    const w = randomWeights(small, 2);
    const loaded = decodeWeights(foreignFile(w));
    expectSameWeights(w, loaded.weights);
    expect(loaded.tokens).toBeUndefined();
    expect(loaded.layout).toBeUndefined();
    expect(loaded.metadata).toEqual({});
  });

  it("loads a file missing every bias with zeros in their place", () => {
    const w = randomWeights(small, 3, true);
    const loaded = decodeWeights(foreignFile(w, (sd) => sd.filter(([n]) => !/\.b_[A-Z]$/.test(n))));
    const lw = loaded.weights;
    expect(lw.config).toEqual(w.config);
    expect(lw.b_U.shape).toEqual([small.d_vocab_out]);
    expect(lw.b_U.data.every((x) => x === 0)).toBe(true);
    expect(lw.b_U.data).toBeInstanceOf(Float32Array); // zeros follow the dtype of the matching weight
    for (const b of lw.blocks) {
      expect(b.b_Q.shape).toEqual([small.n_heads, small.d_head]);
      expect(b.b_K.shape).toEqual([small.n_heads, small.d_head]);
      expect(b.b_V.shape).toEqual([small.n_heads, small.d_head]);
      expect(b.b_O.shape).toEqual([small.d_model]);
      for (const t of [b.b_Q, b.b_K, b.b_V, b.b_O]) expect(t.data.every((x) => x === 0)).toBe(true);
    }
    expect(rawBytes(lw.blocks[1].W_O.data)).toEqual(rawBytes(w.blocks[1].W_O.data));
  });

  it("ignores TransformerLens mask/IGNORE buffers of any dtype", () => {
    const w = randomWeights({ ...small, n_layers: 1 }, 4);
    const sd = stateDict(w);
    // Build by hand: the state dict plus a BOOL mask [C,C] and an F32 IGNORE scalar appended at the end.
    const base = encodeSafetensors(sd, {});
    const n = Number(new DataView(base.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + n)));
    const data = base.subarray(8 + n);
    const C = small.n_ctx;
    header["blocks.0.attn.mask"] = { dtype: "BOOL", shape: [C, C], data_offsets: [data.length, data.length + C * C] };
    header["blocks.0.attn.IGNORE"] = { dtype: "F32", shape: [], data_offsets: [data.length + C * C, data.length + C * C + 4] };
    const file = rawFile(header, [...data, ...new Uint8Array(C * C).fill(1), 0, 0x40, 0x1c, 0xc6]);
    expectSameWeights(w, decodeWeights(file).weights);
  });

  it("a shape mismatch names the tensor and the expected and actual shapes", () => {
    const w = randomWeights(small, 5);
    const bad = foreignFile(w, (sd) =>
      sd.map(([n, t]): [string, Tensor] => (n === "blocks.1.attn.W_K" ? [n, { shape: [2, 6, 4], data: new Float64Array(48) }] : [n, t])),
    );
    const path = join(dir, "bad.safetensors");
    writeFileSync(path, bad);
    expect(() => loadWeights(path)).toThrow(
      `loadWeights: ${path}: tensor "blocks.1.attn.W_K" has shape [2,6,4], expected [2,6,3] [n_heads,d_model,d_head]`,
    );
  });

  it("checks every kind of shape inconsistency", () => {
    const w = randomWeights(small, 6);
    const replace = (name: string, shape: number[]) =>
      decodeWeights(
        foreignFile(w, (sd) =>
          sd.map(([n, t]): [string, Tensor] => (n === name ? [n, { shape, data: new Float64Array(shape.reduce((a, b) => a * b, 1)) }] : [n, t])),
        ),
      );
    expect(() => replace("pos_embed.W_pos", [5, 7])).toThrow(/tensor "pos_embed.W_pos" has shape \[5,7\], expected \[5,6\]/);
    expect(() => replace("embed.W_E", [42])).toThrow(/tensor "embed.W_E" has shape \[42\], expected rank 2 \[d_vocab,d_model\]/);
    expect(() => replace("unembed.W_U", [5, 4])).toThrow(/tensor "unembed.W_U" has shape \[5,4\], expected \[6,4\]/);
    expect(() => replace("unembed.b_U", [5])).toThrow(/tensor "unembed.b_U" has shape \[5\], expected \[4\]/);
    expect(() => replace("blocks.0.attn.W_O", [2, 6, 3])).toThrow(/tensor "blocks.0.attn.W_O" has shape \[2,6,3\], expected \[2,3,6\]/);
    expect(() => replace("blocks.1.attn.b_Q", [3, 2])).toThrow(/tensor "blocks.1.attn.b_Q" has shape \[3,2\], expected \[2,3\]/);
    expect(() => replace("blocks.0.attn.b_O", [6, 1])).toThrow(/tensor "blocks.0.attn.b_O" has shape \[6,1\], expected \[6\]/);
    expect(() => replace("blocks.0.attn.W_Q", [2, 6])).toThrow(/tensor "blocks.0.attn.W_Q" has shape \[2,6\], expected rank 3/);
  });

  it("rejects missing and unexpected tensors", () => {
    const w = randomWeights(small, 7);
    expect(() => decodeWeights(foreignFile(w, (sd) => sd.filter(([n]) => n !== "blocks.1.attn.W_V")))).toThrow(
      /^decodeWeights: missing tensor "blocks.1.attn.W_V"$/,
    );
    expect(() => decodeWeights(foreignFile(w, (sd) => sd.filter(([n]) => n !== "pos_embed.W_pos")))).toThrow(/missing tensor "pos_embed.W_pos"/);
    // a layer gap: blocks.0 and blocks.2 but no blocks.1
    expect(() =>
      decodeWeights(foreignFile(w, (sd) => [...sd.filter(([n]) => !n.startsWith("blocks.1.")), ...sd.filter(([n]) => n.startsWith("blocks.1.")).map(([n, t]): [string, Tensor] => [n.replace("blocks.1.", "blocks.2."), t])])),
    ).toThrow(/missing tensor "blocks.1.attn.W_Q"/);
    expect(() => decodeWeights(foreignFile(w, (sd) => [...sd, ["ln_final.w", { shape: [6], data: new Float64Array(6) }]]))).toThrow(
      /tensor "ln_final.w" belongs to a LayerNorm: the simulator runs attention-only models without normalisation/,
    );
  });

  it("config metadata must agree with the shapes", () => {
    const w = randomWeights(small, 8);
    const withConfig = (config: object) => encodeSafetensors(stateDict(w), { config: JSON.stringify(config) });
    expect(decodeWeights(withConfig(w.config)).weights.config).toEqual(w.config);
    // a partial foreign config (extra fields, only some of ours) is fine
    expect(decodeWeights(withConfig({ n_heads: 2, d_head: 3, model_name: "x", act_fn: "gelu" })).weights.config).toEqual(w.config);
    expect(() => decodeWeights(withConfig({ ...w.config, n_heads: 3 }))).toThrow(
      /^decodeWeights: config.n_heads=3 disagrees with the tensors: the tensor shapes give n_heads=2$/,
    );
    expect(() => decodeWeights(withConfig({ ...w.config, n_layers: 3 }))).toThrow(/config.n_layers=3 disagrees with the tensors: the file has blocks 0..1/);
    expect(() => decodeWeights(withConfig({ ...w.config, d_vocab_out: 7 }))).toThrow(/config.d_vocab_out=7 disagrees/);
    expect(() => decodeWeights(withConfig({ ...w.config, normalization_type: "LN" }))).toThrow(/config.normalization_type="LN" is not supported/);
    expect(() => decodeWeights(withConfig({ ...w.config, d_model: "6" }))).toThrow(/config.d_model must be a non-negative integer/);
    expect(() => decodeWeights(encodeSafetensors(stateDict(w), { config: "{oops" }))).toThrow(/metadata "config" is not valid JSON/);
    expect(() => decodeWeights(encodeSafetensors(stateDict(w), { tokens: '["a", 1]' }))).toThrow(/metadata "tokens" must be a JSON array of strings/);
    expect(() => decodeWeights(encodeSafetensors(stateDict(w), { format: "induction-circuits/2" }))).toThrow(/unsupported format "induction-circuits\/2"/);
    expect(decodeWeights(encodeSafetensors(stateDict(w), { format: "pt" })).metadata.format).toBe("pt");
  });

  it("a zero-layer model round trips", () => {
    const w = randomWeights({ ...small, n_layers: 0, n_heads: 4, d_head: 5 }, 9);
    const path = join(dir, "bigram.safetensors");
    saveWeights(path, w, {});
    expectSameWeights(w, loadWeights(path).weights);
  });

  it("saveWeights refuses inconsistent weights and bad extras, writing nothing", () => {
    const w = randomWeights(small, 10);
    const path = join(dir, "x.safetensors");
    expect(() => saveWeights(path, { ...w, config: makeConfig({ ...small, n_layers: 3 }) })).toThrow(/^saveWeights: config.n_layers=3 disagrees/);
    const wrongData = { ...w, W_E: { shape: [7, 6], data: new Float64Array(41) } };
    expect(() => saveWeights(path, wrongData)).toThrow(/^saveWeights: tensor "embed.W_E" is malformed/);
    expect(() => saveWeights(path, w, { format: "mine" })).toThrow(/extra key "format" is reserved/);
    expect(() => saveWeights(path, w, { big: 1n })).toThrow(/extra "big" is not JSON-serialisable/);
    expect(() => saveWeights(path, w, { tokens: [1, 2] as unknown as string[] })).toThrow(/tokens must be an array of strings/);
    expect(() => saveWeights(join(dir, "x.json"), w)).toThrow(/must not end in .json/);
    expect(() => saveWeights(join(dir, "no-such-dir", "x.safetensors"), w)).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("sidecar path drops .safetensors, otherwise appends .json", () => {
    expect(sidecarPath("a/b.safetensors")).toBe("a/b.json");
    expect(sidecarPath("a/b.weights")).toBe("a/b.weights.json");
  });

  it("a corrupt file reports the path and the safetensors problem on one line", () => {
    const path = join(dir, "c.safetensors");
    writeFileSync(path, new Uint8Array([1, 2, 3]));
    expect(() => loadWeights(path)).toThrow(`loadWeights: ${path}: safetensors: file is 3 bytes, too short for the 8-byte header length`);
    expect(existsSync(path)).toBe(true);
  });

  it("weightsFromStateDict works on in-memory maps", () => {
    const w = randomWeights(small, 11);
    expectSameWeights(w, weightsFromStateDict(new Map(stateDict(w)), undefined));
  });
});

describe("non-finite entries are refused by name and index", () => {
  it("NaN, +Inf, −Inf in any tensor, F64 or F32: one line naming the tensor and its multi-index; saving refuses them too", () => {
    const w = randomWeights(small, 3);
    const names = stateDict(w).map(([n]) => n);
    for (const f32 of [false, true]) {
      for (const value of [NaN, Infinity, -Infinity]) {
        for (const target of names) {
          const bytes = encodeSafetensors(
            stateDict(randomWeights(small, 3, f32)).map(([n, t]) => {
              if (n !== target) return [n, t];
              const data = t.data.slice();
              data[data.length - 1] = value;
              return [n, { shape: t.shape, data }];
            }),
          );
          const last = stateDict(w).find(([n]) => n === target)![1].shape.map((d) => d - 1);
          let message = "";
          try {
            decodeWeights(bytes, "load");
          } catch (e) {
            message = (e as Error).message;
          }
          expect(message).toBe(`load: tensor ${JSON.stringify(target)} holds ${value} at index [${last.join(",")}] (weights must be finite)`);
        }
      }
    }
    const bad = stateDict(w).map(([n, t]): [string, Tensor] => [n, n === "embed.W_E" ? { shape: t.shape, data: t.data.map(() => NaN) } : t]);
    expect(() => weightsFromStateDict(new Map(bad), undefined)).toThrow(/"embed\.W_E" holds NaN at index \[0,0\]/);
    expect(() => saveWeights(join(dir, "m.safetensors"), { ...w, W_E: bad[0]![1] })).toThrow(/holds NaN/);
    expect(existsSync(join(dir, "m.safetensors"))).toBe(false);
  });
});

describe("the token list is checked against embed.W_E", () => {
  it("a list of the wrong length or with a repeated token is refused on load and on save (one line)", () => {
    const w = randomWeights(small, 5);
    const good = Array.from({ length: small.d_vocab }, (_, i) => `t${i}`);
    expect(decodeWeights(encodeSafetensors(stateDict(w), { tokens: JSON.stringify(good) })).tokens).toEqual(good);
    for (const [tokens, msg] of [
      [good.slice(1), /^load: metadata "tokens" has 6 entries, but embed\.W_E has d_vocab=7 rows$/],
      [[...good, "x"], /^load: metadata "tokens" has 8 entries/],
      [[], /^load: metadata "tokens" has 0 entries/],
      [[...good.slice(0, 6), "t2"], /^load: metadata "tokens" repeats "t2" \(at index 6\)$/],
    ] as const) {
      expect(() => decodeWeights(encodeSafetensors(stateDict(w), { tokens: JSON.stringify(tokens) }), "load")).toThrow(msg);
      expect(() => saveWeights(join(dir, "t.safetensors"), w, { tokens: [...tokens] })).toThrow(/^saveWeights: metadata "tokens"/);
    }
    expect(existsSync(join(dir, "t.safetensors"))).toBe(false);
  });
});
