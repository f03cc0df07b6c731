/**
 * The eigenvalue solver behind copying scores: known spectra (including the
 * permutations mathjs's eigs cannot do), spectral invariants on random
 * non-symmetric matrices, and agreement with mathjs where mathjs converges.
 */
import { det, eigs } from "mathjs";
import { describe, expect, it } from "vitest";
import { fromRows, matmul } from "../../src/analysis/linalg.ts";
import { type Complex, eigenvalues, SpectrumTooLarge } from "../../src/analysis/spectrum.ts";
import { mulberry32 } from "../../src/sim/random.ts";

const sorted = (zs: readonly Complex[]) =>
  [...zs].map((z) => [Number(z.re.toFixed(8)) + 0, Number(z.im.toFixed(8)) + 0]).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
const randomRows = (n: number, seed: number) => {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => Array.from({ length: n }, () => 2 * r() - 1));
};
const cyclic = (n: number) => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (j === (i + 1) % n ? 1 : 0)));

describe("eigenvalues", () => {
  it("of hand-built matrices", () => {
    expect(sorted(eigenvalues(fromRows([[0, -1], [1, 0]])))).toEqual([[0, -1], [0, 1]]);
    expect(sorted(eigenvalues(fromRows([[2, 1, 0], [0, 3, 1], [0, 0, 5]])))).toEqual([[2, 0], [3, 0], [5, 0]]);
    expect(sorted(eigenvalues(fromRows([[4, 1], [2, 3]])))).toEqual([[2, 0], [5, 0]]);
    expect(eigenvalues(fromRows([]))).toEqual([]);
  });

  it("of cyclic permutations: the n-th roots of unity (mathjs eigs does not converge on these)", () => {
    for (const n of [2, 3, 5, 8, 13]) {
      const want = Array.from({ length: n }, (_, k) => ({ re: Math.cos((2 * Math.PI * k) / n), im: Math.sin((2 * Math.PI * k) / n) }));
      expect(sorted(eigenvalues(fromRows(cyclic(n))))).toEqual(sorted(want));
    }
    expect(() => eigs(cyclic(8), { eigenvectors: false })).toThrow(/converge/);
  });

  it("keep trace, determinant and tr(M²) on random non-symmetric matrices", () => {
    for (const n of [4, 9, 30]) {
      const rows = randomRows(n, n);
      const m = fromRows(rows);
      const ev = eigenvalues(m);
      expect(ev).toHaveLength(n);
      const sum = ev.reduce((s, z) => s + z.re, 0);
      const sumIm = ev.reduce((s, z) => s + z.im, 0);
      const trace = rows.reduce((s, r, i) => s + r[i]!, 0);
      expect(sum).toBeCloseTo(trace, 9);
      expect(sumIm).toBeCloseTo(0, 9);
      // Σλ² = tr(M²) and Πλ = det(M).
      const m2 = matmul(m, m);
      let sq = 0;
      for (const z of ev) sq += z.re * z.re - z.im * z.im;
      let tr2 = 0;
      for (let i = 0; i < n; i++) tr2 += m2.data[i * n + i]!;
      expect(sq).toBeCloseTo(tr2, 8);
      let pr: Complex = { re: 1, im: 0 };
      for (const z of ev) pr = { re: pr.re * z.re - pr.im * z.im, im: pr.re * z.im + pr.im * z.re };
      expect(pr.re / det(rows)).toBeCloseTo(1, 8);
    }
  });

  it("agree with mathjs eigs on small matrices where it converges", () => {
    let compared = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const rows = randomRows(4, 100 + seed);
      let ref: Complex[];
      try {
        const vals = (eigs(rows, { eigenvectors: false }) as { values: (number | { re: number; im: number })[] }).values;
        ref = vals.map((v) => (typeof v === "number" ? { re: v, im: 0 } : { re: v.re, im: v.im }));
      } catch {
        continue;
      }
      compared++;
      expect(sorted(eigenvalues(fromRows(rows)))).toEqual(sorted(ref));
    }
    expect(compared).toBeGreaterThan(5);
  });

  it("split sparse matrices into blocks: a large scaled identity is cheap, a large dense block is refused", () => {
    const n = 3000;
    const id = { rows: n, cols: n, data: new Float64Array(n * n) };
    for (let i = 0; i < n; i++) id.data[i * n + i] = 10;
    const ev = eigenvalues(id);
    expect(ev.every((z) => z.re === 10 && z.im === 0)).toBe(true);
    const dense = { rows: 501, cols: 501, data: new Float64Array(501 * 501).fill(1) };
    expect(() => eigenvalues(dense)).toThrow(SpectrumTooLarge);
  });
});
