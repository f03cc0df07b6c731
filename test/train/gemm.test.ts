import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kernelSettings } from "../../src/kernels/module.ts";
import { wasmSettings } from "../../src/sim/wasm.ts";
import { ACCUMULATE, CAUSAL_N, gemm, gemmKernels, K_FROM, K_UPTO, product, workspace } from "../../src/train/gemm.ts";
import { ROWS } from "../../src/kernels/gemmCode.ts";
import type { TrainPrecision } from "../../src/train/params.ts";
import { Rng } from "../../src/train/rng.ts";

/** One random product: shapes, strides (A plain or transposed), mode; operands filled at random. */
function cases(seed: number, n: number) {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const M = 1 + rng.int(21), N = 1 + rng.int(21), K = 1 + rng.int(21);
    const trans = rng.next() < 0.5;
    const lda = (trans ? M : K) + rng.int(3);
    const ldb = N + rng.int(9), ldo = N + rng.int(9);
    const mode = rng.int(16);
    return { M, N, K, trans, lda, ldb, ldo, mode, fill: rng.int(1 << 30) };
  });
}

/** Run one case on a fresh workspace; returns out and the untouched copy of the workspace before. */
function run(precision: TrainPrecision, c: ReturnType<typeof cases>[number]) {
  const { M, N, K, trans, lda, ldb, ldo, mode } = c;
  const aRows = trans ? K : M;
  const a = 0, b = a + aRows * lda + 8, o = b + K * ldb + 8, end = o + M * ldo + 8;
  const ws = workspace(precision, end + 64);
  const rng = new Rng(c.fill);
  for (let i = 0; i < end + 64; i++) ws.m[i] = rng.normal();
  const before = Float64Array.from(ws.m.subarray(0, end + 64));
  const ars = trans ? 1 : lda, aks = trans ? lda : 1;
  gemm(ws, M, N, K, a, ars, aks, b, ldb, o, ldo, mode);
  return { after: Float64Array.from(ws.m.subarray(0, end + 64)), before, o, ars, aks, b };
}

describe("training product kernel", () => {
  // The plain multiply-add is the one the JavaScript twin reproduces bit for bit.
  beforeAll(() => void (kernelSettings.mulAdd = "plain"));
  afterAll(() => void (kernelSettings.mulAdd = "auto"));

  for (const precision of ["float32", "float64"] as const) {
    it(`${precision}: WebAssembly and JavaScript give the same bits, write only out[:M, :N] where the mode says, and sum what the mode says`, () => {
      expect(gemmKernels()).not.toBeNull();
      for (const c of cases(precision === "float32" ? 5 : 6, 300)) {
        const w = run(precision, c);
        wasmSettings.enabled = false;
        let j: ReturnType<typeof run>;
        try {
          j = run(precision, c);
        } finally {
          wasmSettings.enabled = true;
        }
        expect(w.after, JSON.stringify(c)).toEqual(j.after);
        // Reference: a plain double sum over the rows, columns and k range the mode defines.
        const { M, N, K, ldo, mode } = c;
        const PE = precision === "float32" ? 8 : 4;
        const expected = Float64Array.from(w.before);
        for (let p = 0; p * PE < N; p++) {
          const first = mode & CAUSAL_N ? p * PE : 0;
          for (let i = first; i < M; i++) {
            // rows go in blocks of ROWS from `first` while a whole block fits, then one at a time
            const inBlock = first + Math.floor((i - first) / ROWS) * ROWS + ROWS <= M;
            const i0 = inBlock ? first + Math.floor((i - first) / ROWS) * ROWS : i;
            const k0 = mode & K_FROM ? i0 : 0, k1 = mode & K_UPTO ? Math.min(K, i0 + (inBlock ? ROWS : 1)) : K;
            for (let jj = p * PE; jj < Math.min(N, p * PE + PE); jj++) {
              const idx = w.o + i * ldo + jj;
              let s = mode & ACCUMULATE ? w.before[idx]! : 0;
              for (let k = k0; k < k1; k++) s += w.before[i * w.ars + k * w.aks]! * w.before[w.b + k * c.ldb + jj]!;
              expected[idx] = s;
            }
          }
        }
        let worst = 0;
        for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i]! - w.after[i]!) / (1 + Math.abs(expected[i]!)));
        expect(worst, JSON.stringify(c)).toBeLessThan(precision === "float32" ? 1e-5 : 1e-13);
      }
    });
  }

  for (const precision of ["float32", "float64"] as const) {
    it(`${precision}: a product cut in chunks (rows, or panels with k in blocks) for two threads gives the bits of one call`, () => {
      const rng = new Rng(precision === "float32" ? 21 : 22);
      for (const [M, N, K, trans, split] of [[300, 70, 65, "n", "rows"], [65, 200, 700, "t", "panels"], [73, 64, 2016, "t", "panels"], [9, 13, 300, "n", "panels"]] as const) {
        for (const mode of [0, ACCUMULATE]) {
          const lda = (trans === "t" ? M : K) + 3, ldb = N + 5, ldo = N + 2;
          const a = 0, b = (trans === "t" ? K : M) * lda + 8, o = b + K * ldb + 8, o2 = o + M * ldo + 8, end = o2 + M * ldo + 8;
          const ws = workspace(precision, end + 2 * 64 + 64);
          for (let i = 0; i < end; i++) ws.m[i] = rng.normal();
          ws.m.copyWithin(o2, o, o + M * ldo);
          const ars = trans === "t" ? 1 : lda, aks = trans === "t" ? lda : 1;
          gemm(ws, M, N, K, a, ars, aks, b, ldb, o, ldo, mode);
          product(ws, M, N, K, a, ars, aks, b, ldb, o2, ldo, mode, split, [end, end + 64]);
          expect(Array.from(ws.m.subarray(o2, o2 + M * ldo)), `${M}×${N}×${K} ${split} mode ${mode}`).toEqual(Array.from(ws.m.subarray(o, o + M * ldo)));
        }
      }
    });
  }
});

describe("float32 attention kernels", () => {
  type Softmax = (p: number, T: number, tpBytes: number, scale: number) => void;
  type ScoreGrad = (p: number, g: number, T: number, tpBytes: number, scale: number) => void;

  it("softmax32 gives the causal softmax of each scaled row (relative error < 2e-6: float32 sums and a one-ulp exp) and zeros right of the diagonal; scoreGrad32 gives P ∘ (G − rowsum(P ∘ G))·scale (error < 1e-6 of its terms' size)", () => {
    const k = gemmKernels()!;
    const softmax = k.jobs.softmax32 as unknown as Softmax, scoreGrad = k.jobs.scoreGrad32 as unknown as ScoreGrad;
    const rng = new Rng(31);
    for (const [T, Tp, spread] of [[37, 40, 5], [63, 64, 30], [5, 8, 0.1]] as const) {
      const ws = workspace("float32", 2 * T * Tp + 64);
      const P = 0, G = T * Tp, m = ws.m;
      for (let i = 0; i < 2 * T * Tp; i++) m[i] = spread * rng.normal();
      const scores = Float64Array.from(m.subarray(P, P + T * Tp));
      const g = Float64Array.from(m.subarray(G, G + T * Tp));
      const scale = 0.25;
      softmax(ws.base + P * 4, T, Tp * 4, scale);
      let worst = 0, worstGrad = 0;
      for (let i = 0; i < T; i++) {
        const row = Array.from(scores.subarray(i * Tp, i * Tp + i + 1), (x) => Math.fround(x * scale));
        const max = Math.max(...row);
        const ex = row.map((x) => Math.exp(Math.fround(x - max))); // the kernel subtracts in float32 too
        const sum = ex.reduce((a, x) => a + x, 0);
        for (let j = 0; j < Tp; j++) {
          const got = m[P + i * Tp + j]!;
          if (j > i) expect(got, `P[${i}, ${j}]`).toBe(0);
          else worst = Math.max(worst, Math.abs(got - ex[j]! / sum) / (ex[j]! / sum));
        }
      }
      scoreGrad(ws.base + P * 4, ws.base + G * 4, T, Tp * 4, scale);
      for (let i = 0; i < T; i++) {
        let dot = 0;
        for (let j = 0; j <= i; j++) dot += m[P + i * Tp + j]! * g[i * Tp + j]!;
        let err = 0, norm = 0;
        for (let j = 0; j < Tp; j++) {
          const got = m[G + i * Tp + j]!;
          if (j > i) {
            expect(got === 0, `gS[${i}, ${j}] = ${got}`).toBe(true); // ±0: P is +0 there
            continue;
          }
          const p = m[P + i * Tp + j]!, want = p * (g[i * Tp + j]! - dot) * scale;
          err += (got - want) ** 2;
          // the size of the terms before g − dot cancels (a sharp row cancels to almost nothing)
          norm += (p * (Math.abs(g[i * Tp + j]!) + Math.abs(dot)) * scale) ** 2;
        }
        worstGrad = Math.max(worstGrad, Math.sqrt(err) / Math.max(Math.sqrt(norm), 1e-30));
      }
      expect(worst, `softmax T=${T}`).toBeLessThan(2e-6);
      expect(worstGrad, `score gradient T=${T}`).toBeLessThan(1e-6);
    }
  });
});
