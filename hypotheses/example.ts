/**
 * An example hypothesis file for `circuits hypothesis --file hypotheses/example.ts`.
 *
 * Every export that is a `Hypothesis` (or an array of them) is tested: fast-check
 * draws cases, `check` returns true, false or the reason it fails, and a
 * counterexample is shrunk and printed with `show`. Outside this repository,
 * import from "induction-circuits" instead of "../src/index.ts".
 */
import fc from "fast-check";
import { type Hypothesis, interpret, programWithPrompt, type ProgramCase, showCase, valueEquals } from "../src/index.ts";

/** Attention is causal: tokens after a position never change its prediction. */
export const causal: Hypothesis<ProgramCase> = {
  name: "causal",
  statement: "the prediction at a position is the same whatever tokens follow it",
  expected: "holds",
  cases: programWithPrompt(),
  check: ({ program, prompt }) => {
    const full = interpret(program, prompt);
    for (let p = 1; p <= prompt.length; p++) {
      if (!valueEquals(full.prediction(p), interpret(program, prompt.slice(0, p)).prediction(p))) return `position ${p} changed`;
    }
    return true;
  },
  show: showCase("input"),
  // Also checkable on every canonical program and prompt (--exhaustive): the case is the program and prompt.
  exhaustiveCase: (c) => c,
};

/** Tempting and false: a stack of heads is no more than a bigram table. */
export const lastTokenDecides: Hypothesis<ProgramCase> = {
  name: "last-token-decides",
  statement: "the final prediction depends only on the final token (every program is a bigram model)",
  expected: "holds",
  cases: programWithPrompt(),
  check: ({ program, prompt }) => {
    if (prompt.length === 0) return true;
    const whole = interpret(program, prompt).prediction(prompt.length);
    const alone = interpret(program, prompt.slice(-1)).prediction(1);
    return valueEquals(whole, alone) || "the prompt's final token alone predicts something else";
  },
  show: showCase("input"),
  exhaustiveCase: (c) => c,
};

/** Any fast-check arbitrary will do as cases: here, bare token sequences for a fixed program. */
export const shortPromptsOnly: Hypothesis<number[]> = {
  name: "plain-arbitrary",
  statement: "random token lists are never longer than 6 (a deliberately trivial true check on a plain arbitrary)",
  expected: "holds",
  cases: fc.array(fc.nat({ max: 3 }), { maxLength: 6 }),
  check: (xs) => xs.length <= 6,
  show: (xs) => xs.join(" "),
};
