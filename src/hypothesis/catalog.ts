/**
 * Named hypotheses, each a few lines over the library. Some are theorems
 * (they hold), some are tempting and false (the search refutes them and
 * prints the smallest counterexample), which is the point of the tool.
 */
import fc from "fast-check";
import { compile } from "../compiler/compile.ts";
import { load } from "../lang/check.ts";
import { withRule } from "../lang/edit.ts";
import type { Program } from "../lang/program.ts";
import { finiteStateLoop } from "../generate/finiteState.ts";
import { inductionProgramText } from "../generate/ik.ts";
import { generateCompiled } from "../generate/compiled.ts";
import { asInduction } from "../generate/predict.ts";
import { generateSymbolic } from "../generate/symbolic.ts";
import { finiteStateObstacle, interpret } from "../semantics/interpret.ts";
import { valueEquals } from "../semantics/values.ts";
import { compareSequence } from "../verify/check.ts";
import { arbProgram } from "./arbitrary.ts";
import type { Hypothesis } from "./hypothesis.ts";

/** A program (its source and its checked form) with a prompt for it. */
export interface ProgramCase {
  readonly source: string;
  readonly program: Program;
  readonly prompt: number[];
}

/** Token indices as the program's words. */
export const words = (p: Program, ts: readonly number[]) => ts.map((t) => p.vocab[t]).join(" ");

/** A random program with a prompt that fits its context. */
export const programWithPrompt = (programs = arbProgram()): fc.Arbitrary<ProgramCase> =>
  fc.tuple(programs, fc.array(fc.nat({ max: 4 }), { maxLength: 8 })).map(([g, raw]) => ({
    source: g.source,
    program: g.program,
    prompt: raw.slice(0, g.program.context - 1).map((t) => t % g.program.vocab.length),
  }));

/** Show a case as the program's source, then `label: prompt`. */
export const showCase = (label: string) => (c: ProgramCase) => `${c.source.trimEnd()}\n\n${label}: ${words(c.program, c.prompt) || "(empty)"}`;

const finiteState = arbProgram().filter(({ program }) => finiteStateObstacle(program) === null);

const ikCase = fc
  .record({ k: fc.integer({ min: 1, max: 3 }), v: fc.integer({ min: 2, max: 4 }), raw: fc.array(fc.nat({ max: 3 }), { maxLength: 10 }) })
  .map(({ k, v, raw }) => {
    const vocab = ["a", "b", "c", "d"].slice(0, v);
    const source = inductionProgramText({ k, vocab, context: 64 });
    const program = load({ path: `I_${k}`, text: source });
    return { source, program, prompt: raw.map((t) => t % v) };
  });

export const HYPOTHESES: readonly Hypothesis<ProgramCase>[] = [
  {
    name: "compiled-agrees",
    statement: "compiled weights decode to the reference semantics at every layer and position",
    expected: "holds",
    cases: programWithPrompt(),
    check: (c) => {
      const d = compareSequence(compile(c.program), c.prompt);
      return d === null || `position ${d.position}, layer ${d.layer}, feature ${d.feature} differs`;
    },
    show: showCase("input"),
  },
  {
    name: "finite-state-loops",
    statement: "greedy generation of a finite-state program (positional and latest/earliest heads) is eventually periodic",
    expected: "holds",
    cases: programWithPrompt(finiteState),
    check: (c) => finiteStateLoop(c.program, c.prompt, "fallback", 20_000).cycle !== null,
    show: showCase("prompt"),
  },
  {
    name: "loops-within-vocabulary",
    statement: "greedy generation of a finite-state program loops with period at most the vocabulary size",
    expected: "fails",
    cases: programWithPrompt(finiteState),
    check: (c) => {
      const { cycle, emitted } = finiteStateLoop(c.program, c.prompt);
      const V = c.program.vocab.length;
      return cycle === null || cycle.period <= V || `period ${cycle.period} > V = ${V}: ${words(c.program, emitted.slice(cycle.prePeriod, cycle.prePeriod + cycle.period))} repeats`;
    },
    show: showCase("prompt"),
  },
  {
    name: "ik-period-bound",
    statement: "greedy I_k generation has period at most V^k",
    expected: "holds",
    cases: ikCase,
    check: (c) => {
      const { cycle } = finiteStateLoop(c.program, c.prompt);
      const bound = c.program.vocab.length ** asInduction(c.program)!.k;
      return cycle !== null && (cycle.period <= bound || `period ${cycle.period} > V^k = ${bound}`);
    },
    show: showCase("prompt"),
  },
  {
    name: "latest-equals-earliest",
    statement: "an induction head predicts the same with `latest` as with `earliest`",
    expected: "fails",
    cases: fc.array(fc.nat({ max: 3 }), { maxLength: 20 }).map((raw) => {
      const source = inductionProgramText({ k: 1, vocab: ["a", "b", "c", "d"], context: 32 });
      const program = load({ path: "I_1", text: source });
      return { source, program, prompt: raw };
    }),
    check: (c) => {
      const early = withRule(c.program, "earliest");
      const a = interpret(c.program, c.prompt);
      const b = interpret(early, c.prompt);
      for (let p = 1; p <= c.prompt.length; p++) {
        if (!valueEquals(a.prediction(p), b.prediction(p))) return `position ${p}: latest ≠ earliest`;
      }
      return true;
    },
    show: showCase("input"),
  },
  {
    name: "kv-cache-exact",
    statement: "greedy generation from compiled weights is the same with and without the KV cache",
    expected: "holds",
    cases: programWithPrompt(),
    check: (c) => {
      const m = compile(c.program);
      const steps = c.program.context;
      const a = generateCompiled(m, c.prompt, { steps }).generated;
      const b = generateCompiled(m, c.prompt, { steps, kvCache: false }).generated;
      const s = generateSymbolic(c.program, c.prompt, { steps }).generated;
      return (a.join() === b.join() && a.join() === s.join()) || "cached, uncached and symbolic generation differ";
    },
    show: showCase("prompt"),
  },
];

/** A catalog entry by name, or undefined. */
export function hypothesisNamed(name: string) {
  return HYPOTHESES.find((h) => h.name === name);
}
