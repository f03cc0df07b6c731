import { describe, expect, it } from "vitest";
import { forward } from "../../src/sim/forward.ts";
import { wasmSettings } from "../../src/sim/wasm.ts";
import { TrainEngine } from "../../src/train/backward.ts";
import { jobSettings } from "../../src/train/gemm.ts";
import { initParams } from "../../src/train/init.ts";
import { type Params, paramsToWeights, type TrainShape } from "../../src/train/params.ts";
import { Rng } from "../../src/train/rng.ts";

/** A random small model with nonzero biases, and a random batch with some rows untrained. */
function setup(shape: TrainShape, B: number, T: number, seed: number) {
  const p = initParams(shape, seed, "float64");
  const rng = new Rng(seed + 7);
  for (const e of p.entries) {
    if (/\.b_/.test(e.name)) for (let i = 0; i < e.size; i++) p.data[e.offset + i] = 0.3 * rng.normal();
    else for (let i = 0; i < e.size; i++) p.data[e.offset + i] *= 2; // sharper attention than at init
  }
  const tokens = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let n = 0; n < B * T; n++) {
    tokens[n] = n % T === 0 ? 0 : 1 + rng.int(shape.d_vocab - 1);
    targets[n] = rng.next() < 0.2 ? -1 : rng.int(shape.d_vocab);
  }
  return { p, tokens, targets };
}

/** ‖a − b‖ / max(‖a‖, ‖b‖) over one tensor's slice. */
function relError(a: Float64Array, b: Float64Array, off: number, n: number): number {
  let d = 0, na = 0, nb = 0;
  for (let i = off; i < off + n; i++) {
    d += (a[i]! - b[i]!) ** 2;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(na), Math.sqrt(nb), 1e-300);
}

/**
 * Relative error per tensor, except b_K: its true gradient is exactly 0 (q·b_K adds the same
 * amount to every key's score, which softmax ignores), so both gradients must be ≈ 0 instead:
 * for it the entry is max(‖analytic‖, ‖numeric‖).
 */
function gradCheck(shape: TrainShape, B: number, T: number, seed: number): Map<string, number> {
  const { p, tokens, targets } = setup(shape, B, T, seed);
  const engine = new TrainEngine(shape, B, T, "float64", p);
  const g = new Float64Array(p.data.length);
  engine.lossAndGrad(p, tokens, targets, g);
  const num = new Float64Array(p.data.length);
  const h = 1e-5;
  for (let i = 0; i < p.data.length; i++) {
    const x = p.data[i]!;
    p.data[i] = x + h;
    const up = engine.lossAndGrad(p, tokens, targets, null);
    p.data[i] = x - h;
    const down = engine.lossAndGrad(p, tokens, targets, null);
    p.data[i] = x;
    num[i] = (up - down) / (2 * h);
  }
  const norm = (a: Float64Array, off: number, n: number) => Math.sqrt(a.subarray(off, off + n).reduce((s, x) => s + x * x, 0));
  return new Map(p.entries.map((e) => [
    e.name,
    /\.b_K$/.test(e.name) ? Math.max(norm(g, e.offset, e.size), norm(num, e.offset, e.size)) : relError(g, num, e.offset, e.size),
  ]));
}

const small: TrainShape = { d_model: 8, n_heads: 2, d_head: 3, n_layers: 2, n_ctx: 7, d_vocab: 6, bias: true };

describe("hand-written gradient", () => {
  it("matches central finite differences in float64 on every tensor (relative error < 1e-6)", () => {
    for (const [shape, B, T, seed] of [
      [small, 2, 6, 1],
      [{ ...small, bias: false, n_layers: 3, n_heads: 3, d_head: 2 }, 3, 7, 2],
      [{ ...small, d_model: 16, n_heads: 2, d_head: 8, n_ctx: 20, d_vocab: 9 }, 2, 20, 3], // products big enough for the WebAssembly kernel
    ] as const) {
      const errs = gradCheck(shape, B, T, seed);
      expect(errs.size).toBe(shape.bias ? 2 + 8 * shape.n_layers + 2 : 2 + 4 * shape.n_layers + 1);
      const bad = [...errs].filter(([, err]) => !(err < 1e-6));
      expect(bad, `seed ${seed}`).toEqual([]);
    }
  });

  it("matches finite differences with the plain-loop products too (no WebAssembly)", () => {
    const was = wasmSettings.enabled;
    wasmSettings.enabled = false;
    try {
      const errs = gradCheck({ ...small, d_model: 12, d_head: 5, n_ctx: 12, d_vocab: 7 }, 2, 12, 4);
      expect([...errs].filter(([, err]) => !(err < 1e-6))).toEqual([]);
    } finally {
      wasmSettings.enabled = was;
    }
  });
});

describe("float32 gradient", () => {
  /** Per-tensor relative difference between the float32 engine's gradient and the float64 one on the same (float32-representable) weights. */
  function f32VsF64(shape: TrainShape, B: number, T: number, seed: number): [string, number][] {
    const { p, tokens, targets } = setup(shape, B, T, seed);
    const p32: Params = { ...p, data: Float32Array.from(p.data) };
    const p64: Params = { ...p, data: Float64Array.from(p32.data) };
    const g64 = new Float64Array(p.data.length), g32 = new Float32Array(p.data.length);
    const l64 = new TrainEngine(shape, B, T, "float64", p64).lossAndGrad(p64, tokens, targets, g64);
    const l32 = new TrainEngine(shape, B, T, "float32", p32).lossAndGrad(p32, tokens, targets, g32);
    expect(Math.abs(l32 - l64) / l64).toBeLessThan(1e-5);
    const g = Float64Array.from(g32);
    return p.entries.filter((e) => !/\.b_K$/.test(e.name)).map((e) => [e.name, relError(g, g64, e.offset, e.size)]);
  }

  it("matches the float64 gradient to float32 precision (reference shape, and shapes with partial panels)", () => {
    for (const [shape, B, T, seed, tol] of [
      [{ d_model: 64, n_heads: 4, d_head: 16, n_layers: 2, n_ctx: 64, d_vocab: 65, bias: true }, 4, 63, 8, 1e-5],
      [{ ...small, d_model: 12, d_head: 5, n_ctx: 12, d_vocab: 7 }, 3, 11, 9, 1e-5],
      [{ ...small, bias: false, n_layers: 3, n_heads: 3, d_head: 2 }, 3, 7, 10, 1e-4],
    ] as const) {
      const errs = f32VsF64(shape, B, T, seed);
      const bad = errs.filter(([, err]) => !(err < tol));
      expect(bad, `seed ${seed}: worst ${Math.max(...errs.map(([, e]) => e))}`).toEqual([]);
    }
  });
});

describe("the helper thread", () => {
  it("changes no bit of the loss or the gradient (float32 and float64)", () => {
    const shape: TrainShape = { d_model: 64, n_heads: 4, d_head: 16, n_layers: 2, n_ctx: 64, d_vocab: 65, bias: true };
    for (const precision of ["float32", "float64"] as const) {
      const { p, tokens, targets } = setup(shape, 8, 63, 12);
      const q: Params = { ...p, data: precision === "float32" ? Float32Array.from(p.data) : p.data };
      const engine = new TrainEngine(shape, 8, 63, precision, q);
      const run = (threads: boolean) => {
        const was = wasmSettings.threads;
        wasmSettings.threads = threads;
        try {
          const g = precision === "float32" ? new Float32Array(q.data.length) : new Float64Array(q.data.length);
          const loss = engine.lossAndGrad(q, tokens, targets, g);
          return { loss, g: Array.from(g) };
        } finally {
          wasmSettings.threads = was;
        }
      };
      const one = run(false);
      jobSettings.inWorkers = true; // (tests run in worker threads, where the helper otherwise stays off)
      try {
        for (let i = 0; i < 2; i++) expect(run(true)).toEqual(one);
      } finally {
        jobSettings.inWorkers = false;
      }
      // Every chunk on the helper (this thread only waits): still the same bits.
      const before = jobSettings.helperChunks;
      jobSettings.helperOnly = true;
      try {
        expect(run(true)).toEqual(one);
      } finally {
        jobSettings.helperOnly = false;
      }
      expect(jobSettings.helperChunks - before).toBeGreaterThan(10);
    }
  });
});

describe("training forward pass", () => {
  function compare(shape: TrainShape, B: number, T: number, p: Params, tokens: Int32Array, tol: number) {
    const engine = new TrainEngine(shape, B, T, p.data instanceof Float32Array ? "float32" : "float64", p);
    engine.lossAndGrad(p, tokens, new Int32Array(B * T).fill(0), null);
    const mine = engine.lastLogits();
    const V = shape.d_vocab;
    const w = paramsToWeights(p);
    let worst = 0;
    for (let b = 0; b < B; b++) {
      const seq = Array.from(tokens.subarray(b * T, b * T + T));
      const { logits } = forward(w, seq);
      for (let i = 0; i < T * V; i++) worst = Math.max(worst, Math.abs(logits[i]! - mine[b * T * V + i]!) / (1 + Math.abs(logits[i]!)));
    }
    expect(worst).toBeLessThan(tol);
  }

  it("gives the simulator's logits on the same weights (float64 and float32)", () => {
    const shape: TrainShape = { d_model: 32, n_heads: 4, d_head: 8, n_layers: 2, n_ctx: 40, d_vocab: 17, bias: true };
    const { p, tokens } = setup(shape, 3, 40, 5);
    compare(shape, 3, 40, p, tokens, 1e-12);
    const p32: Params = { ...p, data: Float32Array.from(p.data) };
    compare(shape, 3, 40, p32, tokens, 1e-4);
  });
});
