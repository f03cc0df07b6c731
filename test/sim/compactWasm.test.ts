/**
 * The narrowed forward's WebAssembly kernels (compactWasm.ts), in float32
 * and in float64, against the JavaScript loops they replace, bit for bit:
 * the sparse scores (attentionScores.ts), the value sum (attentionValues.ts)
 * and the one-to-one W_O and W_U products (compact.ts) on random rows —
 * magnitudes from subnormal to overflow, signed zeros, infinities and NaNs,
 * products that underflow to a zero of either sign, weights of exactly 0 in
 * the live list, every width of a vector tail; the first-layer table's copy
 * kept current over calls that add rows; and the whole forward with the
 * kernels on and off against the general path, including a head whose arena
 * views were detached by a later run's growth. The q/k/v product and the
 * table copy are held to the general path by these forward tests and by
 * test/sim/compact.test.ts, which fills the arenas with NaN first.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { arbProgramWithInput } from "../../src/hypothesis/arbitrary.ts";
import type { FloatArray } from "../../src/model/weights.ts";
import { modelInput } from "../../src/model/tokenIds.ts";
import { attentionJob } from "../../src/sim/attention.ts";
import { scores } from "../../src/sim/attentionScores.ts";
import { weightedValues } from "../../src/sim/attentionValues.ts";
import { addOutputDirectF32, addOutputDirectF64, unembedDirect } from "../../src/sim/compact.ts";
import type { CompactModel } from "../../src/sim/compactModel.ts";
import { type CompactArena, compactArena, compactWasmSettings } from "../../src/sim/compactWasm.ts";
import { forward, forwardBatch } from "../../src/sim/forward.ts";
import type { Precision } from "../../src/sim/prepare.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { wasmAvailable } from "../../src/sim/wasm.ts";
import { loadProgram } from "../support/programs.ts";
import { fcParams } from "../support/seed.ts";

const bits = (a: ArrayLike<number>): string[] => Array.from(a, (x) => (Object.is(x, -0) ? "-0" : String(x)));

/** A value of the precision: mostly ordinary, sometimes tiny, huge, a signed zero, an infinity or NaN. */
const arbFloat = (precision: Precision): fc.Arbitrary<number> =>
  precision === "float32"
    ? fc.oneof(
      { weight: 6, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
      { weight: 1, arbitrary: fc.float({ noDefaultInfinity: true, noNaN: true }) },
      { weight: 1, arbitrary: fc.constantFrom(0, -0, 1e-40, -3e38, 3e38, Infinity, -Infinity, NaN) },
    )
    : fc.oneof(
      { weight: 6, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
      { weight: 1, arbitrary: fc.double({ noDefaultInfinity: true, noNaN: true }) },
      { weight: 1, arbitrary: fc.constantFrom(0, -0, 5e-324, 1e-310, -1.7e308, 1.7e308, Infinity, -Infinity, NaN) },
    );

/** A weight in [0, 1] of the precision, or exactly 0. */
const arbWeight = (precision: Precision): fc.Arbitrary<number> =>
  fc.oneof(precision === "float32" ? fc.float({ min: 0, max: 1, noNaN: true }) : fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(0));

/** Products that round to a zero of either sign in the precision. */
const TINY: Record<Precision, number[]> = { float32: [1e-30, -1e-30, 1e-25], float64: [1e-200, -1e-200, 1e-170] };

const floatArray = (precision: Precision, a: ArrayLike<number>): FloatArray => (precision === "float32" ? Float32Array.from(a) : Float64Array.from(a));

/** An arena for the kernels alone: N rows of W3 q/k/v columns and WV z columns, maxKeys keys, queries maxS wide. */
function arenaOf(precision: Precision, N: number, W3: number, WV: number, maxKeys: number, maxS: number): CompactArena {
  const cm = {
    model: { precision, config: { d_model: 1, d_vocab_out: 1 } }, maxWidth: W3, maxWV: WV, maxS, layers: [], unembedDirect: null, unembedReads: new Int32Array(0), bU: null,
  } as unknown as CompactModel;
  return compactArena(cm, N, maxKeys, 0, null)!;
}

const PRECISIONS: readonly Precision[] = ["float32", "float64"];

describe.runIf(wasmAvailable())("narrowed attention in WebAssembly (compactWasm.ts)", () => {
  afterEach(() => {
    compactWasmSettings.enabled = true;
  });

  describe.each(PRECISIONS)("%s", (precision) => {
    const bytes = precision === "float32" ? 4 : 8;

    it("scores a sparse query against every key as attentionScores.ts does", () => {
      const arb = fc.record({ E: fc.integer({ min: 2, max: 40 }), keys: fc.integer({ min: 0, max: 20 }), seed: fc.integer() }).chain(({ E, keys }) =>
        fc.record({
          E: fc.constant(E), keys: fc.constant(keys),
          rows: fc.array(arbFloat(precision), { minLength: (keys + 1) * E, maxLength: (keys + 1) * E }),
          // A sparse query: fewer than E/2 nonzero coordinates, the rest zeros of either sign.
          nonzero: fc.uniqueArray(fc.integer({ min: 0, max: E - 1 }), { maxLength: Math.ceil(E / 2) - 1 }),
          negZero: fc.boolean(),
        }),
      );
      fc.assert(
        fc.property(arb, ({ E, keys, rows, nonzero, negZero }) => {
          const W = E; // one array: the query is row `keys`, keys are rows 0 … keys−1
          const a = arenaOf(precision, keys + 1, W, 1, Math.max(keys, 1), E);
          a.qkv.set(rows);
          const q = keys * W;
          for (let e = 0; e < E; e++) if (!nonzero.includes(e)) a.qkv[q + e] = negZero ? -0 : 0;
          const job = attentionJob(precision, E, keys, Math.sqrt(3 * E));
          job.q = job.k = a.qkv;
          job.qOff = q;
          job.kOff = 0;
          job.stride = W;
          job.nKeys = keys;
          let nq = 0;
          for (let e = 0; e < E; e++) if (a.qkv[q + e] !== 0) a.qIdx[nq++] = e;
          expect(nq * 2).toBeLessThan(E);
          job.qIdx.set(a.qIdx.subarray(0, nq));
          const max = scores(job, nq);
          const jsScores = bits(job.buf.subarray(0, keys));
          const got = a.ex.scores(a.qkvAt + bytes * q, a.qIdxAt, nq, a.qkvAt, bytes * W, keys, job.sqrtE, a.bufAt);
          expect(bits(a.buf.subarray(0, keys))).toEqual(jsScores);
          expect(bits([got])).toEqual(bits([max]));
        }),
        fcParams({ seed: 2201, numRuns: 200 }),
      );
    });

    it("sums the listed keys' values as attentionValues.ts does, every column count, skipping weights of 0", () => {
      const arb = fc.record({ cols: fc.integer({ min: 1, max: 21 }), keys: fc.integer({ min: 1, max: 12 }), pad: fc.integer({ min: 0, max: 3 }) }).chain(({ cols, keys, pad }) =>
        fc.record({
          cols: fc.constant(cols), keys: fc.constant(keys), pad: fc.constant(pad),
          v: fc.array(arbFloat(precision), { minLength: keys * (cols + pad), maxLength: keys * (cols + pad) }),
          weights: fc.array(arbWeight(precision), { minLength: keys, maxLength: keys }),
          live: fc.subarray(Array.from({ length: keys }, (_, j) => j)),
        }),
      );
      fc.assert(
        fc.property(arb, ({ cols, keys, pad, v, weights, live }) => {
          const W = cols + pad; // value rows padded, as v sits beside q and k in a q/k/v row
          const a = arenaOf(precision, keys + 1, W, cols, keys, 1);
          a.qkv.set(v);
          // A row past the values, that the kernel must not write: z is one row after the sums.
          a.z.fill(7);
          a.buf.set(weights);
          a.live.set(live);
          const job = attentionJob(precision, cols, keys);
          job.v = a.qkv;
          job.kOff = 0;
          job.stride = W;
          job.buf = floatArray(precision, weights);
          job.live = Int32Array.from(live);
          job.z = floatArray(precision, new Array<number>(cols).fill(0));
          job.zOff = 0;
          weightedValues(job, live.length);
          a.ex.values(a.bufAt, a.liveAt, live.length, a.qkvAt, bytes * W, a.zAt, cols);
          expect(bits(a.z.subarray(0, cols))).toEqual(bits(job.z));
          expect(Array.from(a.z.subarray(cols))).toEqual(Array.from({ length: a.z.length - cols }, () => 7));
        }),
        fcParams({ seed: 2202, numRuns: 200 }),
      );
    });

    it("adds one-to-one W_O and W_U products as compact.ts's addOutputDirect and unembedDirect do", () => {
      // Tiny products that round to a zero of either sign, added to residuals of ±0, among ordinary floats.
      const arbTiny = fc.oneof(arbFloat(precision), fc.constantFrom(...TINY[precision], -0, 0));
      const arb = fc.record({ N: fc.integer({ min: 1, max: 5 }), D: fc.integer({ min: 1, max: 9 }), WV: fc.integer({ min: 1, max: 9 }), Vo: fc.integer({ min: 1, max: 9 }), bias: fc.boolean() })
        .chain((c) => fc.record({
          c: fc.constant(c),
          resid: fc.array(arbTiny, { minLength: c.N * c.D, maxLength: c.N * c.D }),
          z: fc.array(arbTiny, { minLength: c.N * c.WV, maxLength: c.N * c.WV }),
          // W_O: column t to residual coordinate oCols[t] (−1: none), no two the same; W_U: reads[t] to logit uCols[t].
          oCols: fc.uniqueArray(fc.integer({ min: -c.WV, max: c.D - 1 }), { minLength: c.WV, maxLength: c.WV }).map((a) => a.map((x) => Math.max(x, -1))),
          oVals: fc.array(arbTiny, { minLength: c.WV, maxLength: c.WV }),
          reads: fc.uniqueArray(fc.integer({ min: 0, max: c.D - 1 }), { minLength: 1, maxLength: Math.min(c.D, c.Vo) }).map((a) => a.sort((x, y) => x - y)),
          uCols: fc.shuffledSubarray(Array.from({ length: c.Vo }, (_, j) => j), { minLength: Math.min(c.D, c.Vo), maxLength: Math.min(c.D, c.Vo) }),
          uVals: fc.array(arbTiny, { minLength: c.D, maxLength: c.D }),
          bU: fc.array(arbFloat(precision), { minLength: c.Vo, maxLength: c.Vo }),
        }));
      fc.assert(
        fc.property(arb, ({ c, resid, z, oCols, oVals, reads, uCols, uVals, bU }) => {
          const { N, D, WV, Vo } = c;
          const o = { cols: Int32Array.from(oCols), vals: floatArray(precision, oVals) };
          const u = { cols: Int32Array.from(uCols.slice(0, reads.length)), vals: floatArray(precision, uVals.slice(0, reads.length)) };
          const bias = c.bias ? floatArray(precision, bU) : null;
          const readsArr = Int32Array.from(reads);
          const cm = {
            model: { precision, config: { d_model: D, d_vocab_out: Vo } }, maxWidth: 1, maxWV: WV, maxS: 1,
            layers: [{ oDirect: o, reads: new Int32Array(0), qkv: { rowPtr: new Int32Array(1), colIdx: new Int32Array(0), vals: floatArray(precision, []) }, bqkv: null }],
            unembedDirect: u, unembedReads: readsArr, bU: bias,
          } as unknown as CompactModel;
          const a = compactArena(cm, N, 1, 0, null)!;
          // JavaScript first, on copies.
          const jsResid = floatArray(precision, resid), jsOut = floatArray(precision, new Array<number>(N * Vo).fill(0));
          if (jsResid instanceof Float32Array) addOutputDirectF32(o, WV, floatArray(precision, z), N, D, jsResid);
          else addOutputDirectF64(o, WV, floatArray(precision, z), N, D, jsResid);
          unembedDirect(u, readsArr, bias, jsResid, N, D, jsOut, Vo);
          a.resid.set(resid);
          a.z.set(z);
          a.ex.addDirect(a.zAt, WV, a.oDirect[0]!.cols, a.oDirect[0]!.vals, N, a.residAt, bytes * D);
          expect(bits(a.resid)).toEqual(bits(jsResid));
          const ua = a.unembedDirect!;
          a.ex.unembedDirect(a.residAt, bytes * D, N, ua.reads, ua.cols, ua.vals, reads.length, a.outAt, Vo, a.biasAt);
          expect(bits(a.out)).toEqual(bits(jsOut));
        }),
        fcParams({ seed: 2204, numRuns: 200 }),
      );
    });

    it("keeps its copy of the first-layer table current as later calls add (token, position) rows", () => {
      // Each call meets pairs no earlier call did (a wider alphabet, longer sequences), with the kernels on
      // throughout: a copy of the table not refreshed gives the earlier rows' values, or the memory's.
      const weights = compile(loadProgram("induction")).weights;
      for (let k = 1; k <= 6; k++) {
        const batch = [0, 1, 2].map((s) => modelInput(Array.from({ length: 4 * k + s }, (_, p) => (p * (s + 1) + k) % (k + 1))));
        const general = batch.map((tokens) => bits(forward(weights, tokens, { precision, cache: true }).logits));
        expect(forwardBatch(weights, batch, { precision }).map((r) => bits(r.logits))).toEqual(general);
      }
    });

    it("gives the general path's logits with the kernels on and off, on compiled programs and random sparse weights", () => {
      // Each setting against the general path (forward with a cache: no narrowing, no pattern records,
      // which would carry a wrong row from one run into the next).
      const same = (weights: Parameters<typeof forwardBatch>[0], batch: number[][]): void => {
        const general = batch.map((tokens) => bits(forward(weights, tokens, { precision, cache: true }).logits));
        for (const enabled of [false, true]) {
          compactWasmSettings.enabled = enabled;
          expect(forwardBatch(weights, batch, { precision }).map((r) => bits(r.logits))).toEqual(general);
        }
      };
      fc.assert(
        fc.property(arbProgramWithInput(), ({ program, input }) => {
          const tokens = modelInput(input);
          same(compile(program).weights, [tokens, tokens.slice(0, (tokens.length + 1) >> 1), tokens]);
        }),
        fcParams({ seed: 2203, numRuns: 20 }),
      );
      // A head last run on an arena whose memory has grown since (its views detached) runs in JavaScript
      // again: on a sequence its pattern record does not hold, so that it scores sparse queries.
      const induction = compile(loadProgram("induction")).weights;
      same(induction, [[0, 1, 2, 3, 1, 2, 3, 4, 1]]);
      const big = randomWeights({ d_model: 64, d_head: 16, n_heads: 4, n_layers: 1, n_ctx: 512, d_vocab: 9 }, 1, { density: 0.05 });
      // 16 × 512 rows: more than any run before needed, so the memory grows.
      forwardBatch(big, Array.from({ length: 16 }, () => Array.from({ length: 512 }, (_, i) => i % 9)), { precision });
      same(induction, [[0, 5, 6, 7, 5, 6, 2, 5]]);
      for (let seed = 0; seed < 6; seed++) {
        const weights = randomWeights({ d_model: 32, d_head: 8, n_heads: 2, n_layers: 2, n_ctx: 24, d_vocab: 11 }, seed, { density: 0.05, scale: 4 });
        same(weights, [[0, 3, 5, 3, 5, 2, 9, 1, 3, 5], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3]]);
      }
    });
  });
});
