/**
 * The attention test matrix: every path (dense loops, sparse-query and
 * live-column loops, whole sequences through the WebAssembly products, the KV
 * cache in JavaScript and in WebAssembly memory) × every precision against
 * the mathjs reference — one head at the kernel boundary, and whole models
 * through forward/forwardBatch/IncrementalRun against referenceForward — and
 * the paths of one precision against each other, bit for bit.
 */
import fc from "fast-check";
import { divide, exp, max, multiply, subtract, sum } from "mathjs";
import { describe, expect, it } from "vitest";
import { attend, attendRow, attentionJob, type AttentionJob } from "../../src/sim/attention.ts";
import { attendSequenceCopying, wholeSequenceStats } from "../../src/sim/attentionSequences.ts";
import { threadSettings } from "../../src/kernels/helper.ts";
import { forward, forwardBatch } from "../../src/sim/forward.ts";
import { IncrementalRun, KV_WASM_MIN_CONTEXT } from "../../src/sim/kvcache.ts";
import { attentionWasm, storeKey, WASM_MIN_KEYS } from "../../src/sim/attentionWasm.ts";
import type { Precision } from "../../src/sim/prepare.ts";
import { mulberry32, randomWeights } from "../../src/sim/random.ts";
import { referenceForward } from "../../src/sim/reference.ts";
import { expNeg, softmaxLive } from "../../src/sim/softmax.ts";
import { wasmAvailable } from "../../src/sim/wasm.ts";
import { expectIdentical, rowOf } from "./gen.ts";
import { fcParams } from "../support/seed.ts";
import type { FloatArray } from "../../src/model/weights.ts";

const PRECISIONS: readonly Precision[] = ["float64", "float32"];
/** Relative tolerance against the float64 mathjs reference. */
const TOL: Record<Precision, number> = { float64: 1e-9, float32: 2e-4 };

/** Throw unless |a − b| ≤ tol · scale everywhere, scale = max(1, max |b|). */
function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol * scale)) {
      throw new Error(`${label}[${i}]: ${actual[i]} vs expected ${expected[i]} (tol ${tol} × ${scale})`);
    }
  }
}

/** softmax(q·Kᵀ/√E)·V for one query with mathjs, in float64: [pattern, z]. */
function mathjsHead(q: number[], keys: number[][], values: number[][]): [number[], number[]] {
  const raw = multiply(keys, q) as number[];
  const scaled = divide(raw, Math.sqrt(q.length)) as number[];
  const e = (subtract(scaled, max(scaled)) as number[]).map((x) => exp(x));
  const p = divide(e, sum(e)) as number[];
  return [p, multiply(p, values) as number[]];
}

/** One head's inputs laid out as the simulator lays them out: key j at kOff + j·stride. */
interface HeadCase {
  readonly E: number;
  readonly n: number;
  readonly precision: Precision;
  readonly q: FloatArray;
  readonly k: FloatArray;
  readonly v: FloatArray;
  readonly kOff: number;
  readonly stride: number;
  readonly cols: Int32Array;
}

const arbHead: fc.Arbitrary<HeadCase> = fc.record({
  E: fc.integer({ min: 1, max: 12 }),
  n: fc.integer({ min: 1, max: 40 }),
  pad: fc.integer({ min: 0, max: 3 }),
  seed: fc.integer({ min: 0, max: 1e6 }),
  density: fc.constantFrom(0.1, 0.3, 1),
  scale: fc.constantFrom(1, 40),
  precision: fc.constantFrom(...PRECISIONS),
}).map(({ E, n, pad, seed, density, scale, precision }) => {
  const rand = mulberry32(seed);
  const make = (len: number, f: () => number): FloatArray =>
    precision === "float32" ? Float32Array.from({ length: len }, f) : Float64Array.from({ length: len }, f);
  // Whole zero value columns and sparse queries, as compiled weights make them.
  const liveCol = Array.from({ length: E }, () => density === 1 || rand() < 0.5);
  const stride = E + pad, kOff = pad;
  const q = make(E, () => (rand() < density ? (rand() - 0.5) * scale : 0));
  const k = make(kOff + n * stride, () => (rand() - 0.5) * scale);
  const v = make(kOff + n * stride, () => 0);
  for (let j = 0; j < n; j++) for (let e = 0; e < E; e++) if (liveCol[e]) v[kOff + j * stride + e] = (rand() - 0.5) * 4;
  const cols = Int32Array.from(liveCol.flatMap((l, e) => (l ? [e] : [])));
  return { E, n, precision, q, k, v, kOff, stride, cols };
});

/** Run attend() on a head case with the given shortcuts; returns [pattern, z]. */
function runHead(c: HeadCase, sparseQuery: boolean, vCols: Int32Array | null): [FloatArray, FloatArray] {
  const job: AttentionJob = attentionJob(c.precision, c.E, c.n);
  const z = c.precision === "float32" ? new Float32Array(c.E + 2).fill(7) : new Float64Array(c.E + 2).fill(7);
  Object.assign(job, { q: c.q, qOff: 0, k: c.k, v: c.v, kOff: c.kOff, stride: c.stride, nKeys: c.n, z, zOff: 1, sparseQuery, vCols });
  attend(job);
  return [job.buf.slice(0, c.n), z.slice(1, 1 + c.E)];
}

describe("attend(): one head, every loop × every precision", () => {
  it("dense loops, sparse-query loops and live value columns agree bit for bit and with mathjs", () => {
    fc.assert(
      fc.property(arbHead, (c) => {
        const keys = Array.from({ length: c.n }, (_, j) => Array.from(c.k.subarray(c.kOff + j * c.stride, c.kOff + j * c.stride + c.E)));
        const values = Array.from({ length: c.n }, (_, j) => Array.from(c.v.subarray(c.kOff + j * c.stride, c.kOff + j * c.stride + c.E)));
        const [wantP, wantZ] = mathjsHead(Array.from(c.q), keys, values);
        const [p0, z0] = runHead(c, false, null);
        expectNear(p0, wantP, TOL[c.precision], `${c.precision} dense pattern`);
        expectNear(z0, wantZ, TOL[c.precision], `${c.precision} dense z`);
        for (const [sparse, cols] of [[true, null], [false, c.cols], [true, c.cols]] as const) {
          const [p, z] = runHead(c, sparse, cols);
          expectIdentical(p, p0, `${c.precision} sparse=${sparse} cols=${cols !== null} pattern`);
          expectIdentical(z, z0, `${c.precision} sparse=${sparse} cols=${cols !== null} z`);
        }
        if (c.precision === "float32") for (const x of z0) expect(Math.fround(x)).toBe(x);
      }),
      fcParams({ numRuns: 300 }),
    );
  });

  it("reads no key beyond nKeys (the causal mask is the loop bound), in both precisions", () => {
    for (const precision of PRECISIONS) {
      const Arr = precision === "float32" ? Float32Array : Float64Array;
      const job = attentionJob(precision, 1, 3);
      Object.assign(job, {
        q: Arr.from([1]), k: Arr.from([0, 0, NaN]), v: Arr.from([2, 4, NaN]), // key 2 is poisoned
        kOff: 0, stride: 1, nKeys: 2, z: new Arr(1), zOff: 0,
      });
      attend(job);
      expect(job.z[0]).toBe(3);
      expect(Array.from(job.buf.subarray(0, 2))).toEqual([0.5, 0.5]);
    }
  });

  it("a NaN score spreads to the whole pattern and z, as a plain softmax spreads it", () => {
    const buf = Float64Array.from([0, NaN, -1]);
    const live = new Int32Array(3);
    expect(softmaxLive(buf, 3, 0, live, -745)).toBe(3);
    expect(Array.from(buf).every(Number.isNaN)).toBe(true);
  });
});

describe.runIf(wasmAvailable())("the SIMD KV kernels (attentionWasm.ts)", () => {
  it("give the JavaScript loops' bits for any key count, head width and set of live keys", () => {
    const arb = fc.record({
      E: fc.constantFrom(5, 8, 36, 72),
      n: fc.integer({ min: 1, max: 150 }),
      dead: fc.constantFrom(0, 0.3, 0.9),
      seed: fc.integer({ min: 0, max: 1e6 }),
      precision: fc.constantFrom(...PRECISIONS),
    });
    fc.assert(
      fc.property(arb, ({ E, n, dead, seed, precision }) => {
        const rand = mulberry32(seed);
        const C = 160, heads = 2, head = 1;
        const w = attentionWasm(precision, heads, E, C)!;
        const make = (len: number, f: (i: number) => number): FloatArray =>
          precision === "float32" ? Float32Array.from({ length: len }, (_, i) => f(i)) : Float64Array.from({ length: len }, (_, i) => f(i));
        const q = make(E, () => rand() - 0.5);
        const k = make(heads * C * w.Ep, () => 0);
        for (let j = 0; j < n; j++) {
          // Dead keys point against q, so far that their weight is cut to 0: partial live lists.
          const away = rand() < dead;
          const row = make(E, (e) => (away ? -q[e] * 1e4 : rand() - 0.5));
          k.set(row, (head * C + j) * w.Ep);
          storeKey(w, head, j, row, 0);
          for (let e = 0; e < E; e++) w.v[(head * C + j) * w.Ep + e] = rand() * 2 - 1;
        }
        const run = (withWasm: boolean): [number[], number[]] => {
          const job = attentionJob(precision, E, C);
          Object.assign(job, { q, qOff: 0, k, v: w.v, kOff: head * C * w.Ep, stride: w.Ep, nKeys: n, z: make(E, () => 0), zOff: 0, sparseQuery: false });
          if (withWasm) Object.assign(job, { wasm: w, buf: w.buf, live: w.live });
          w.head = head;
          attend(job);
          return [Array.from(job.buf.subarray(0, n)), Array.from(job.z)];
        };
        const [pJs, zJs] = run(false);
        const [pW, zW] = run(true);
        expect(pW).toEqual(pJs);
        expect(zW).toEqual(zJs);
      }),
      fcParams({ numRuns: 200 }),
    );
  });
});

describe("expNeg", () => {
  it("is within 2 units in the last place of Math.exp on [−750, 0], exactly 1 at 0 and NaN at NaN", () => {
    expect(expNeg(0)).toBe(1);
    expect(expNeg(-0)).toBe(1);
    expect(expNeg(NaN)).toBeNaN();
    expect(expNeg(-1e4)).toBe(0);
    fc.assert(
      fc.property(fc.double({ min: -750, max: 0, noNaN: true }), (x) => {
        const want = Math.exp(x);
        const ulp = want === 0 ? Number.MIN_VALUE : 2 ** (Math.floor(Math.log2(want)) - 52);
        expect(Math.abs(expNeg(x) - want)).toBeLessThanOrEqual(2 * Math.max(ulp, Number.MIN_VALUE));
      }),
      fcParams({ numRuns: 2000 }),
    );
  });
});

/** A model and a token list; long ones reach the whole-sequence and WebAssembly KV paths. */
const arbModel = fc.record({
  d_head: fc.integer({ min: 1, max: 6 }),
  n_heads: fc.integer({ min: 1, max: 3 }),
  n_layers: fc.integer({ min: 1, max: 2 }),
  d_model: fc.integer({ min: 2, max: 10 }),
  d_vocab: fc.integer({ min: 2, max: 6 }),
  long: fc.boolean(),
  seed: fc.integer(),
  density: fc.constantFrom(1, 0.3, 0.05),
  precision: fc.constantFrom(...PRECISIONS),
}).chain((m) => {
  // Long: past WASM_ATTENTION_MIN_LENGTH (whole sequences) and KV_WASM_MIN_CONTEXT / WASM_MIN_KEYS (the SIMD KV step).
  const n_ctx = m.long ? KV_WASM_MIN_CONTEXT + 8 : 10;
  return fc.array(fc.integer({ min: 0, max: m.d_vocab - 1 }), { minLength: m.long ? WASM_MIN_KEYS + 8 : 1, maxLength: n_ctx }).map((tokens) => ({
    ...m, tokens,
    weights: randomWeights({ d_model: m.d_model, d_head: m.d_head, n_heads: m.n_heads, n_layers: m.n_layers, n_ctx, d_vocab: m.d_vocab }, m.seed, { density: m.density }),
  }));
});

describe("every path × every precision on whole models", () => {
  it("rows (sparse and dense products), whole sequences, batches and the KV cache match mathjs; one precision's paths match bit for bit", () => {
    fc.assert(
      fc.property(arbModel, ({ weights, tokens, precision }) => {
        const { d_vocab_out: Vo, n_layers: L, n_heads: H } = weights.config;
        const T = tokens.length;
        const ref = referenceForward(weights, tokens);
        const tol = TOL[precision] * (precision === "float32" ? 10 : 1);
        // "never": dense products, and whole-sequence attention once T ≥ 16 (with WebAssembly);
        // "always": sparse products and row-by-row attention with sparse queries.
        for (const sparse of ["never", "always"] as const) {
          const full = forward(weights, tokens, { precision, sparse, cache: true });
          expectNear(full.logits, ref.logits, tol, `${precision} ${sparse} logits`);
          for (let l = 0; l < L; l++) {
            const name = `blocks.${l}.attn.hook_pattern`;
            expectNear(full.cache!.get(name)!.data, ref.cache.get(name)!.data, tol, `${precision} ${sparse} ${name}`);
          }
          const plain = forward(weights, tokens, { precision, sparse }).logits;
          expectIdentical(plain, full.logits, `${precision} ${sparse}: without a trace`);
          const [batched] = forwardBatch(weights, [tokens.slice(0, 1), tokens], { precision, sparse }).slice(1);
          expectIdentical(batched!.logits, plain, `${precision} ${sparse}: batched`);
          const run = new IncrementalRun(weights, { precision, sparse });
          tokens.forEach((tok, t) => expectIdentical(run.push(tok), rowOf(plain, t, Vo), `${precision} ${sparse}: cached position ${t}`));
          for (let l = 0; l < L; l++) {
            const pat = full.cache!.get(`blocks.${l}.attn.hook_pattern`)!.data;
            for (let h = 0; h < H; h++) {
              const row = pat.subarray((h * T + T - 1) * T, (h * T + T) * T);
              expectIdentical(run.pattern(l, h), Float64Array.from(row), `${precision} ${sparse}: cached pattern(${l}, ${h})`);
            }
          }
        }
      }),
      fcParams({ numRuns: 60 }),
    );
  });

  it.runIf(wasmAvailable())("the SIMD KV step on wide heads (whole passes of 16 vectors and remainders) equals forward bit for bit and mathjs", () => {
    for (const d_head of [32, 68]) {
      const weights = randomWeights({ d_model: 24, d_head, n_heads: 2, n_layers: 2, n_ctx: KV_WASM_MIN_CONTEXT + 8, d_vocab: 7 }, d_head, { scale: 0.4 });
      const tokens = Array.from({ length: 2 * WASM_MIN_KEYS + 5 }, (_, i) => (i * i + 3 * i) % 7);
      const ref = referenceForward(weights, tokens).logits;
      for (const precision of PRECISIONS) {
        const plain = forward(weights, tokens, { precision }).logits;
        expectNear(plain, ref, TOL[precision] * 10, `${precision} d_head ${d_head} vs mathjs`);
        const run = new IncrementalRun(weights, { precision });
        tokens.forEach((tok, t) => expectIdentical(run.push(tok), rowOf(plain, t, 7), `${precision} d_head ${d_head} position ${t}`));
      }
    }
  });

  it.runIf(wasmAvailable())("whole sequences equal the KV cache bit for bit on hard attention and on keys past float64's fast exponential", () => {
    // (Finite activations: with an infinite value a masked key's 0·v is NaN in the products, as before.)
    const tokens = Array.from({ length: 48 }, (_, i) => (i * i + 2 * i) % 5);
    let finished = 0;
    for (const scale of [3, 12]) {
      const weights = randomWeights({ d_model: 8, d_head: 4, n_heads: 2, n_layers: 2, n_ctx: 48, d_vocab: 5 }, 11, { scale });
      for (const precision of PRECISIONS) {
        const before = wholeSequenceStats.finishedInJs;
        const plain = forward(weights, tokens, { precision }).logits;
        finished += wholeSequenceStats.finishedInJs - before;
        const run = new IncrementalRun(weights, { precision });
        tokens.forEach((tok, t) => expectIdentical(run.push(tok), rowOf(plain, t, 5), `scale ${scale} ${precision} position ${t}`));
      }
    }
    // float64 keys in [−745, −708) below their row's maximum go back to the JavaScript softmax: that hand-over is covered too.
    expect(finished).toBeGreaterThan(0);
  });

  it.runIf(wasmAvailable())("covers the whole-sequence path (dense heads, T ≥ 16)", () => {
    // Guards the matrix above against silently testing rows only: a dense model long enough
    // for whole-sequence attention still equals the cache bit for bit, and so does a batch
    // whose (sequence, head) pairs all run on the helper thread.
    const weights = randomWeights({ d_model: 8, d_head: 4, n_heads: 2, n_layers: 2, n_ctx: 40, d_vocab: 5 }, 3);
    const tokens = Array.from({ length: 40 }, (_, i) => (i * 7) % 5);
    for (const precision of PRECISIONS) {
      const runs = wholeSequenceStats.runs;
      const plain = forward(weights, tokens, { precision }).logits;
      expect(wholeSequenceStats.runs, `${precision}: one whole-sequence pass per layer`).toBe(runs + 2);
      const run = new IncrementalRun(weights, { precision });
      tokens.forEach((tok, t) => expectIdentical(run.push(tok), rowOf(plain, t, 5), `${precision} position ${t}`));
      const was = threadSettings.helperOnly, chunks = threadSettings.helperChunks;
      threadSettings.helperOnly = true;
      try {
        const [, b] = forwardBatch(weights, [tokens.slice(0, 20), tokens], { precision });
        expectIdentical(b!.logits, plain, `${precision}: pairs on the helper thread`);
      } finally {
        threadSettings.helperOnly = was;
      }
      expect(threadSettings.helperChunks, "chunks the helper ran").toBeGreaterThan(chunks);
    }
  });
});

describe("attendSequenceCopying (the whole-sequence fallback for pairs too big for the module's scratch)", () => {
  it.skipIf(!wasmAvailable())("gives attendRow's bits, in one block of rows or many, float32 and float64", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Precision>("float32", "float64"), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 16, max: 90 }), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(0.3, 1, 6),
        (precision, H, E, T, scoreElements, seed, scale) => {
          const rand = mulberry32(seed);
          const Arr = precision === "float32" ? Float32Array : Float64Array;
          const off = 2 * H * E; // the sequence starts after two other rows
          const n = off + T * H * E;
          const fill = (): FloatArray => {
            const a = new Arr(n);
            for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
            return a;
          };
          const q = fill(), k = fill(), v = fill();
          const zRows = new Arr(n), zSeq = new Arr(n);
          const job = attentionJob(precision, E, T);
          for (let i = 0; i < T; i++) attendRow(job, q, k, v, zRows, off, i, H, null, null);
          const ws = new Map<string, FloatArray>();
          const take = (key: string, len: number): FloatArray => {
            const a = ws.get(key);
            if (a && a.length >= len) return a.subarray(0, len);
            const b = new Arr(len);
            ws.set(key, b);
            return b;
          };
          attendSequenceCopying(attentionJob(precision, E, T), q, k, v, zSeq, off, T, H, take, scoreElements);
          for (let i = 0; i < n; i++) if (!Object.is(zSeq[i], zRows[i])) throw new Error(`z[${i}]: ${zSeq[i]} ≠ ${zRows[i]}`);
        },
      ),
      fcParams({ seed: 4711, numRuns: 60 }),
    );
  });
});
