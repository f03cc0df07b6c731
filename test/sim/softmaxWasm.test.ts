/**
 * The KV cache's WebAssembly softmax (scale, exponents, sum, weights) and
 * value sums of every row width, against the JavaScript loops they stand in
 * for (scaleScores + softmaxLive, weightedValues), bit for bit.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { attentionJob } from "../../src/sim/attention.ts";
import { scaleScores } from "../../src/sim/attentionScores.ts";
import { weightedValues } from "../../src/sim/attentionValues.ts";
import { attentionWasm, attentionWasmScale, attentionWasmSoftmax, attentionWasmValues, WASM_MIN_LIVE } from "../../src/sim/attentionWasm.ts";
import type { Precision } from "../../src/sim/prepare.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { softmaxCut, softmaxLive } from "../../src/sim/softmax.ts";
import { wasmAvailable } from "../../src/sim/wasm.ts";
import { fcParams } from "../support/seed.ts";

const PRECISIONS: readonly Precision[] = ["float64", "float32"];
const bits = (a: ArrayLike<number>): string[] => Array.from(a, (x) => (Object.is(x, -0) ? "-0" : String(x)));

describe.runIf(wasmAvailable())("the KV cache's WebAssembly softmax", () => {
  it("gives scaleScores + softmaxLive's bits, or declines (NaN, infinities, exponents past the cut or −708)", () => {
    let taken = 0, declined = 0;
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 300 }),
      E: fc.integer({ min: 1, max: 64 }),
      spread: fc.constantFrom(1, 30, 300, 3000, 1e5),
      special: fc.constantFrom("none", "none", "nan", "inf", "-inf", "zeros"),
      seed: fc.integer({ min: 0, max: 1e6 }),
      precision: fc.constantFrom(...PRECISIONS),
    });
    fc.assert(
      fc.property(arb, ({ n, E, spread, special, seed, precision }) => {
        const rand = mulberry32(seed);
        const C = 320;
        const w = attentionWasm(precision, 1, E, C)!;
        const raw = Array.from({ length: n }, () => (rand() - 0.5) * spread);
        if (special === "zeros") for (let j = 0; j < n; j += 3) raw[j] = j % 2 ? -0 : 0;
        else if (special !== "none") raw[Math.floor(rand() * n)] = special === "nan" ? NaN : special === "inf" ? Infinity : -Infinity;
        const job = attentionJob(precision, E, C);
        job.nKeys = n;
        // JavaScript: scale, then softmaxLive.
        const jsBuf = precision === "float32" ? Float32Array.from(raw) : Float64Array.from(raw);
        const jsMax = scaleScores(jsBuf, n, job.sqrtE, job.f32);
        const jsLive = new Int32Array(C);
        const jsN = softmaxLive(jsBuf, n, jsMax, jsLive, softmaxCut(jsBuf));
        // WebAssembly (stale lanes past n: NaN, which must not leak in).
        w.buf.fill(NaN);
        w.buf.set(raw);
        const max = attentionWasmScale(w, job);
        expect(max + 0).toBe(jsMax + 0); // ±0 maxima weigh the same (x − (±0) = x up to the sign of a 0, whose exponent is 1)
        let got = attentionWasmSoftmax(w, job, max);
        if (got < 0) {
          declined++;
          got = softmaxLive(w.buf, n, max, w.live, softmaxCut(w.buf));
        } else taken++;
        expect(got).toBe(jsN);
        expect(bits(w.buf.subarray(0, n))).toEqual(bits(jsBuf.subarray(0, n)));
        expect(Array.from(w.live.subarray(0, got))).toEqual(Array.from(jsLive.subarray(0, jsN)));
      }),
      fcParams({ numRuns: 400 }),
    );
    // Both branches were exercised.
    expect(taken).toBeGreaterThan(50);
    expect(declined).toBeGreaterThan(50);
  });

  it("value sums of any row width (passes of 16, 8, 4, 2, 1 vectors) give weightedValues's bits", () => {
    const arb = fc.record({
      E: fc.integer({ min: 1, max: 80 }),
      n: fc.integer({ min: WASM_MIN_LIVE, max: 120 }),
      dead: fc.constantFrom(0, 0.5),
      seed: fc.integer({ min: 0, max: 1e6 }),
      precision: fc.constantFrom(...PRECISIONS),
    });
    fc.assert(
      fc.property(arb, ({ E, n, dead, seed, precision }) => {
        const rand = mulberry32(seed);
        const C = 128, heads = 2, head = 1;
        const w = attentionWasm(precision, heads, E, C)!;
        w.head = head;
        for (let j = 0; j < n; j++) for (let e = 0; e < E; e++) w.v[(head * C + j) * w.Ep + e] = rand() * 2 - 1;
        let nLive = 0;
        for (let j = 0; j < n; j++) {
          const on = rand() >= dead;
          w.buf[j] = on ? rand() : 0;
          if (on) w.live[nLive++] = j;
        }
        const job = attentionJob(precision, E, C);
        const zeros = (): Float32Array | Float64Array => (precision === "float32" ? new Float32Array(E) : new Float64Array(E));
        Object.assign(job, { v: w.v, kOff: head * C * w.Ep, stride: w.Ep, nKeys: n, buf: w.buf, live: w.live, z: zeros(), zOff: 0 });
        weightedValues(job, nLive);
        const want = bits(job.z);
        job.z = zeros();
        if (nLive < WASM_MIN_LIVE) return; // the JavaScript loops run there
        expect(attentionWasmValues(w, job, nLive)).toBe(true);
        expect(bits(job.z)).toEqual(want);
      }),
      fcParams({ numRuns: 200 }),
    );
  });
});
