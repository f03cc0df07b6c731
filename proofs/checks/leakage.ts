/**
 * proofs/11: the compiled two-layer I_1 (previous-token head + induction head
 * with a positional tie-break) and its attention leakage at finite β.
 *
 * The compiled scores (src/compiler/heads.ts, scales.ts) are, with the clock
 * amplitude A = 2λ and its periods n ∈ {4, 16, …} (H of them):
 *
 *   layer 1 (`lag1`, j = i − 1):  s₁(i, p) = A·Σ_n cos(2π(p − (i − 1))/n)   for p = 1 … i,
 *                                 s₁(i, 0) = A·(H − ½)                        (BOS)
 *   layer 2 (`induction`, latest j ≤ i where lag1[j] == token[i]):
 *       s₂(i, j) = β·P_j(q) + γ·j/C  (j ≥ 1),   s₂(i, 0) = β/2  (BOS)
 *
 * where q = s_i and P_j(q) = Σ_{p ≤ j, s_p = q} a₁(j, p) is the mass layer 1
 * at j puts on q-tokens (BOS carries no token). So layer 2's attention at
 * query i depends only on the *mask* M = {p ≤ i : s_p = q} (i ∈ M), and
 * every mask is realised over V = 2. Everything here is that formula in
 * float64; `observe*` reads the same numbers off the simulator.
 */
import { BOS_ID } from "../../src/model/tokenIds.ts";
import { compile, type CompiledModel } from "../../src/compiler/compile.ts";
import { clockCos } from "../../src/compiler/layout.ts";
import { chooseScales, type Scales } from "../../src/compiler/scales.ts";
import { inductionProgramText } from "../../src/generate/ik.ts";
import { load } from "../../src/lang/check.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { mulberry32 } from "../../src/sim/random.ts";
import { inductionAnswer } from "./oneLayer.ts";

export interface Constants {
  readonly C: number;
  readonly lambda: number;
  readonly beta: number;
  readonly gamma: number;
  /** Layer 1's clock: amplitude A = 2λ per hand, and the hands' periods. */
  readonly clockAmplitude: number;
  readonly periods: readonly number[];
  /** What the compiler states: every head puts ≤ headEpsilon off its choice (and ≤ epsilon end to end). */
  readonly headEpsilon: number;
  readonly epsilon: number;
}

export const vocabNames = (V: number) => Array.from({ length: V }, (_, v) => String.fromCharCode(97 + v));

/** I_1 with `j <= i` compiled at context C, for float64 (the precision the observations run in). */
export function compileI1(C: number, V: number): CompiledModel {
  return compile(load({ path: `I_1@${C}`, text: inductionProgramText({ k: 1, vocab: vocabNames(V), context: C }) }), { precision: "float64" });
}

/** The constants of a compiled I_1. */
export function constantsOf(model: CompiledModel): Constants {
  return constantsOfScales(model.scales);
}

/** I_1's clock reaches C + 1 (its only offset is 1): periods 4, 16, … up to the first ≥ C + 1. */
const i1Periods = (C: number): number[] => {
  const periods = [4];
  while (periods[periods.length - 1]! < C + 1) periods.push(periods[periods.length - 1]! * 4);
  return periods;
};

function constantsOfScales(s: Scales): Constants {
  const C = s.context;
  return {
    C, lambda: s.lambda, beta: s.beta, gamma: s.gamma, clockAmplitude: s.clockAmplitude, periods: i1Periods(C),
    headEpsilon: s.headEpsilon, epsilon: s.epsilon,
  };
}

/** The constants compile() picks for I_1 at context C (2 layers, 1 conjunct, default ε, float64), without compiling. */
export const constantsFor = (C: number): Constants => constantsOfScales(chooseScales(C, 2, 1, undefined, "float64"));

/**
 * Layer-1 score gaps of query i: s₁(i, p) − s₁(i, t) for p = 0 … i, where
 * t = max(i − 1, 0) is the symbolic choice (so the gap at t is 0).
 */
export function layer1Gaps(k: Constants, i: number): Float64Array {
  const { clockAmplitude: A, periods } = k;
  const score = (p: number) => (p === 0 ? A * (periods.length - 0.5) : periods.reduce((s, n) => s + A * clockCos(p - (i - 1), n), 0));
  const t = Math.max(i - 1, 0);
  const top = score(t);
  const g = new Float64Array(i + 1);
  for (let p = 0; p <= i; p++) g[p] = p === t ? 0 : score(p) - top;
  return g;
}

/** Layer-1 attention of query i over p = 0 … i: a₁(i, p) = e^{gap_p}/Z_i. */
export function layer1Row(k: Constants, i: number): Float64Array {
  const r = layer1Gaps(k, i);
  let z = 0;
  for (let p = 0; p <= i; p++) z += r[p] = Math.exp(r[p]!);
  for (let p = 0; p <= i; p++) r[p]! /= z;
  return r;
}

/** Z_i = Σ_p e^{gap_p}, so a₁(i, max(i − 1, 0)) = 1/Z_i. */
export const layer1Z = (k: Constants, i: number) => layer1Gaps(k, i).reduce((z, g) => z + Math.exp(g), 0);

/** Exact layer-1 leakage (Z_i − 1)/Z_i (the same for every sequence). */
export const layer1Leak = (k: Constants, i: number) => {
  const g = layer1Gaps(k, i);
  const t = Math.max(i - 1, 0);
  let off = 0; // Z_i − 1, summed without cancellation
  for (let p = 0; p <= i; p++) if (p !== t) off += Math.exp(g[p]!);
  return off / (1 + off);
};

/** The symbolic target of layer 2 for a mask (q-positions, 1-based, containing i): latest j ≤ i with j−1 ∈ M, j ≥ 2; else 0 (BOS). */
export function layer2Target(inM: (p: number) => boolean, i: number): number {
  for (let j = i; j >= 2; j--) if (inM(j - 1)) return j;
  return 0;
}

/** Layer-2 attention of query i for a mask, from the score formula (float64, max-subtracted softmax). */
export function layer2Row(k: Constants, inM: (p: number) => boolean, i: number, rows?: readonly Float64Array[]): Float64Array {
  const sc = new Float64Array(i + 1);
  sc[0] = k.beta / 2;
  for (let j = 1; j <= i; j++) {
    const a = rows?.[j] ?? layer1Row(k, j);
    let P = 0;
    for (let p = 1; p <= j; p++) if (inM(p)) P += a[p]!;
    sc[j] = k.beta * P + (k.gamma * j) / k.C;
  }
  let mx = -Infinity;
  for (const x of sc) mx = Math.max(mx, x);
  let z = 0;
  for (let j = 0; j <= i; j++) z += sc[j] = Math.exp(sc[j]! - mx);
  for (let j = 0; j <= i; j++) sc[j]! /= z;
  return sc;
}

/** Σ_{j ≠ t} w_j (not 1 − w_t, which cancels). */
export const offMass = (w: ArrayLike<number>, t: number) => {
  let s = 0;
  for (let j = 0; j < w.length; j++) if (j !== t) s += w[j]!;
  return s;
};

export interface WorstCase {
  readonly off: number;
  readonly i: number;
  readonly target: number;
  /** q-positions as "q"/"x", positions 1 … i. */
  readonly mask: string;
}

/** The exact worst layer-2 leakage over every mask of every query position ≤ C − 1 (2^{C−2} masks at the top). */
export function worstCaseExact(k: Constants): WorstCase {
  const rows = Array.from({ length: k.C }, (_, j) => layer1Row(k, j));
  let best: WorstCase = { off: -1, i: 0, target: 0, mask: "" };
  for (let i = 1; i < k.C; i++) {
    for (let m = 0; m < 1 << (i - 1); m++) {
      const inM = (p: number) => p === i || (p < i && ((m >> (p - 1)) & 1) === 1);
      const t = layer2Target(inM, i);
      const off = offMass(layer2Row(k, inM, i, rows), t);
      if (off > best.off) {
        best = { off, i, target: t, mask: Array.from({ length: i }, (_, p) => (inM(p + 1) ? "q" : "x")).join("") };
      }
    }
  }
  return best;
}

/**
 * The layer-2 bound B₂: per competitor, the least score gap the argument in
 * proofs/11 allows, summed into S; the leakage is ≤ S/(1+S). Worst over the
 * target j* (a match) with the query at C − 1 (later competitors only add),
 * and the no-match case, which is exact.
 */
export function layer2Bound(k: Constants): { bound: number; match: number; noMatch: number; worstTarget: number } {
  const { C, beta, gamma } = k;
  const A = new Float64Array(C); // a₁(j, j−1) = 1/Z_j
  const leak = new Float64Array(C); // 1 − A_j, without cancellation
  const B0 = new Float64Array(C); // a₁(j, 0)
  const self = new Float64Array(C); // a₁(j, j)
  for (let j = 1; j < C; j++) {
    const row = layer1Row(k, j);
    A[j] = 1 / layer1Z(k, j);
    leak[j] = layer1Leak(k, j);
    B0[j] = row[0]!;
    self[j] = row[j]!;
  }
  const i = C - 1;
  const ratio = (S: number) => S / (1 + S);
  // No match: M = {i}, so P_j = 0 for j < i and P_i = a₁(i, i). Exact.
  let Sn = 0;
  for (let j = 1; j < i; j++) Sn += Math.exp((gamma * j) / C - beta / 2);
  if (i >= 1) Sn += Math.exp(beta * self[i]! + (gamma * i) / C - beta / 2);
  const noMatch = ratio(Sn);
  let match = 0;
  let worstTarget = 0;
  for (let t = 2; t <= i; t++) {
    // Target score ≥ β·A_t + γt/C.
    let S = Math.exp(-(beta * (A[t]! - 0.5) + (gamma * t) / C)); // BOS
    for (let j = 1; j < t; j++) S += Math.exp(-(beta * (B0[j]! - leak[t]!) + (gamma * (t - j)) / C));
    for (let j = t + 1; j <= i; j++) S += Math.exp(-(beta * (A[t]! - leak[j]! + B0[j]!) - (gamma * (j - t)) / C));
    if (ratio(S) > match) [match, worstTarget] = [ratio(S), t];
  }
  return { bound: Math.max(match, noMatch), match, noMatch, worstTarget };
}

export interface Observation {
  readonly C: number;
  readonly sequences: number;
  readonly positions: number;
  /** Predictions (argmax, or flat for ⊥) that differ from the induction answer. */
  readonly wrong: number;
  readonly firstWrong: string | null;
  readonly maxOff1: number;
  readonly maxOff2: number;
  readonly worst2: string;
  /** Largest |simulator pattern − formula| over layer-2 entries. */
  readonly maxFormulaDiff: number;
  readonly seconds: number;
}

class Observer {
  readonly sim: IncrementalRun;
  readonly k: Constants;
  readonly rows: Float64Array[];
  readonly V: number;
  readonly kappa: number;
  seqs = 0;
  positions = 0;
  wrong = 0;
  firstWrong: string | null = null;
  maxOff1 = 0;
  maxOff2 = 0;
  worst2 = "";
  maxFormulaDiff = 0;
  constructor(readonly model: CompiledModel) {
    this.sim = new IncrementalRun(model.weights);
    this.k = constantsOf(model);
    this.rows = Array.from({ length: this.k.C }, (_, j) => layer1Row(this.k, j));
    this.V = model.program.vocab.length;
    this.kappa = model.scales.logitScale;
  }

  /** Inspect the last position of `seq` (already pushed into the simulator). */
  look(seq: readonly number[], formula: boolean): void {
    const i = seq.length;
    this.positions++;
    const a1 = this.sim.pattern(0, 0);
    this.maxOff1 = Math.max(this.maxOff1, offMass(a1, i - 1));
    const a2 = this.sim.pattern(1, 0);
    const q = seq[i - 1]!;
    const inM = (p: number) => seq[p - 1] === q;
    const t = layer2Target(inM, i);
    const off = offMass(a2, t);
    if (off > this.maxOff2) [this.maxOff2, this.worst2] = [off, seq.map((x) => String.fromCharCode(97 + x)).join(" ")];
    if (formula) {
      const f = layer2Row(this.k, inM, i, this.rows);
      for (let j = 0; j <= i; j++) this.maxFormulaDiff = Math.max(this.maxFormulaDiff, Math.abs(f[j]! - a2[j]!));
    }
    // The prediction: argmax of the token logits, or ⊥ when they are flat (as src/verify/compare.ts decides).
    const logits = this.sim.logitsView();
    let hi = -Infinity, arg = -1;
    for (let v = 0; v < this.V; v++) {
      const x = logits[v + 1]!;
      if (x > hi) [hi, arg] = [x, v];
    }
    const got = hi < this.kappa / 2 ? this.V : arg;
    const want = inductionAnswer(seq, this.V, "bottom");
    if (got !== want) {
      this.wrong++;
      this.firstWrong ??= `${seq.join(" ")}: got ${got}, want ${want}`;
    }
  }

  result(t0: number): Observation {
    return {
      C: this.k.C, sequences: this.seqs, positions: this.positions, wrong: this.wrong, firstWrong: this.firstWrong,
      maxOff1: this.maxOff1, maxOff2: this.maxOff2, worst2: this.worst2, maxFormulaDiff: this.maxFormulaDiff,
      seconds: (performance.now() - t0) / 1000,
    };
  }
}

/** Every sequence of length 1 … maxLength over the first V tokens, through the compiled weights (prefix-tree walk). */
export function observeExhaustive(model: CompiledModel, V: number, maxLength: number, formula = true): Observation {
  const t0 = performance.now();
  const o = new Observer(model);
  const L = Math.min(maxLength, model.program.context - 1);
  o.sim.step(BOS_ID);
  const seq: number[] = [];
  const walk = (d: number) => {
    for (let v = 0; v < V; v++) {
      o.sim.step(v + 1);
      seq.push(v);
      o.seqs++;
      o.look(seq, formula);
      if (d < L) walk(d + 1);
      seq.pop();
      o.sim.pop();
    }
  };
  if (L >= 1) walk(1);
  return o.result(t0);
}

/** `count` seeded random sequences of length C − 1 over V tokens; every position of each is inspected. */
export function observeRandom(model: CompiledModel, V: number, count: number, seed: number, formula = false): Observation {
  const t0 = performance.now();
  const o = new Observer(model);
  const rnd = mulberry32(seed);
  const n = model.program.context - 1;
  for (let c = 0; c < count; c++) {
    o.sim.clear();
    o.sim.step(BOS_ID);
    const seq: number[] = [];
    for (let p = 1; p <= n; p++) {
      const v = Math.floor(rnd() * V);
      o.sim.step(v + 1);
      seq.push(v);
      o.look(seq, formula);
    }
    o.seqs++;
  }
  return o.result(t0);
}

/** Given sequences (e.g. the worst-case mask, padded), inspected at every position. */
export function observeSequences(model: CompiledModel, seqs: readonly (readonly number[])[]): Observation {
  const t0 = performance.now();
  const o = new Observer(model);
  for (const s of seqs) {
    o.sim.clear();
    o.sim.step(BOS_ID);
    const seq: number[] = [];
    for (const v of s) {
      o.sim.step(v + 1);
      seq.push(v);
      o.look(seq, true);
    }
    o.seqs++;
  }
  return o.result(t0);
}
