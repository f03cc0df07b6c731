/**
 * The product kernel against a float64 reference on random shapes (rows not
 * a multiple of 4, columns not a multiple of the panel width, K from 1), for
 * the variant in use: each element's error against the exact sum, over the
 * rounding-error bound (K + 2)·u·Σ|terms| that a k-ascending float sum with
 * or without fused multiply-adds stays within. Run as a script (node
 * --import tsx), it prints the summary as JSON: the fused variant needs a
 * process of its own where relaxed SIMD is behind a V8 flag.
 */
import { mulAddChoice, kernelModule, activeInstance } from "../../src/kernels/module.ts";
import { matmulWasm, packPanels } from "../../src/sim/wasm.ts";
import { mulberry32 } from "../../src/sim/random.ts";

/** Worst error/bound ratio per precision, and the outputs' checksum bits (to tell variants apart). */
export interface Agreement {
  readonly mulAdd: string;
  readonly worst: { float32: number; float64: number };
  readonly cases: number;
  /** Elements whose value differs from the plain multiply-then-add sum computed in JavaScript. */
  readonly differFromPlain: number;
}

/** Veltkamp's split of a double into two halves whose products are exact. */
function split(a: number): [number, number] {
  const c = 134217729 * a;
  const h = c - (c - a);
  return [h, a - h];
}

/** Run `cases` random products per precision through matmulWasm (with a bias on every other). */
export function agreement(seed: number, cases: number): Agreement {
  const rand = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const worst = { float32: 0, float64: 0 };
  let differ = 0;
  for (const precision of ["float32", "float64"] as const) {
    const u = precision === "float32" ? 2 ** -24 : 2 ** -53;
    const make = (n: number) => (precision === "float32" ? new Float32Array(n) : new Float64Array(n));
    const fr = precision === "float32" ? Math.fround : (x: number) => x;
    for (let c = 0; c < cases; c++) {
      const M = int(1, 13), K = int(1, 300), N = int(1, 37);
      const x = make(M * K), w = make(K * N), bias = c % 2 ? make(N) : null, out = make(M * N);
      for (let i = 0; i < x.length; i++) x[i] = (rand() - 0.5) * 4;
      for (let i = 0; i < w.length; i++) w[i] = (rand() - 0.5) * 2;
      if (bias) for (let i = 0; i < N; i++) bias[i] = rand() - 0.5;
      matmulWasm(x, 0, M, K, packPanels(w, K, N), N, out, 0, true, bias);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          // the exact sum in double-double (error-free products and sums), so float64's own rounding does not count
          let hi = 0, lo = 0, abs = 0, plain = 0;
          for (let k = 0; k < K; k++) {
            const a = x[i * K + k]!, bb = w[k * N + j]!;
            const t = a * bb;
            const [ah, al] = split(a), [bh, bl] = split(bb);
            const te = ((ah * bh - t) + ah * bl + al * bh) + al * bl;
            const s2 = hi + t, z = s2 - hi;
            lo += (hi - (s2 - z)) + (t - z) + te;
            hi = s2;
            abs += Math.abs(t);
            plain = fr(plain + fr(t));
          }
          const exact = hi + lo;
          const b = bias ? bias[j]! : 0;
          if (bias) plain = fr(plain + b);
          const got = out[i * N + j]!;
          if (got !== plain) differ++;
          const bound = (K + 2) * u * (abs + Math.abs(b)) + Number.MIN_VALUE;
          worst[precision] = Math.max(worst[precision], Math.abs(got - (exact + b)) / bound);
        }
      }
    }
  }
  const k = kernelModule();
  return { mulAdd: k && activeInstance(k) === k.fma ? "fma" : "plain", worst, cases, differFromPlain: differ };
}

if (process.argv[1]?.endsWith("kernelAgreement.ts")) {
  mulAddChoice();
  process.stdout.write(`${JSON.stringify(agreement(Number(process.argv[2] ?? 1), Number(process.argv[3] ?? 40)))}\n`);
}
