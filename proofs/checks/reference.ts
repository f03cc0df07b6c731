/**
 * Gap traces of greedy I_k generation from the two other implementations:
 * the reference semantics (SymbolicRun on the I_k program, with the
 * selected position copied out as a feature) and compiled weights (the
 * induction head's attention argmax in the simulator). Both speak the same
 * IkTrace language as the direct machine in ik.ts, so the three are compared
 * token for token and gap for gap.
 */
import { compile, type CompiledModel } from "../../src/compiler/compile.ts";
import { BOS_ID } from "../../src/model/tokenIds.ts";
import { inductionProgramText } from "../../src/generate/ik.ts";
import { argmaxLowest } from "../../src/generate/strategy.ts";
import { FALLBACK_TOKEN } from "../../src/generate/symbolic.ts";
import { load } from "../../src/lang/check.ts";
import type { Program } from "../../src/lang/program.ts";
import { SymbolicRun } from "../../src/semantics/interpret.ts";
import { IncrementalRun } from "../../src/sim/kvcache.ts";
import { IkMachine, type IkTrace, traceSteps } from "./ik.ts";

/** Token names a, b, c, … (then t26, t27, … past z). */
export const vocabNames = (V: number): string[] =>
  Array.from({ length: V }, (_, v) => (v < 26 ? String.fromCharCode(97 + v) : `t${v}`));

/** I_k as the proofs define it (`j <= i`, rule latest). */
export function ikProgram(k: number, V: number, context: number): Program {
  return load({ path: `I_${k}`, text: inductionProgramText({ k, vocab: vocabNames(V), context }) });
}

/**
 * I_k with the selected key position also copied out (`pos[j] as at`): the
 * same selection and the same output, so the same generation, but the
 * reference semantics now says which j it chose.
 */
export function ikGapProgram(k: number, V: number, context: number): Program {
  const text = inductionProgramText({ k, vocab: vocabNames(V), context }).replace(
    "copy token[j] as next",
    "copy token[j] as next, pos[j] as at",
  );
  return load({ path: `I_${k}+at`, text });
}

/**
 * Greedy generation under the reference semantics, continuing a SymbolicRun
 * that holds the prompt (restored afterwards). The program's key position
 * is j + 1 in the proofs' notation, so gap = t − (at − 1).
 */
export function symbolicTrace(run: SymbolicRun, steps: number): IkTrace {
  const emitted: number[] = [];
  const gaps: number[] = [];
  const grams: number[] = [];
  let pushed = 0;
  for (let s = 0; s < steps; s++) {
    const t = run.length - 1;
    const next = run.prediction(t);
    const at = run.value("at", t);
    if ((next === null) !== (at === null)) throw new Error("symbolicTrace: `next` and `at` disagree on ⊥");
    emitted.push(next === null ? FALLBACK_TOKEN : (next as number));
    gaps.push(at === null ? 0 : t - ((at as number) - 1));
    grams.push(-1);
    if (run.length >= run.program.context) break;
    run.push(emitted[s]!);
    pushed++;
  }
  for (let r = 0; r < pushed; r++) run.pop();
  return { emitted, gaps, grams };
}

/** Convenience: a fresh run on a prompt. */
export function symbolicTraceOf(program: Program, prompt: readonly number[], steps: number): IkTrace {
  const run = new SymbolicRun(program);
  for (const t of prompt) run.push(t);
  return symbolicTrace(run, steps);
}

const compiledCache = new Map<string, CompiledModel>();

/** The compiled I_k model (cached per k, V, context). */
export function compiledIk(k: number, V: number, context: number): CompiledModel {
  const key = `${k}/${V}/${context}`;
  let m = compiledCache.get(key);
  if (!m) {
    m = compile(ikProgram(k, V, context));
    compiledCache.set(key, m);
  }
  return m;
}

export interface CompiledTrace extends IkTrace {
  /** Largest attention mass the induction head put off its argmax key, over the run. */
  readonly maxLeak: number;
}

/**
 * Greedy generation through compiled weights (KV-cached simulator), reading
 * each step's gap from the induction head's attention: its argmax key J is
 * the program's j, so the matched position is J − 1 (J = 0, BOS, is "no
 * match"). Greedy choice exactly as generateCompiled: lowest id within
 * 2κ·distTolerance of the maximum logit. At most context − 1 − |prompt| steps.
 */
export function compiledTrace(model: CompiledModel, prompt: readonly number[], steps: number): CompiledTrace {
  const { program, scales, circuits } = model;
  const V = program.vocab.length;
  const head = circuits.find((c) => c.head.name === "induction");
  if (!head) throw new Error("compiledTrace: no head named 'induction'");
  const run = new IncrementalRun(model.weights);
  run.push(BOS_ID);
  for (const t of prompt) run.push(t + 1);
  const tol = 2 * scales.logitScale * scales.distTolerance;
  const emitted: number[] = [];
  const gaps: number[] = [];
  const grams: number[] = [];
  let maxLeak = 0;
  const n = Math.min(steps, program.context - 1 - prompt.length);
  for (let s = 0; s < n; s++) {
    const t = run.length - 1;
    const pat = run.pattern(head.block, head.index);
    let J = 0;
    for (let q = 1; q < pat.length; q++) if (pat[q]! > pat[J]!) J = q;
    maxLeak = Math.max(maxLeak, 1 - pat[J]!);
    const id = argmaxLowest(run.logitsView(), 1, V + 1, tol);
    emitted.push(id - 1);
    gaps.push(J === 0 ? 0 : t - (J - 1));
    grams.push(-1);
    if (s + 1 < n) run.push(id);
  }
  return { emitted, gaps, grams, maxLeak };
}

export interface CrossCheck {
  readonly prompts: number;
  readonly disagreements: number;
  readonly first: { prompt: string; direct: IkTrace; reference: IkTrace } | null;
}

/**
 * Every prompt of length ≤ maxLen: the direct machine's first `steps`
 * emitted tokens and gaps equal the reference semantics' (SymbolicRun on
 * I_k with `pos[j] as at`, walked as the same prefix tree with push/pop).
 */
export function crossCheckReference(V: number, k: number, maxLen: number, steps: number): CrossCheck {
  const program = ikGapProgram(k, V, maxLen + steps + 1);
  const run = new SymbolicRun(program);
  const m = new IkMachine(V, k, maxLen + steps + 2);
  const prompt: number[] = [];
  let prompts = 0;
  let disagreements = 0;
  let first: CrossCheck["first"] = null;
  const go = () => {
    prompts++;
    const d = traceSteps(m, steps);
    const r = symbolicTrace(run, steps);
    if (d.emitted.join() !== r.emitted.join() || d.gaps.join() !== r.gaps.join()) {
      disagreements++;
      first ??= { prompt: prompt.join(" "), direct: d, reference: r };
    }
    if (prompt.length >= maxLen) return;
    for (let t = 0; t < V; t++) {
      m.push(t);
      run.push(t);
      prompt.push(t);
      go();
      prompt.pop();
      run.pop();
      m.pop();
    }
  };
  go();
  return { prompts, disagreements, first };
}
