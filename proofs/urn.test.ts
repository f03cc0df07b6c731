/**
 * Theorem 5 (proofs/05-self-reinforcement.md): sampling ∝ p^γ from a
 * count-based head's exact output turns a loop into an urn. Exact values
 * with mathjs fractions; sampled frequencies (seeded, so deterministic)
 * through the reference semantics and through compiled weights.
 */
import { describe, expect, it } from "vitest";
import { fraction, type Fraction } from "mathjs";
import { drawWeighted } from "../src/generate/strategy.ts";
import { mulberry32 } from "../src/sim/random.ts";
import {
  A,
  B,
  C,
  compiledTemperatureContinue,
  compiledUrnProbabilities,
  compileUrn,
  countSoftmaxContinue,
  loopsCompleted,
  sampleCompiledTemperature,
  continueExact,
  continueFloat,
  fracToNumber,
  gamma2Bounds,
  hazardTable,
  PI_OVER_SINH_PI,
  sampleCompiled,
  sampleSymbolic,
  survivalExact,
  survivalFloat,
  urnDistributions,
  urnPrompt,
  urnProgram,
  withinBinomial,
} from "./checks/urn.ts";

const f = (p: number, q = 1) => fraction(p, q) as Fraction;
const CONTEXT = 48;
const RMAX = 20;

describe("the urn formula (exact)", () => {
  it("γ = 1, n = m = 1: S_R = 1/(R+1) exactly for R = 0 … 60; n = 2, m = 1: 2/(R+2)", () => {
    for (let R = 0; R <= 60; R++) {
      expect(survivalExact(1, 1, R, 1).equals(f(1, R + 1))).toBe(true);
      expect(survivalExact(2, 1, R, 1).equals(f(2, R + 2))).toBe(true);
    }
  });

  it("P_r = (n+r)^γ / ((n+r)^γ + m^γ) is strictly increasing in r (γ = 1, 2, 3; several n, m)", () => {
    for (const gamma of [1, 2, 3]) {
      for (const [n, m] of [[1, 1], [1, 3], [2, 1], [5, 2]] as const) {
        for (let r = 0; r < 40; r++) expect(continueExact(n, m, r + 1, gamma).compare(continueExact(n, m, r, gamma))).toBe(1);
      }
    }
    for (let r = 0; r < 40; r++) expect(continueFloat(1, 1, r + 1, 0.5)).toBeGreaterThan(continueFloat(1, 1, r, 0.5));
  });

  it("γ = 2, n = m = 1: the exact finite products S_R decrease, and at R = 1000 bound π/sinh π ≈ 0.27203 within 2.8·10⁻⁴", () => {
    let prev = survivalExact(1, 1, 1, 2);
    expect(prev.equals(f(1, 2))).toBe(true);
    for (let R = 2; R <= 50; R++) {
      const s = survivalExact(1, 1, R, 2);
      expect(s.compare(prev)).toBe(-1);
      prev = s;
    }
    expect(survivalExact(1, 1, 3, 2).equals(f(1 * 4 * 9, 2 * 5 * 10))).toBe(true);
    const { lower, upper } = gamma2Bounds(1000);
    const lo = fracToNumber(lower);
    const hi = fracToNumber(upper);
    expect(lo).toBeLessThan(PI_OVER_SINH_PI);
    expect(PI_OVER_SINH_PI).toBeLessThan(hi);
    expect(hi - lo).toBeLessThan(2.8e-4);
    expect(PI_OVER_SINH_PI).toBeCloseTo(0.27203, 5);
  });

  it("γ ≤ 1 leaves the loop almost surely (S_R → 0), γ = 2 does not: S_R at R = 10⁴", () => {
    expect(survivalFloat(1, 1, 10_000, 1)).toBeCloseTo(1 / 10_001, 12);
    expect(survivalFloat(1, 1, 10_000, 0.5)).toBeLessThan(1e-80);
    expect(survivalFloat(1, 1, 10_000, 2)).toBeGreaterThan(PI_OVER_SINH_PI);
    expect(survivalFloat(1, 1, 10_000, 2) - PI_OVER_SINH_PI).toBeLessThan(PI_OVER_SINH_PI / 10_000);
  });
});

describe("the urn in our programs", () => {
  it("reference semantics: after r loops the every head's exact output at a is {b: (n+r)/(n+m+r), c: m/(n+m+r)}", () => {
    const program = urnProgram(64);
    for (const [n, m] of [[1, 1], [2, 1], [1, 3]] as const) {
      for (const { r, dist } of urnDistributions(program, n, m, 20)) {
        expect(dist.get(A)).toBeUndefined();
        expect(dist.get(B)!.equals(f(n + r, n + m + r))).toBe(true);
        expect(dist.get(C)!.equals(f(m, n + m + r))).toBe(true);
      }
    }
  });

  it("compiled weights: logits/κ equal those probabilities within the compiler's distTolerance", () => {
    const model = compileUrn(64);
    for (const { r, p } of compiledUrnProbabilities(model, 1, 1, 25)) {
      expect(Math.abs(p[A]!)).toBeLessThan(model.scales.distTolerance);
      expect(Math.abs(p[B]! - (1 + r) / (2 + r))).toBeLessThan(model.scales.distTolerance);
      expect(Math.abs(p[C]! - 1 / (2 + r))).toBeLessThan(model.scales.distTolerance);
    }
  });

  /**
   * The maximum-likelihood γ of a hazard table under P_r(γ) = (1+r)^γ/((1+r)^γ + 1), and its
   * standard error from the observed information. Per-r tests are weak at γ = 0.5 (P_0 = 1/2 for
   * every γ, and few runs reach large r); pooling every decision into one estimate is not.
   */
  const fitGamma = (rows: readonly { r: number; atRisk: number; continued: number }[]): { gamma: number; se: number } => {
    const ll = (g: number) => rows.reduce((acc, { r, atRisk, continued }) => {
      const p = continueFloat(1, 1, r, g);
      return acc + continued * Math.log(p) + (atRisk - continued) * Math.log(1 - p);
    }, 0);
    // The log-likelihood is unimodal in γ here: golden-section search on [0.01, 10].
    let [lo, hi] = [0.01, 10];
    const phi = (Math.sqrt(5) - 1) / 2;
    while (hi - lo > 1e-7) {
      const a = hi - phi * (hi - lo);
      const b = lo + phi * (hi - lo);
      if (ll(a) < ll(b)) lo = a;
      else hi = b;
    }
    const g = (lo + hi) / 2;
    const h = 1e-3;
    const info = -(ll(g + h) - 2 * ll(g) + ll(g - h)) / (h * h);
    return { gamma: g, se: 1 / Math.sqrt(info) };
  };

  it.each([
    [0.5, 8000],
    [1, 2000],
    [2, 2000],
  ])(
    "γ = %f: sampled P(continue | r loops) through generateSymbolic (%i seeded runs) is within 4σ of the formula for every r with ≥ 30 runs at risk; survival too; the fitted γ is within 4 standard errors",
    (gamma, runs) => {
      const program = urnProgram(CONTEXT);
      const s = sampleSymbolic(program, urnPrompt(1, 1), gamma, runs, RMAX, 1 + 1_000_000 * gamma);
      const rows = hazardTable(s.loops, RMAX);
      let checked = 0;
      for (const row of rows) {
        if (row.atRisk < 30) continue;
        checked++;
        expect(withinBinomial(row.estimate, continueFloat(1, 1, row.r, gamma), row.atRisk, 4)).toBe(true);
      }
      expect(checked).toBeGreaterThanOrEqual(gamma === 0.5 ? 8 : RMAX);
      for (const R of [1, 2, 5, 10, 20]) {
        const observed = s.loops.filter((x) => x >= R).length / s.loops.length;
        expect(withinBinomial(observed, survivalFloat(1, 1, R, gamma), s.loops.length, 4)).toBe(true);
      }
      // Every decision pooled: a sampler drawing with γ·1.3 (or γ/1.3) lands ≥ 6 standard errors away.
      const fit = fitGamma(rows);
      expect(fit.se).toBeLessThan(0.03 * gamma + 0.006);
      expect(Math.abs(fit.gamma - gamma), `fitted γ = ${fit.gamma} ± ${fit.se}`).toBeLessThanOrEqual(4 * fit.se);
      // Growth: the sampled chance to continue rises from the first loop to later ones.
      expect(rows[5]!.estimate).toBeGreaterThan(rows[0]!.estimate);
    },
  );

  it("compiled weights, power sampling (same seeds): every run is token-for-token the reference semantics' run (γ = 0.5, 1, 2; 400 runs each)", () => {
    const program = urnProgram(CONTEXT);
    const model = compileUrn(CONTEXT);
    for (const gamma of [0.5, 1, 2]) {
      const c = sampleCompiled(model, urnPrompt(1, 1), gamma, 400, RMAX, 1 + 1_000_000 * gamma, program);
      expect(c.mismatches).toBe(0);
      const s = sampleSymbolic(program, urnPrompt(1, 1), gamma, 400, RMAX, 1 + 1_000_000 * gamma);
      expect(c.loops).toEqual(s.loops);
    }
  });
});

describe("remark 5: softmax on logits β·count, and temperature on the compiled logits κ·p", () => {
  /** The hazard table's estimates against `continueAt` for every r with ≥ 200 runs at risk (4σ); returns how many r were checked. */
  const checkHazards = (loops: number[], Rmax: number, continueAt: (r: number) => number): number => {
    let checked = 0;
    for (const row of hazardTable(loops, Rmax)) {
      if (row.atRisk < 200) continue;
      checked++;
      expect(withinBinomial(row.estimate, continueAt(row.r), row.atRisk, 4), `r = ${row.r}: ${row.estimate} vs ${continueAt(row.r)}`).toBe(true);
    }
    return checked;
  };

  it("β·count (β = 1/2, 1): a direct sampler over the successor counts completes loop r with the corrected P_r (e⁰ for the zero-count a, and the exit at b); 4000 seeded runs", () => {
    // The sampler reads counts off the sequence itself: every transition s_m → s_(m+1) so far
    // whose s_m is the current token (the every head with j <= i), all three tokens weighted e^(β·count).
    const RM = 6;
    for (const beta of [0.5, 1]) {
      const loops: number[] = [];
      for (let i = 0; i < 4000; i++) {
        const rand = mulberry32(7_000 + i);
        const seq = urnPrompt(1, 1);
        for (let s = 0; s < 2 * RM + 1; s++) {
          const x = seq[seq.length - 1]!;
          const w = new Float64Array(3).fill(1);
          for (let m = 0; m + 1 < seq.length; m++) if (seq[m] === x) w[seq[m + 1]!] *= Math.exp(beta);
          seq.push(drawWeighted(w, 0, 3, rand()));
        }
        loops.push(loopsCompleted(seq.slice(urnPrompt(1, 1).length), RM));
      }
      expect(checkHazards(loops, RM, (r) => countSoftmaxContinue(1, 1, r, beta))).toBeGreaterThanOrEqual(2);
    }
    // Still summable: the hazard is at most (e^(βm) + 3)·e^(−β(n+r)), so S_∞ > 0 for every β > 0.
    for (const beta of [0.1, 0.5, 1, 2]) {
      for (let r = 0; r < 60; r++) expect(1 - countSoftmaxContinue(1, 1, r, beta)).toBeLessThanOrEqual((Math.exp(beta) + 3) * Math.exp(-beta * (1 + r)) + 1e-12);
    }
  });

  it("compiled weights, temperature τ = κ/2: sampled loop completion matches the corrected P_r (2000 seeded runs), and the hazard tends to 1 − (e^{κ/τ}/(e^{κ/τ}+2))²", () => {
    const model = compileUrn(CONTEXT);
    const kappa = model.scales.logitScale;
    const tau = kappa / 2;
    const RM = 8;
    const s = sampleCompiledTemperature(model, urnPrompt(1, 1), tau, 2000, RM, 9_000);
    expect(checkHazards(s.loops, RM, (r) => compiledTemperatureContinue(1, 1, r, kappa, tau))).toBeGreaterThanOrEqual(3);
    const q = Math.exp(kappa / tau) / (Math.exp(kappa / tau) + 2);
    expect(1 - compiledTemperatureContinue(1, 1, 1e6, kappa, tau)).toBeCloseTo(1 - q * q, 5);
  });
});
