/**
 * F16 and BF16: every one of the 65,536 bit patterns of each format decodes
 * exactly (checked against an independent decoder: float32 bit manipulation
 * for BF16, the formula over integers for F16), encoding is the exact
 * inverse on every non-NaN pattern, and rounding on encode is to nearest
 * with ties to even, overflow to ±Inf and underflow to ±0 — checked on the
 * special values and on random doubles against a brute-force nearest search.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bf16ToNumber, f16ToNumber, numberToBF16, numberToF16 } from "../../src/model/halfFloat.ts";
import { decodeSafetensors, encodeSafetensors } from "../../src/model/safetensors.ts";
import { rawFile } from "./helpers.ts";
import { fcParams } from "../support/seed.ts";

/** BF16 is the top half of a float32: decode by bit reinterpretation, independently of the module. */
function bf16Reference(bits: number): number {
  const u = new Uint32Array([bits << 16]);
  return new Float32Array(u.buffer)[0]!;
}

/** F16 by the textbook formula, written separately from the module's decoder. */
function f16Reference(bits: number): number {
  const s = bits >> 15 ? -1 : 1;
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * (m / 1024) * 2 ** -14 : s * (1 + m / 1024) * 2 ** (e - 15);
}

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

describe("decoding every bit pattern", () => {
  it("F16 and BF16: all 65,536 patterns exact, float32-representable, and encode back to themselves (non-NaN)", () => {
    for (let bits = 0; bits < 65536; bits++) {
      const h = f16ToNumber(bits);
      const b = bf16ToNumber(bits);
      if (!same(h, f16Reference(bits))) throw new Error(`F16 0x${bits.toString(16)}: ${h} vs ${f16Reference(bits)}`);
      if (!same(b, bf16Reference(bits))) throw new Error(`BF16 0x${bits.toString(16)}: ${b} vs ${bf16Reference(bits)}`);
      if (!same(Math.fround(h), h) || !same(Math.fround(b), b)) throw new Error(`0x${bits.toString(16)} is not a float32 value`);
      if (!Number.isNaN(h) && numberToF16(h) !== bits) throw new Error(`F16 0x${bits.toString(16)} does not encode back`);
      if (!Number.isNaN(b) && numberToBF16(b) !== bits) throw new Error(`BF16 0x${bits.toString(16)} does not encode back`);
    }
  });

  it("the special values, one by one", () => {
    expect(f16ToNumber(0x0000)).toBe(0);
    expect(Object.is(f16ToNumber(0x8000), -0)).toBe(true);
    expect(f16ToNumber(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(f16ToNumber(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(f16ToNumber(0x0400)).toBe(2 ** -14); // smallest normal
    expect(f16ToNumber(0x7bff)).toBe(65504); // largest finite
    expect(f16ToNumber(0x7c00)).toBe(Infinity);
    expect(f16ToNumber(0xfc00)).toBe(-Infinity);
    expect(f16ToNumber(0x7e00)).toBeNaN();
    expect(f16ToNumber(0x7c01)).toBeNaN(); // signalling pattern
    expect(f16ToNumber(0x3c00)).toBe(1);
    expect(f16ToNumber(0xc000)).toBe(-2);
    expect(bf16ToNumber(0x0001)).toBe(2 ** -133);
    expect(bf16ToNumber(0x0080)).toBe(2 ** -126);
    expect(bf16ToNumber(0x7f7f)).toBe(Number.parseFloat("3.3895313892515355e38"));
    expect(bf16ToNumber(0x7f80)).toBe(Infinity);
    expect(bf16ToNumber(0xff80)).toBe(-Infinity);
    expect(bf16ToNumber(0x7fc0)).toBeNaN();
    expect(Object.is(bf16ToNumber(0x8000), -0)).toBe(true);
    expect(bf16ToNumber(0x3f80)).toBe(1);
  });
});

describe("rounding on encode", () => {
  it("ties to even, overflow to Inf, underflow to ±0, NaN to the quiet NaN", () => {
    expect(numberToF16(1 + 2 ** -11)).toBe(0x3c00); // halfway 1 ↔ 1+2^-10: even (1)
    expect(numberToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway 1+2^-10 ↔ 1+2^-9: even
    expect(numberToF16(1 + 2 ** -11 + 2 ** -30)).toBe(0x3c01); // just above halfway
    expect(numberToF16(65504)).toBe(0x7bff);
    expect(numberToF16(65519.99)).toBe(0x7bff); // below the halfway point to 2^16
    expect(numberToF16(65520)).toBe(0x7c00); // halfway to the next (non-existent) value: even → Inf
    expect(numberToF16(-1e9)).toBe(0xfc00);
    expect(numberToF16(2 ** -25)).toBe(0x0000); // half the smallest subnormal: ties to even (0)
    expect(numberToF16(-(2 ** -25))).toBe(0x8000);
    expect(numberToF16(3 * 2 ** -25)).toBe(0x0002); // 1.5 subnormal units: even (2)
    expect(numberToF16(2 ** -25 + 2 ** -40)).toBe(0x0001);
    expect(numberToF16(1023.5 * 2 ** -24)).toBe(0x0400); // rounds up from the largest subnormal to the smallest normal
    expect(numberToF16(-0)).toBe(0x8000);
    expect(numberToF16(NaN)).toBe(0x7e00);
    expect(numberToF16(Infinity)).toBe(0x7c00);
    expect(numberToF16(1e-300)).toBe(0);
    expect(numberToBF16(1 + 2 ** -8)).toBe(0x3f80); // halfway: even
    expect(numberToBF16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(numberToBF16(Number.MAX_VALUE)).toBe(0x7f80);
    expect(numberToBF16(-0)).toBe(0x8000);
    expect(numberToBF16(NaN)).toBe(0x7fc0);
    // A double just above a bf16 halfway point that float32 would round down onto it: no double rounding.
    const x = 1 + 2 ** -8 + 2 ** -30;
    expect(numberToBF16(x)).toBe(0x3f81);
  });

  it("random doubles go to the nearest pattern (ties to even), by brute force over the neighbours", () => {
    for (const [enc, dec] of [[numberToF16, f16ToNumber], [numberToBF16, bf16ToNumber]] as const) {
      fc.assert(
        fc.property(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), fc.integer({ min: -40, max: 10 }), (m, e) => {
          const x = m * 2 ** e;
          const bits = enc(x);
          const v = dec(bits);
          // Every finite pattern of the same sign: none is strictly nearer, and a tie is broken to the even one.
          for (let other = x < 0 || Object.is(x, -0) ? 0x8000 : 0, end = other + 0x8000; other < end; other++) {
            const w = dec(other);
            if (!Number.isFinite(w)) continue;
            const dv = Math.abs(v - x);
            const dw = Math.abs(w - x);
            if (Number.isFinite(v) && dw < dv) return false;
            if (Number.isFinite(v) && dw === dv && w !== v && (bits & 1) === 1) return false;
          }
          return true;
        }),
        fcParams({ seed: 16, numRuns: 60 }),
      );
    }
  });
});

describe("F16 and BF16 tensors in safetensors files", () => {
  it("encode rounds, decode is exact into Float32Array; mixed dtypes stay aligned", () => {
    const values = Float64Array.from([0, -0, 1, -2.5, 65504, 1e6, 2 ** -24, 2 ** -26, Math.PI, NaN, Infinity, -Infinity]);
    const bytes = encodeSafetensors(
      [["a", { shape: [12], data: values }], ["b", { shape: [3, 4], data: values }], ["c", { shape: [2], data: Float64Array.from([1, 2]) }]],
      {},
      { half: (n) => (n === "a" ? "F16" : n === "b" ? "BF16" : undefined) },
    );
    const { tensors, dtypes } = decodeSafetensors(bytes);
    expect(Object.fromEntries(dtypes)).toEqual({ a: "F16", b: "BF16", c: "F64" });
    const a = tensors.get("a")!.data;
    const b = tensors.get("b")!.data;
    expect(a).toBeInstanceOf(Float32Array);
    expect(b).toBeInstanceOf(Float32Array);
    expect(tensors.get("b")!.shape).toEqual([3, 4]);
    values.forEach((x, i) => {
      expect(same(a[i]!, f16ToNumber(numberToF16(x))), `F16 ${x}`).toBe(true);
      expect(same(b[i]!, bf16ToNumber(numberToBF16(x))), `BF16 ${x}`).toBe(true);
    });
    expect(a[5]).toBe(Infinity); // 1e6 overflows F16
    expect(a[7]).toBe(0); // 2^-26 underflows F16
    expect(Object.is(a[1], -0)).toBe(true);
    expect(a[8]).toBe(3.140625);
    expect(b[8]).toBe(3.140625);
    expect(Array.from(tensors.get("c")!.data)).toEqual([1, 2]);
  });

  it("hand-made bytes (little-endian) decode to the stated values", () => {
    const data = Uint8Array.from([0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc, 0x80, 0x3f]);
    const f16 = decodeSafetensors(rawFile({ x: { dtype: "F16", shape: [4], data_offsets: [0, 8] } }, data)).tensors.get("x")!.data;
    expect(Array.from(f16)).toEqual([1, 2 ** -24, -Infinity, f16ToNumber(0x3f80)]);
    const bf = decodeSafetensors(rawFile({ x: { dtype: "BF16", shape: [2, 2], data_offsets: [0, 8] } }, data)).tensors.get("x")!.data;
    expect(Array.from(bf)).toEqual([2 ** -7, 2 ** -133, -(2 ** 121), 1]);
  });
});
