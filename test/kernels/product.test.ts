/**
 * The one product kernel (src/kernels/): the plain and the fused
 * multiply-add variants both stay within the rounding-error bound of a
 * float64 reference on ragged shapes; the plain one gives the JavaScript
 * kernels' bits (bias in the epilogue included); a product cut in tiles and
 * shared with the helper thread gives the bits of one call; operands that
 * live in the module's memory are used in place with the same result.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { threadSettings } from "../../src/kernels/helper.ts";
import { kernelDescription, kernelModule, kernelSettings, mulAddChoice } from "../../src/kernels/module.ts";
import { productCall, productTiles } from "../../src/kernels/product.ts";
import { BIAS, ACCUMULATE } from "../../src/kernels/gemmCode.ts";
import { addBias, matmulDense, transpose } from "../../src/sim/kernels.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { kernelBuffer, matmulWasm, matmulWasmRows, packPanels, wasmAvailable, wasmSettings } from "../../src/sim/wasm.ts";
import { agreement } from "../support/kernelAgreement.ts";
import { node } from "../support/spawn.ts";
import { fcParams } from "../support/seed.ts";

/** Run fn with the plain variant pinned (the JavaScript kernels' bits). */
function plain<T>(fn: () => T): T {
  const was = kernelSettings.mulAdd;
  kernelSettings.mulAdd = "plain";
  try {
    return fn();
  } finally {
    kernelSettings.mulAdd = was;
  }
}

describe.runIf(wasmAvailable())("the product kernel", () => {
  it("plain variant: within (K + 2)·u·Σ|terms| of the exact sum, float32 and float64, with and without a bias", () => {
    const a = plain(() => agreement(7, 16));
    expect(a.mulAdd).toBe("plain");
    expect(a.worst.float32).toBeLessThanOrEqual(1);
    expect(a.worst.float64).toBeLessThanOrEqual(1);
    expect(a.differFromPlain).toBe(0);
  });

  it("fused variant (relaxed SIMD; its own process where V8 has it behind a flag): within the same bound, and really fused", async () => {
    const k = kernelModule()!;
    let a;
    if (k.fma) {
      const was = kernelSettings.mulAdd;
      kernelSettings.mulAdd = "fma";
      try {
        a = agreement(7, 16);
      } finally {
        kernelSettings.mulAdd = was;
      }
    } else {
      const r = await node(["--import", "tsx", "test/support/kernelAgreement.ts", "7", "16"], { CIRCUITS_KERNEL: "fma" });
      expect(r.code, r.stderr).toBe(0);
      a = JSON.parse(r.stdout.trim()) as ReturnType<typeof agreement>;
    }
    expect(a.mulAdd).toBe("fma");
    expect(a.worst.float32).toBeLessThanOrEqual(1);
    expect(a.worst.float64).toBeLessThanOrEqual(1);
    // one rounding per term instead of two: some sums must come out different from the plain ones
    expect(a.differFromPlain).toBeGreaterThan(0);
  });

  it("the choice is made once and described by circuits --version (CIRCUITS_KERNEL=plain forces plain, =fma fuses)", async () => {
    const c = mulAddChoice();
    expect(["plain", "fma"]).toContain(c.mulAdd);
    expect(kernelDescription()).toMatch(c.mulAdd === "fma" ? /fused multiply-add/ : /plain multiply then add/);
    const fused = await node(["--import", "tsx", "src/cli/main.ts", "--version"], { CIRCUITS_KERNEL: "fma" });
    expect(fused.code).toBe(0);
    expect(fused.stdout.split("\n")[1]).toMatch(/^kernel: WebAssembly SIMD, fused multiply-add/);
    const forced = await node(["--import", "tsx", "src/cli/main.ts", "--version"], { CIRCUITS_KERNEL: "plain" });
    expect(forced.stdout.split("\n")[1]).toBe("kernel: WebAssembly SIMD, plain multiply then add: CIRCUITS_KERNEL=plain");
  });

  it("relaxedSimdNative says what the runtime has before CIRCUITS_KERNEL=fma sets V8's flag, also when asked after", async () => {
    const script = (first: string) => `
      import { mulAddChoice, relaxedSimdNative } from "./src/kernels/module.ts";
      ${first}
      console.log(JSON.stringify({ native: relaxedSimdNative(), mulAdd: mulAddChoice().mulAdd }));`;
    const fresh = await node(["--import", "tsx", "--input-type=module", "-e", script("")], { CIRCUITS_KERNEL: "fma" });
    const after = await node(["--import", "tsx", "--input-type=module", "-e", script("mulAddChoice();")], { CIRCUITS_KERNEL: "fma" });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(after.code, after.stderr).toBe(0);
    const [a, b] = [JSON.parse(fresh.stdout), JSON.parse(after.stdout)];
    expect(a).toEqual(b);
    // the flag turns the fused kernel on either way; it must not be taken for the runtime's own support
    expect(a.mulAdd).toBe("fma");
    expect(typeof a.native).toBe("boolean");
  });

  it("plain variant: the bias in the epilogue gives matmulDense + addBias's bits", () => {
    const dims = fc.record({
      M: fc.integer({ min: 1, max: 9 }), K: fc.integer({ min: 1, max: 40 }), N: fc.integer({ min: 1, max: 19 }),
      seed: fc.integer({ min: 0, max: 1e6 }), f32: fc.boolean(),
    });
    fc.assert(
      fc.property(dims, ({ M, K, N, seed, f32 }) => {
        const rand = mulberry32(seed);
        const make = (n: number) => (f32 ? Float32Array.from({ length: n }, () => rand() - 0.5) : Float64Array.from({ length: n }, () => rand() - 0.5));
        const x = make(M * K), w = make(K * N), bias = make(N);
        const js = new (f32 ? Float32Array : Float64Array)(M * N), wa = new (f32 ? Float32Array : Float64Array)(M * N);
        matmulDense(x, 0, M, K, transpose(w, K, N), N, js, 0);
        addBias(js, 0, M, N, bias);
        plain(() => matmulWasm(x, 0, M, K, packPanels(w, K, N), N, wa, 0, true, bias));
        expect(Array.from(wa)).toEqual(Array.from(js));
      }),
      fcParams({ numRuns: 60 }),
    );
  });

  it("a product in tiles shared with the helper thread (or run wholly by it) gives the bits of one call", () => {
    threadSettings.inWorkers = true;
    const k = kernelModule()!;
    const dims = fc.record({
      M: fc.integer({ min: 1, max: 40 }), K: fc.integer({ min: 1, max: 90 }), N: fc.integer({ min: 1, max: 40 }),
      rper: fc.integer({ min: 1, max: 12 }), pper: fc.integer({ min: 1, max: 3 }), kblock: fc.integer({ min: 1, max: 100 }),
      f32: fc.boolean(), mode: fc.constantFrom(0, ACCUMULATE, BIAS, ACCUMULATE | BIAS), helperOnly: fc.boolean(), seed: fc.integer({ min: 0, max: 1e6 }),
    });
    const before = threadSettings.helperChunks;
    try {
      fc.assert(
        fc.property(dims, ({ M, K, N, rper, pper, kblock, f32, mode, helperOnly, seed }) => {
          const es = f32 ? 4 : 8;
          const View = f32 ? Float32Array : Float64Array;
          const rand = mulberry32(seed);
          // operands at fixed addresses above the control block: x [M, K], W row-major [K, N + 3], bias, two outputs
          const base = 4096, ld = N + 3;
          const xA = base, wA = xA + M * K * es + 64, bA = wA + K * ld * es + 64, o1 = bA + (N + 8) * es + 64, o2 = o1 + M * N * es + 64;
          const end = o2 + M * N * es + 64;
          if (k.memory.buffer.byteLength < end) k.memory.grow(Math.ceil((end - k.memory.buffer.byteLength) / 65536));
          const m = new View(k.memory.buffer, base, (end - base) / es);
          for (let i = 0; i < m.length; i++) m[i] = rand() - 0.5;
          new View(k.memory.buffer, o2, M * N).set(new View(k.memory.buffer, o1, M * N));
          const p = { a: xA, b: wA, out: o1, M, K, N, ars: K * es, aks: es, bks: ld * es, bps: 32, ors: N * es, mode, bias: bA };
          productCall(k, es, p);
          threadSettings.helperOnly = helperOnly;
          try {
            productTiles(k, es, { ...p, out: o2 }, { rper, pper, kblock }, true);
          } finally {
            threadSettings.helperOnly = false;
          }
          expect(Array.from(new View(k.memory.buffer, o2, M * N))).toEqual(Array.from(new View(k.memory.buffer, o1, M * N)));
        }),
        fcParams({ numRuns: 80 }),
      );
    } finally {
      threadSettings.inWorkers = false;
    }
    expect(threadSettings.helperChunks - before).toBeGreaterThan(20);
  });

  it("a big product: the same bits with and without the helper thread, and with its operands in the module's memory", () => {
    threadSettings.inWorkers = true;
    try {
      for (const f32 of [true, false]) {
        const [M, K, N] = [200, 256, 72]; // 3.7 M multiply-adds: shared
        const rand = mulberry32(f32 ? 3 : 4);
        const View = f32 ? Float32Array : Float64Array;
        const make = (n: number, f: () => number) => (f32 ? Float32Array.from({ length: n }, f) : Float64Array.from({ length: n }, f));
        const x = make(M * K, () => rand() - 0.5), w = make(K * N, () => rand() - 0.5), bias = make(N, () => rand());
        const packed = packPanels(w, K, N);
        const run = (threads: boolean) => {
          const out = new View(M * N);
          wasmSettings.threads = threads;
          try {
            matmulWasm(x, 0, M, K, packed, N, out, 0, true, bias);
          } finally {
            wasmSettings.threads = true;
          }
          return Array.from(out);
        };
        const one = run(false);
        const before = threadSettings.helperChunks;
        threadSettings.helperOnly = true;
        try {
          expect(run(true)).toEqual(one);
        } finally {
          threadSettings.helperOnly = false;
        }
        expect(threadSettings.helperChunks).toBeGreaterThan(before);
        expect(run(true)).toEqual(one);
        const precision = f32 ? "float32" : "float64";
        const xr = kernelBuffer("test.x", M * K, precision)!, or = kernelBuffer("test.out", M * N, precision)!;
        xr.set(x);
        matmulWasm(xr, 0, M, K, packed, N, or, 0, true, bias);
        expect(Array.from(or)).toEqual(one);
      }
    } finally {
      threadSettings.inWorkers = false;
    }
  });
});

describe.runIf(wasmAvailable())("matmulWasmRows: strided, unpacked operands", () => {
  it("gives the plain k-ascending sums bit for bit (plain variant); causalOut writes j ≤ i and leaves whole panels right of the diagonal; causalA on a lower-triangular A changes no bit", () => {
    const dims = fc.record({
      M: fc.integer({ min: 1, max: 30 }), K: fc.integer({ min: 1, max: 30 }), N: fc.integer({ min: 1, max: 30 }),
      pad: fc.integer({ min: 0, max: 5 }), f32: fc.boolean(), causal: fc.constantFrom("none", "out", "a"), bias: fc.boolean(),
      inModule: fc.boolean(), seed: fc.integer({ min: 0, max: 1e6 }),
    });
    fc.assert(
      fc.property(dims, ({ M, K, N, pad, f32, causal, bias, inModule, seed }) => {
        const rand = mulberry32(seed);
        const precision = f32 ? "float32" : "float64";
        const make = (n: number, name: string) => {
          const arr = (inModule ? kernelBuffer(`rows.${name}`, n, precision) : null) ?? (f32 ? new Float32Array(n) : new Float64Array(n));
          for (let i = 0; i < n; i++) arr[i] = rand() - 0.5;
          return arr;
        };
        const lda = K + pad, ldb = N + pad, ldo = N + pad;
        const a = make(3 + M * lda, "a"), b = make(2 + K * ldb, "b"), out = make(1 + M * ldo, "out");
        const bv = bias ? make(N, "bias") : null;
        if (causal === "a") for (let i = 0; i < M; i++) for (let k = i + 1; k < K; k++) a[3 + i * lda + k] = 0;
        const before = Array.from(out);
        plain(() => matmulWasmRows(a, 3, lda, M, K, b, 2, ldb, N, out, 1, ldo, { causalOut: causal === "out", causalA: causal === "a", bias: bv }));
        const fr = f32 ? Math.fround : (x: number) => x;
        const P = f32 ? 8 : 4;
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < ldo; j++) {
            const at = 1 + i * ldo + j;
            const skipped = j >= N || (causal === "out" && Math.floor(j / P) * P > i);
            if (skipped) {
              expect(out[at], `untouched out[${i}, ${j}]`).toBe(before[at]);
              continue;
            }
            let s = 0;
            for (let k = 0; k < K; k++) s = fr(s + fr(a[3 + i * lda + k]! * b[2 + k * ldb + j]!));
            if (bv) s = fr(s + bv[j]!);
            expect(out[at], `out[${i}, ${j}]`).toBe(s);
          }
        }
      }),
      fcParams({ numRuns: 120 }),
    );
  });
});
