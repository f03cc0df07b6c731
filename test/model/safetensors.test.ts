import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeSafetensors, encodeSafetensors } from "../../src/model/safetensors.ts";
import type { FloatArray, Tensor } from "../../src/model/weights.ts";
import { rawBytes, rawFile } from "./helpers.ts";
import { fcParams } from "../support/seed.ts";

/** A random tensor whose data is arbitrary bytes, so every bit pattern (NaN payloads, -0, subnormals) occurs. */
const tensorArb: fc.Arbitrary<Tensor> = fc
  .record({
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 }),
    f64: fc.boolean(),
    seed: fc.integer(),
  })
  .chain(({ shape, f64 }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const width = f64 ? 8 : 4;
    return fc.uint8Array({ minLength: n * width, maxLength: n * width }).map((bytes): Tensor => {
      const buf = new Uint8Array(bytes).buffer;
      return { shape, data: f64 ? new Float64Array(buf) : new Float32Array(buf) };
    });
  });

const nameArb = fc.string({ unit: "grapheme", maxLength: 12 }).filter((s) => s !== "__metadata__");
const tensorsArb = fc.uniqueArray(fc.tuple(nameArb, tensorArb), { selector: ([n]) => n, maxLength: 6 });
const metadataArb = fc.dictionary(
  fc.oneof(fc.constant("__proto__"), fc.string({ unit: "grapheme", maxLength: 8 })),
  fc.string({ unit: "grapheme", maxLength: 16 }),
  { maxKeys: 4 },
);

function sameTensor(a: Tensor, b: Tensor): boolean {
  const ra = rawBytes(a.data);
  const rb = rawBytes(b.data);
  return (
    a.data.constructor === b.data.constructor &&
    JSON.stringify(a.shape) === JSON.stringify(b.shape) &&
    ra.length === rb.length &&
    ra.every((x, i) => x === rb[i])
  );
}

describe("safetensors round trip", () => {
  it("decode(encode(x)) is bit-identical for random F64 and F32 tensors and metadata", () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
        const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata));
        expect(decoded.tensors.size).toBe(tensors.length);
        for (const [name, t] of tensors) {
          const got = decoded.tensors.get(name);
          expect(got).toBeDefined();
          expect(sameTensor(t, got!)).toBe(true);
        }
        expect(decoded.metadata).toEqual(metadata);
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  it("encode is deterministic and re-encoding decoded tensors reproduces the same bytes", () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
        const bytes = encodeSafetensors(tensors, metadata);
        expect(encodeSafetensors(tensors, metadata)).toEqual(bytes);
        const { tensors: back, metadata: meta } = decodeSafetensors(bytes);
        const again = encodeSafetensors(tensors.map(([n]) => [n, back.get(n)!] as [string, Tensor]), meta);
        expect(again).toEqual(bytes);
      }),
      fcParams({ numRuns: 50 }),
    );
  });

  it("keeps special values exactly (NaN payloads, -0, infinities, subnormals)", () => {
    const f64 = new Float64Array([NaN, -0, Infinity, -Infinity, 5e-324, Number.MAX_VALUE]);
    new DataView(f64.buffer).setBigUint64(0, 0x7ff4000000000abcn, true); // signalling NaN with a payload
    const f32 = new Float32Array([NaN, -0, Infinity, 1e-45]);
    new DataView(f32.buffer).setUint32(0, 0xff800001, true); // negative signalling NaN
    const back = decodeSafetensors(encodeSafetensors([["a", { shape: [6], data: f64 }], ["b", { shape: [2, 2], data: f32 }]], {}));
    expect(rawBytes(back.tensors.get("a")!.data)).toEqual(rawBytes(f64));
    expect(rawBytes(back.tensors.get("b")!.data)).toEqual(rawBytes(f32));
  });

  it("encodes typed-array views (non-zero byteOffset) correctly", () => {
    const base = new Float64Array([1, 2, 3, 4, 5]);
    const view = base.subarray(1, 4);
    const back = decodeSafetensors(encodeSafetensors([["v", { shape: [3], data: view }]], {}));
    expect(Array.from(back.tensors.get("v")!.data)).toEqual([2, 3, 4]);
  });

  it("returned tensors own aligned copies, even from an unaligned Buffer", () => {
    const file = encodeSafetensors([["x", { shape: [3], data: new Float64Array([1.5, -2, 3]) }]], { k: "v" });
    const backing = Buffer.alloc(file.length + 3);
    backing.set(file, 3);
    const unaligned = backing.subarray(3); // a Node Buffer at odd byteOffset
    const { tensors } = decodeSafetensors(unaligned);
    const x = tensors.get("x")!;
    expect(x.data).toBeInstanceOf(Float64Array);
    expect(x.data.byteOffset).toBe(0);
    expect(Array.from(x.data)).toEqual([1.5, -2, 3]);
    backing.fill(0);
    expect(Array.from(x.data)).toEqual([1.5, -2, 3]);
  });
});

describe("safetensors layout (checked independently of the decoder)", () => {
  it("header length is a multiple of 8, starts with '{', padded with spaces", () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
        const bytes = encodeSafetensors(tensors, metadata);
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
        expect(n % 8).toBe(0);
        expect(bytes[8]).toBe(0x7b);
        const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
        const trimmed = text.replace(/ +$/, "");
        expect(trimmed.endsWith("}")).toBe(true);
        expect(n - new TextEncoder().encode(trimmed).length).toBeLessThan(8);
      }),
      fcParams({ numRuns: 100 }),
    );
  });

  it("a hand-written parser (u64 LE + JSON.parse + DataView) recovers every value", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.tuple(
            fc.stringMatching(/^[a-z][a-z0-9._]{0,10}$/),
            fc.boolean(),
            fc.array(fc.double(), { maxLength: 12 }),
          ),
          { selector: ([n]) => n, maxLength: 5 },
        ),
        (specs) => {
          const tensors: [string, Tensor][] = specs.map(([name, f64, values]) => [
            name,
            { shape: [values.length], data: f64 ? Float64Array.from(values) : Float32Array.from(values) },
          ]);
          const bytes = encodeSafetensors(tensors, { who: "test" });

          // --- independent parse ---
          const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          const lo = dv.getUint32(0, true);
          const hi = dv.getUint32(4, true);
          expect(hi).toBe(0);
          const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + lo))) as Record<string, any>;
          const dataStart = 8 + lo;
          expect(header.__metadata__).toEqual({ who: "test" });
          const spans: [number, number][] = [];
          for (const [name, t] of tensors) {
            const info = header[name];
            const f64 = t.data instanceof Float64Array;
            expect(info.dtype).toBe(f64 ? "F64" : "F32");
            expect(info.shape).toEqual(t.shape);
            const [b, e] = info.data_offsets as [number, number];
            spans.push([b, e]);
            const width = f64 ? 8 : 4;
            expect(e - b).toBe(t.data.length * width);
            expect((dataStart + b) % width).toBe(0); // naturally aligned in the file
            for (let i = 0; i < t.data.length; i++) {
              const v = f64 ? dv.getFloat64(dataStart + b + 8 * i, true) : dv.getFloat32(dataStart + b + 4 * i, true);
              expect(Object.is(v, t.data[i])).toBe(true);
            }
          }
          // offsets tile the data buffer exactly
          spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
          let at = 0;
          for (const [b, e] of spans) {
            expect(b).toBe(at);
            at = e;
          }
          expect(dataStart + at).toBe(bytes.length);
        },
      ),
      fcParams({ numRuns: 100 }),
    );
  });

  it("matches a hand-built file byte for byte", () => {
    const bytes = encodeSafetensors([["w", { shape: [2], data: new Float32Array([1, -2]) }]], { a: "b" });
    const header = '{"__metadata__":{"a":"b"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const expected = rawFile(header, [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    expect(bytes).toEqual(expected);
    expect(header.length).toBe(79);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([80, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + 80))).toBe(`${header} `);
  });

  it("keeps a metadata key named __proto__ as ordinary data", () => {
    const meta = JSON.parse('{"__proto__":"p","a":"b"}') as Record<string, string>;
    const back = decodeSafetensors(encodeSafetensors([], meta)).metadata;
    expect(Object.keys(back)).toEqual(["__proto__", "a"]);
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")?.value).toBe("p");
  });

  it("omits __metadata__ when there is none and handles an empty file", () => {
    const bytes = encodeSafetensors([], {});
    expect(new TextDecoder().decode(bytes.subarray(8))).toBe("{}      ");
    expect(decodeSafetensors(bytes)).toEqual({ tensors: new Map(), dtypes: new Map(), metadata: {} });
  });

  it("reads files from other writers: unpadded header, any key order, whitespace, zero-size tensors", () => {
    const data = new Uint8Array(new Float64Array([7]).buffer);
    const header = ' {"b": {"data_offsets": [8, 8], "shape": [0, 3], "dtype": "F32"},\n "a": {"shape": [], "dtype": "F64", "data_offsets": [0, 8]}}';
    const file = rawFile(`{${header.slice(2)}`, data, false);
    const { tensors, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({});
    expect(tensors.get("a")!.shape).toEqual([]);
    expect(Array.from(tensors.get("a")!.data)).toEqual([7]);
    expect(tensors.get("b")!.data).toBeInstanceOf(Float32Array);
    expect(tensors.get("b")!.data.length).toBe(0);
  });

  it("skip option validates but does not decode other dtypes", () => {
    const file = rawFile(
      { mask: { dtype: "BOOL", shape: [2, 2], data_offsets: [8, 12] }, x: { dtype: "F64", shape: [1], data_offsets: [0, 8] } },
      [...new Uint8Array(new Float64Array([3]).buffer), 1, 0, 1, 1],
    );
    expect(() => decodeSafetensors(file)).toThrow(/^safetensors: tensor "mask" has unsupported dtype "BOOL"/);
    const { tensors } = decodeSafetensors(file, { skip: (name) => name === "mask" });
    expect([...tensors.keys()]).toEqual(["x"]);
  });
});

describe("safetensors corruption", () => {
  const good = encodeSafetensors(
    [
      ["blocks.0.attn.W_Q", { shape: [2, 3, 4], data: new Float64Array(24).map((_, i) => i) }],
      ["b", { shape: [2], data: new Float32Array([1, 2]) }],
    ],
    { format: "x" },
  );
  const f64 = (n: number) => new Uint8Array(n * 8);
  const cases: [string, () => Uint8Array, RegExp][] = [
    ["empty file", () => new Uint8Array(0), /^safetensors: file is 0 bytes, too short for the 8-byte header length$/],
    ["truncated length prefix", () => good.subarray(0, 5), /^safetensors: file is 5 bytes, too short/],
    ["truncated inside header", () => good.subarray(0, 40), /^safetensors: header length \d+ exceeds file size 40\b/],
    ["truncated inside data", () => good.subarray(0, good.length - 3), /^safetensors: tensor "(b|blocks\.0\.attn\.W_Q)" data_offsets \[\d+,\d+\] are out of range of the \d+-byte data buffer$/],
    [
      "header length too big",
      () => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, 999999n, true);
        return b;
      },
      new RegExp(`^safetensors: header length 999999 exceeds file size ${good.length} `),
    ],
    [
      "header length 2^64-1",
      () => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
        return b;
      },
      /^safetensors: header length 18446744073709551615 exceeds file size/,
    ],
    [
      "header length too small (cuts the JSON)",
      () => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, 16n, true);
        return b;
      },
      /^safetensors: invalid JSON header \(bytes 8\.\.24\): /,
    ],
    ["header not starting with {", () => rawFile(" {}"), /^safetensors: header does not start with "\{" \(byte 8 is 0x20\)$/],
    ["bad JSON", () => rawFile('{"a": {"dtype": "F64",, }}'), /^safetensors: invalid JSON header \(bytes 8\.\.\d+\): /],
    ["header not UTF-8", () => rawFile("{?}").map((x, i) => (i === 9 ? 0xff : x)), /^safetensors: header \(bytes 8\.\.16\) is not valid UTF-8$/],
    ["metadata not an object", () => rawFile({ __metadata__: ["a"] }), /^safetensors: __metadata__ must be an object of strings, got array$/],
    ["metadata value not a string", () => rawFile({ __metadata__: { a: "x", n: 3 } }), /^safetensors: __metadata__ value for "n" is not a string \(got number 3\)$/],
    ["entry not an object", () => rawFile({ x: 5 }), /^safetensors: tensor "x" entry must be an object/],
    ["missing dtype", () => rawFile({ x: { shape: [1], data_offsets: [0, 8] } }, f64(1)), /^safetensors: tensor "x" has no "dtype" field$/],
    ["missing data_offsets", () => rawFile({ x: { shape: [1], dtype: "F64" } }, f64(1)), /^safetensors: tensor "x" has no "data_offsets" field$/],
    ["extra field", () => rawFile({ x: { dtype: "F64", shape: [1], data_offsets: [0, 8], stride: [1] } }, f64(1)), /^safetensors: tensor "x" has unexpected field "stride"$/],
    ["unknown dtype", () => rawFile({ x: { dtype: "Q7", shape: [1], data_offsets: [0, 8] } }, f64(1)), /^safetensors: tensor "x" has unknown dtype "Q7"$/],
    ["prototype-named dtype", () => rawFile({ x: { dtype: "toString", shape: [1], data_offsets: [0, 8] } }, f64(1)), /^safetensors: tensor "x" has unknown dtype "toString"$/],
    ["unsupported dtype", () => rawFile({ x: { dtype: "I16", shape: [4], data_offsets: [0, 8] } }, f64(1)), /^safetensors: tensor "x" has unsupported dtype "I16" \(only F64, F32, F16 and BF16 can be read\)$/],
    ["negative dim", () => rawFile({ x: { dtype: "F64", shape: [-1], data_offsets: [0, 8] } }, f64(1)), /^safetensors: tensor "x" shape must be an array of non-negative integers, got \[-1\]$/],
    ["fractional dim", () => rawFile({ x: { dtype: "F64", shape: [1.5], data_offsets: [0, 8] } }, f64(1)), /^safetensors: tensor "x" shape must be/],
    ["offsets not a pair", () => rawFile({ x: { dtype: "F64", shape: [1], data_offsets: [0] } }, f64(1)), /^safetensors: tensor "x" data_offsets must be two non-negative integers \[begin, end\], got \[0\]$/],
    ["reversed offsets", () => rawFile({ x: { dtype: "F64", shape: [0], data_offsets: [8, 0] } }, f64(1)), /^safetensors: tensor "x" data_offsets \[8,0\] are reversed/],
    ["out-of-range offsets", () => rawFile({ x: { dtype: "F64", shape: [2], data_offsets: [0, 16] } }, f64(1)), /^safetensors: tensor "x" data_offsets \[0,16\] are out of range of the 8-byte data buffer$/],
    [
      "offsets do not match shape",
      () => rawFile({ "blocks.0.attn.W_Q": { dtype: "F64", shape: [2, 3, 4], data_offsets: [0, 96] } }, f64(12)),
      /^safetensors: tensor "blocks\.0\.attn\.W_Q" data_offsets \[0,96\] do not match shape \[2,3,4\] of F64 \(192 bytes\)$/,
    ],
    [
      "overlapping offsets",
      () => rawFile({ a: { dtype: "F64", shape: [2], data_offsets: [0, 16] }, b: { dtype: "F64", shape: [2], data_offsets: [8, 24] } }, f64(3)),
      /^safetensors: tensors "a" \[0,16\] and "b" \[8,24\] overlap$/,
    ],
    [
      "same offsets twice",
      () => rawFile({ a: { dtype: "F64", shape: [1], data_offsets: [0, 8] }, b: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, f64(1)),
      /^safetensors: tensors "a" \[0,8\] and "b" \[0,8\] overlap$/,
    ],
    [
      "gap between tensors",
      () => rawFile({ a: { dtype: "F64", shape: [1], data_offsets: [0, 8] }, b: { dtype: "F64", shape: [1], data_offsets: [16, 24] } }, f64(3)),
      /^safetensors: data bytes \[8,16\) between tensors "a" and "b" are not covered by any tensor$/,
    ],
    ["gap at start", () => rawFile({ a: { dtype: "F64", shape: [1], data_offsets: [8, 16] } }, f64(2)), /^safetensors: data bytes \[0,8\) before the first tensor "a" are not covered/],
    ["trailing bytes", () => rawFile({ a: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, f64(2)), /^safetensors: data bytes \[8,16\) after the last tensor "a" are not covered by any tensor$/],
    ["data but no tensors", () => rawFile({}, f64(1)), /^safetensors: data bytes \[0,8\) \(there are no tensors\) are not covered/],
  ];
  for (const [what, make, message] of cases) {
    it(what, () => {
      let caught: unknown;
      try {
        decodeSafetensors(make());
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(Error);
      const msg = (caught as Error).message;
      expect(msg).toMatch(message);
      expect(msg).not.toContain("\n");
    });
  }

  it("header that is JSON but not an object", () => {
    // Starts with "{" so it passes the first-byte check only if it is an object; an array fails that check.
    expect(() => decodeSafetensors(rawFile("[1]"))).toThrow(/^safetensors: header does not start with "\{"/);
    expect(() => decodeSafetensors(rawFile("{} 1"))).toThrow(/^safetensors: invalid JSON header/);
  });

  it("every truncation and random byte corruption either decodes or throws a one-line 'safetensors: ' Error", () => {
    for (let cut = 0; cut < good.length; cut++) {
      expect(() => decodeSafetensors(good.subarray(0, cut))).toThrow(/^safetensors: /);
    }
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (edits) => {
          const b = good.slice();
          for (const [i, v] of edits) b[i] = v;
          try {
            decodeSafetensors(b);
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
            expect((e as Error).message).toMatch(/^safetensors: [^\n]*$/);
          }
        },
      ),
      fcParams({ numRuns: 500 }),
    );
  });
});

describe("safetensors encoder input checks", () => {
  const t = (data: FloatArray, shape: number[]): Tensor => ({ shape, data });
  it("rejects inconsistent or unrepresentable input", () => {
    expect(() => encodeSafetensors([["x", t(new Float64Array(5), [2, 3])]], {})).toThrow(
      /^safetensors: cannot encode tensor "x": shape \[2,3\] needs 6 elements but data has 5$/,
    );
    expect(() => encodeSafetensors([["x", t(new Float64Array(1), [1])], ["x", t(new Float64Array(1), [1])]], {})).toThrow(/duplicate name/);
    expect(() => encodeSafetensors([["__metadata__", t(new Float64Array(1), [1])]], {})).toThrow(/reserved/);
    expect(() => encodeSafetensors([["\ud800", t(new Float64Array(1), [1])]], {})).toThrow(/lone surrogate/);
    expect(() => encodeSafetensors([["x", { shape: [1], data: new Int32Array(1) as unknown as Float64Array }]], {})).toThrow(
      /data must be a Float64Array or Float32Array/,
    );
    expect(() => encodeSafetensors([["x", t(new Float64Array(1), [-1])]], {})).toThrow(/shape must be an array of non-negative integers/);
    expect(() => encodeSafetensors([], { n: 1 as unknown as string })).toThrow(/metadata value for "n" is not a string/);
  });
});
