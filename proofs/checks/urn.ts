/**
 * Self-reinforcement of loops as an urn (proofs/05).
 *
 * Setup in our programs: the count-based head E = inductionProgramText({k: 1,
 * vocab: a b c, rule: "every"}) (j ≤ i) and the prompt
 *   (a c)^m (a b)^n a
 * so that at the final a the head's exact output is {b: n/(n+m), c: m/(n+m)},
 * and b → a, c → a are deterministic. The loop is "b a": each time b is
 * drawn at an a, the count of a → b grows by one. Sampling the next token
 * ∝ p^γ from the head's output, the chance to continue after r loops is
 *   P_r = (n+r)^γ / ((n+r)^γ + m^γ),
 * and the chance to make at least R loops is S_R = ∏_{r<R} P_r.
 *
 * Exact values use mathjs fractions (integer γ); γ = 1/2 uses floats.
 * Sampling goes through generateSymbolic (power strategy, exact p) and
 * through compiled weights (generateCompiled with the power strategy: the
 * logits are κ·p̃ with p̃ ≈ p, and drawing ∝ (κp̃)^γ is drawing ∝ p̃^γ,
 * because the normalisation cancels κ^γ — no division by κ is needed).
 */
import { fraction, type Fraction } from "mathjs";
import type { CompiledModel } from "../../src/compiler/compile.ts";
import { compile } from "../../src/compiler/compile.ts";
import { BOS_ID } from "../../src/model/tokenIds.ts";
import { generateCompiled } from "../../src/generate/compiled.ts";
import { generateSymbolic } from "../../src/generate/symbolic.ts";
import type { Program } from "../../src/lang/program.ts";
import { SymbolicRun } from "../../src/semantics/interpret.ts";
import type { Dist } from "../../src/semantics/values.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { everyProgram } from "./every.ts";

export const A = 0;
export const B = 1;
export const C = 2;

const f = (p: number | bigint, q: number | bigint = 1): Fraction => fraction(p as number, q as number) as Fraction;

/** The urn prompt (a c)^m (a b)^n a, as vocabulary indices over a b c. */
export function urnPrompt(n: number, m: number): number[] {
  return [...Array.from({ length: m }, () => [A, C]).flat(), ...Array.from({ length: n }, () => [A, B]).flat(), A];
}

/** The count-based head over a b c (j ≤ i); context must hold the prompt and 2R + 1 steps. */
export const urnProgram = (context: number): Program => everyProgram(3, context);

/** Exact P_r for integer γ ≥ 0. */
export function continueExact(n: number, m: number, r: number, gamma: number): Fraction {
  if (!Number.isInteger(gamma) || gamma < 0) throw new Error(`continueExact: integer γ ≥ 0 only, got ${gamma}`);
  const x = BigInt(n + r) ** BigInt(gamma);
  const y = BigInt(m) ** BigInt(gamma);
  return f(x, x + y);
}

/** P_r in floating point (any γ). */
export const continueFloat = (n: number, m: number, r: number, gamma: number): number =>
  (n + r) ** gamma / ((n + r) ** gamma + m ** gamma);

/** Exact S_R = ∏_{r<R} P_r for integer γ. */
export function survivalExact(n: number, m: number, R: number, gamma: number): Fraction {
  // Multiply numerators and denominators as bigints, reduce once: exact and fast.
  let num = 1n;
  let den = 1n;
  for (let r = 0; r < R; r++) {
    const x = BigInt(n + r) ** BigInt(gamma);
    num *= x;
    den *= x + BigInt(m) ** BigInt(gamma);
  }
  return f(num, den);
}

export const survivalFloat = (n: number, m: number, R: number, gamma: number): number => {
  let s = 1;
  for (let r = 0; r < R; r++) s *= continueFloat(n, m, r, gamma);
  return s;
};

/** A fraction as a float, to double precision even when numerator and denominator overflow a double. */
export function fracToNumber(x: Fraction): number {
  const n = x.n as unknown as bigint;
  const d = x.d as unknown as bigint;
  if (n === 0n) return 0;
  const K = Math.max(0, 64 + d.toString(2).length - n.toString(2).length);
  return (Number((n << BigInt(K)) / d) * 2 ** -K) * Number(x.s);
}

/** π / sinh π, the γ = 2, n = m = 1 survival probability (Euler's product for sinh). */
export const PI_OVER_SINH_PI = Math.PI / Math.sinh(Math.PI);

/**
 * Rational bounds on S_∞ for γ = 2, n = m = 1 from the finite product:
 * S_∞ = S_R / ∏_{q>R} (1 + 1/q²), and 1 ≤ ∏_{q>R}(1 + 1/q²) ≤ e^{Σ_{q>R} 1/q²} < e^{1/R},
 * so S_R·(1 − 1/R) < S_R·e^{−1/R} < S_∞ ≤ S_R.
 */
export function gamma2Bounds(R: number): { lower: Fraction; upper: Fraction } {
  const upper = survivalExact(1, 1, R, 2);
  return { lower: upper.mul(f(R - 1, R)), upper };
}

/** Loops made in one generated continuation (decisions at even steps; the odd steps must be a). */
export function loopsMade(generated: readonly number[], Rmax: number): number {
  for (let r = 0; r < Rmax; r++) {
    if (generated[2 * r] !== B) return r;
    const back = generated[2 * r + 1];
    if (back !== undefined && back !== A) throw new Error(`loopsMade: b followed by ${back}, not a`);
  }
  return Rmax;
}

export interface LoopSample {
  /** loops[i] = loops made by run i (capped at Rmax). */
  readonly loops: number[];
  /** Runs whose generated tokens differ between the two paths compared (if any). */
  readonly mismatches?: number;
}

/** Steps needed to observe Rmax loops. */
export const stepsFor = (Rmax: number): number => 2 * Rmax + 1;

/** Sample `runs` continuations through the reference semantics (seeds seed0, seed0+1, …). */
export function sampleSymbolic(program: Program, prompt: readonly number[], gamma: number, runs: number, Rmax: number, seed0 = 1): LoopSample {
  const loops: number[] = [];
  for (let i = 0; i < runs; i++) {
    const g = generateSymbolic(program, prompt, { steps: stepsFor(Rmax), power: { gamma, seed: seed0 + i } });
    loops.push(loopsMade(g.generated, Rmax));
  }
  return { loops };
}

/**
 * Sample through compiled weights (generateCompiled, power strategy, same
 * seeds); with `against`, count the runs whose tokens differ from the
 * reference semantics' run of the same seed.
 */
export function sampleCompiled(
  model: CompiledModel,
  prompt: readonly number[],
  gamma: number,
  runs: number,
  Rmax: number,
  seed0 = 1,
  against?: Program,
): LoopSample {
  const loops: number[] = [];
  let mismatches = 0;
  for (let i = 0; i < runs; i++) {
    const opts = { steps: stepsFor(Rmax), strategy: { kind: "power" as const, gamma, seed: seed0 + i } };
    const g = generateCompiled(model, prompt, opts);
    loops.push(loopsMade(g.generated, Rmax));
    if (against) {
      const s = generateSymbolic(against, prompt, { steps: stepsFor(Rmax), power: { gamma, seed: seed0 + i } });
      if (s.generated.join() !== g.generated.join()) mismatches++;
    }
  }
  return against ? { loops, mismatches } : { loops };
}

export interface HazardRow {
  readonly r: number;
  /** Runs that made ≥ r loops (at risk at decision r). */
  readonly atRisk: number;
  /** Runs that made ≥ r + 1 loops. */
  readonly continued: number;
  readonly estimate: number;
}

/** Empirical P(continue | r loops made) for r < Rmax. */
export function hazardTable(loops: readonly number[], Rmax: number): HazardRow[] {
  const rows: HazardRow[] = [];
  for (let r = 0; r < Rmax; r++) {
    const atRisk = loops.filter((x) => x >= r).length;
    const continued = loops.filter((x) => x >= r + 1).length;
    rows.push({ r, atRisk, continued, estimate: atRisk ? continued / atRisk : NaN });
  }
  return rows;
}

/** |estimate − p| ≤ z·√(p(1−p)/n) + 1/(2n): the normal-approximation binomial bound with continuity correction. */
export const withinBinomial = (estimate: number, p: number, n: number, z: number): boolean =>
  Math.abs(estimate - p) <= z * Math.sqrt((p * (1 - p)) / n) + 1 / (2 * n);

/**
 * The premise of the urn, checked in the reference semantics: after r loops
 * the head's exact output at the current a is {b: (n+r)/(n+m+r), c: m/(n+m+r)}.
 */
export function urnDistributions(program: Program, n: number, m: number, R: number): { r: number; dist: Dist }[] {
  const run = new SymbolicRun(program);
  for (const t of urnPrompt(n, m)) run.push(t);
  const out: { r: number; dist: Dist }[] = [];
  for (let r = 0; r <= R; r++) {
    out.push({ r, dist: run.prediction(run.length - 1) as Dist });
    if (r < R) {
      run.push(B);
      run.push(A);
    }
  }
  return out;
}

/**
 * The same premise through compiled weights: logits/κ at the current a
 * after r loops (ids offset by one), for comparison with the exact p.
 */
export function compiledUrnProbabilities(model: CompiledModel, n: number, m: number, R: number): { r: number; p: number[] }[] {
  const run = new IncrementalRun(model.weights);
  run.push(BOS_ID);
  for (const t of urnPrompt(n, m)) run.push(t + 1);
  const kappa = model.scales.logitScale;
  const out: { r: number; p: number[] }[] = [];
  for (let r = 0; r <= R; r++) {
    const l = run.logits();
    out.push({ r, p: [l[1]! / kappa, l[2]! / kappa, l[3]! / kappa] });
    if (r < R) {
      run.push(B + 1);
      run.push(A + 1);
    }
  }
  return out;
}

export const compileUrn = (context: number): CompiledModel => compile(urnProgram(context));

/**
 * Remark 5, logits β·count over a b c: the chance that loop r (after r loops) is completed. At
 * the decision a the counts are (a 0, b n+r, c m), and the zero-count a still weighs e⁰ = 1; at
 * the following b the counts are (a n+r, b 0, c 0), so drawing b or c there is a second way out.
 */
export function countSoftmaxContinue(n: number, m: number, r: number, beta: number): number {
  const b = Math.exp(beta * (n + r));
  return (b / (1 + b + Math.exp(beta * m))) * (b / (b + 2));
}

/**
 * Remark 5, temperature τ on the compiled logits κ·p: the chance that loop r is completed. At a
 * the logits are (0, κ(n+r)/(n+m+r), κm/(n+m+r)); at b the output {a: 1} gives (κ, 0, 0).
 */
export function compiledTemperatureContinue(n: number, m: number, r: number, kappa: number, tau: number): number {
  const b = Math.exp((kappa * (n + r)) / ((n + m + r) * tau));
  const c = Math.exp((kappa * m) / ((n + m + r) * tau));
  const back = Math.exp(kappa / tau);
  return (b / (1 + b + c)) * (back / (back + 2));
}

/** Completed loops when any token may be drawn: loop r is b at step 2r, then a at step 2r + 1. */
export function loopsCompleted(generated: readonly number[], Rmax: number): number {
  for (let r = 0; r < Rmax; r++) if (generated[2 * r] !== B || generated[2 * r + 1] !== A) return r;
  return Rmax;
}

/** Sample `runs` continuations from compiled weights with temperature τ (seeds seed0, seed0+1, …). */
export function sampleCompiledTemperature(model: CompiledModel, prompt: readonly number[], tau: number, runs: number, Rmax: number, seed0 = 1): LoopSample {
  const loops: number[] = [];
  for (let i = 0; i < runs; i++) {
    const g = generateCompiled(model, prompt, { steps: stepsFor(Rmax), strategy: { kind: "sample", temperature: tau, seed: seed0 + i } });
    loops.push(loopsCompleted(g.generated, Rmax));
  }
  return { loops };
}
