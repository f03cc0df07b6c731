/**
 * Theorem 6 (finite-state collapse): the checks behind proofs/06-finite-state.md.
 * The fast-check runs are seeded, so every case is reproducible.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../src/compiler/compile.ts";
import { generateCompiled } from "../src/generate/compiled.ts";
import { findCycle } from "../src/generate/cycles.ts";
import { finiteStateLoop, stateWindow } from "../src/generate/finiteState.ts";
import { inductionProgramText } from "../src/generate/ik.ts";
import { generateSymbolic } from "../src/generate/symbolic.ts";
import { mode } from "../src/semantics/values.ts";
import { arbProgram } from "../src/hypothesis/arbitrary.ts";
import { load } from "../src/lang/check.ts";
import type { Program } from "../src/lang/program.ts";
import { finiteStateObstacle, SymbolicRun } from "../src/semantics/interpret.ts";
import { fcParams } from "../test/support/seed.ts";

const finite = arbProgram().filter(({ program }) => finiteStateObstacle(program) === null);

/** Greedy steps with the state key before each, on an unbounded-context copy of the program. */
function trajectory(program: Program, prompt: readonly number[], steps: number): { keys: string[]; emitted: number[] } {
  const run = new SymbolicRun({ ...program, context: prompt.length + steps + 2 });
  for (const t of prompt) run.push(t);
  const keys: string[] = [];
  const emitted: number[] = [];
  for (let s = 0; s < steps; s++) {
    keys.push(run.stateKey(stateWindow(program)));
    const next = mode(run.prediction(run.length - 1)) ?? 0;
    emitted.push(next);
    run.push(next);
  }
  return { keys, emitted };
}

/**
 * The lemma on one pair of runs: wherever the state keys before two greedy steps coincide, the
 * tokens from there on coincide. Returns how many coinciding keys it saw.
 */
function checkLemma(program: Program, pa: readonly number[], pb: readonly number[], steps = 40): number {
  const a = trajectory(program, pa, steps);
  const b = trajectory(program, pb, steps);
  const at = new Map(a.keys.map((k, s) => [k, s] as const));
  let merges = 0;
  b.keys.forEach((k, sb) => {
    const sa = at.get(k);
    if (sa === undefined) return;
    merges++;
    const n = Math.min(steps - sa, steps - sb);
    expect(b.emitted.slice(sb, sb + n), `same key after [${pa}] (step ${sa}) and [${pb}] (step ${sb})`).toEqual(a.emitted.slice(sa, sa + n));
  });
  return merges;
}

/** Theorem 6's computable bound (V+1)^{wF} · Π_h ((V+1)^{m_h} + 1)^{V^{c_h}} on |S|, exactly. */
function stateBound(program: Program): bigint {
  const V = BigInt(program.vocab.length);
  const w = BigInt(stateWindow(program));
  const F = BigInt([...program.features.keys()].filter((f) => f !== "pos").length);
  let bound = (V + 1n) ** (w * F);
  for (const h of program.layers.flat()) {
    if (h.select.kind !== "match") continue;
    bound *= ((V + 1n) ** BigInt(h.copies.length) + 1n) ** (V ** BigInt(h.select.conditions.length));
  }
  return bound;
}

/** The state key after reading a prompt (no generation). */
function keyAfter(program: Program, prompt: readonly number[]): string {
  const run = new SymbolicRun({ ...program, context: prompt.length + 2 });
  for (const t of prompt) run.push(t);
  return run.stateKey(stateWindow(program));
}

const I1 = (vocab: string[]): Program => load({ path: "I_1", text: inductionProgramText({ k: 1, vocab, context: 16 }) });

/** Every prompt of length ≤ L over V tokens. */
function* prompts(V: number, L: number): Generator<number[]> {
  const walk = function* (prefix: number[]): Generator<number[]> {
    yield prefix;
    if (prefix.length < L) for (let t = 0; t < V; t++) yield* walk([...prefix, t]);
  };
  yield* walk([]);
}

describe("Theorem 6: finite-state collapse", () => {
  it("lemma: equal state keys have equal futures (two runs from different prompts)", () => {
    let merges = 0;
    fc.assert(
      fc.property(finite, fc.array(fc.nat({ max: 4 }), { maxLength: 6 }), fc.array(fc.nat({ max: 4 }), { maxLength: 6 }), ({ program }, ra, rb) => {
        const V = program.vocab.length;
        merges += checkLemma(
          program,
          ra.map((t) => t % V),
          rb.map((t) => t % V),
        );
      }),
      fcParams({ numRuns: 150, seed: 6150 }),
    );
    expect(merges).toBeGreaterThan(50); // the lemma was exercised, not vacuous
  });

  it("the match tables are part of the state: I_1, V = 3, prompts `b c` and `a b c` share the window but not the future", () => {
    // Both end with token c after b, and the induction head finds no earlier c, so every feature in
    // the window agrees; only the tables differ (`a b c` has seen a → b). The fallback a then sends
    // `b c` into a a a … and `a b c` into b c a b c …. A key without the tables would merge them.
    const program = I1(["a", "b", "c"]);
    const [bc, abc] = [[1, 2], [0, 1, 2]];
    expect(keyAfter(program, bc)).not.toBe(keyAfter(program, abc));
    const future = (p: number[]) => generateSymbolic({ ...program, context: 20 }, p, { steps: 12 }).generated;
    expect(future(bc)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(future(abc)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    checkLemma(program, bc, abc, 12);
  });

  it("|S| bound: distinct reachable states ≤ (V+1)^{wF} · Π_h ((V+1)^{m_h} + 1)^{V^{c_h}}, and μ + p ≤ the states a walk visits", () => {
    const programs: [string, number][] = [
      // One positional head over V = 2: 7 reachable states ((⊥,⊥), 2 × (t,⊥), 4 × (t,t′)) against a
      // bound of 3² = 9, so a bound with V in place of V + 1 (2² = 4) fails here.
      ["vocab a b\ncontext 16\nlayer 1\n  head prev: select j = i - 1; copy token[j] as prev\noutput prev\n", 2],
      [inductionProgramText({ k: 1, vocab: ["a", "b"], context: 16 }), 2],
      [inductionProgramText({ k: 2, vocab: ["a", "b"], context: 16 }), 2],
      [inductionProgramText({ k: 1, vocab: ["a", "b", "c"], context: 16 }), 3],
    ];
    const reachable: number[] = [];
    for (const [text, V] of programs) {
      const program = load({ path: "p", text });
      const bound = stateBound(program);
      const keys = new Set<string>();
      for (const prompt of prompts(V, V === 2 ? 10 : 6)) {
        keys.add(keyAfter(program, prompt));
        const loop = finiteStateLoop(program, prompt);
        expect(loop.cycle!.prePeriod + loop.cycle!.period).toBeLessThanOrEqual(loop.states);
        expect(BigInt(loop.states)).toBeLessThanOrEqual(bound);
      }
      expect(BigInt(keys.size)).toBeLessThanOrEqual(bound);
      reachable.push(keys.size);
    }
    expect(stateBound(load({ path: "p", text: programs[0]![0] }))).toBe(9n);
    expect(reachable[0]).toBe(7);
  });

  it("V = 2, exhaustively: every I_k (k ≤ 3, latest/earliest, j < i / j <= i) on every prompt of length ≤ 8 cycles with period ≤ 2^k", () => {
    let cases = 0;
    for (const k of [1, 2, 3]) {
      for (const rule of ["latest", "earliest"] as const) {
        for (const strict of [false, true]) {
          const program = load({ path: "I_k", text: inductionProgramText({ k, vocab: ["a", "b"], context: 16, rule, strict }) });
          for (const prompt of prompts(2, 8)) {
            const c = finiteStateLoop(program, prompt).cycle!;
            expect(c.period).toBeLessThanOrEqual(2 ** k);
            cases++;
          }
        }
      }
    }
    expect(cases).toBe(3 * 2 * 2 * 511);
  });

  it("random finite-state programs (V ≤ 5): the proved cycle is the one compiled weights generate", () => {
    fc.assert(
      fc.property(finite, fc.array(fc.nat({ max: 4 }), { maxLength: 5 }), ({ program }, raw) => {
        const prompt = raw.slice(0, program.context - 1).map((t) => t % program.vocab.length);
        const { cycle } = finiteStateLoop(program, prompt);
        const run = generateCompiled(compile(program), prompt, { steps: program.context });
        if (cycle!.prePeriod + 3 * cycle!.period <= run.generated.length) {
          expect(findCycle(run.generated)).toMatchObject({ prePeriod: cycle!.prePeriod, period: cycle!.period });
        }
      }),
      fcParams({ numRuns: 60, seed: 6060 }),
    );
  });

  it("halting is decided, and decided right: the walk's answer is what plain generation with the stop rule does", () => {
    // Brute force, independent of state keys: generate with the stop rule for the walk's length
    // plus EXTRA steps. A claimed stop at step s must be a stop after exactly the same s tokens; a
    // claimed cycle must not stop within those steps, and its tokens must repeat with the claimed (μ, p).
    const EXTRA = 24;
    let stops = 0;
    let cycles = 0;
    fc.assert(
      fc.property(finite, fc.array(fc.nat({ max: 4 }), { maxLength: 5 }), ({ program }, raw) => {
        const prompt = raw.slice(0, program.context - 1).map((t) => t % program.vocab.length);
        const loop = finiteStateLoop(program, prompt, "stop");
        expect((loop.cycle === null) !== (loop.stopsAt === null)).toBe(true);
        const steps = loop.emitted.length + EXTRA;
        const brute = generateSymbolic({ ...program, context: prompt.length + steps + 2 }, prompt, { steps, onNone: "stop" });
        if (loop.stopsAt !== null) {
          stops++;
          expect(brute.stopped).toBe(true);
          expect(brute.generated).toEqual(loop.emitted);
          expect(brute.generated.length).toBe(loop.stopsAt);
        } else {
          cycles++;
          const { prePeriod, period } = loop.cycle!;
          expect(brute.stopped).toBe(false);
          expect(brute.generated.slice(0, loop.emitted.length)).toEqual(loop.emitted);
          for (let s = prePeriod; s + period < brute.generated.length; s++) expect(brute.generated[s + period]).toBe(brute.generated[s]);
        }
      }),
      fcParams({ numRuns: 100, seed: 6100 }),
    );
    expect(stops).toBeGreaterThan(10); // both answers were exercised
    expect(cycles).toBeGreaterThan(10);
  });

  it("halting, exhaustively (V = 3, prompts of length ≤ 5): stop, at the same step, or cycle, as plain generation shows", () => {
    // I_1 can stop only at step 0 (once it matches it matches forever, Theorem 1). `back` copies
    // the token before the latest earlier occurrence of the current token, so it can stop later:
    // `c a b a` emits c, whose only earlier occurrence has nothing before it.
    const back = load({
      path: "back",
      text: "vocab a b c\ncontext 16\nlayer 1\n  head lag1: select j = i - 1; copy token[j] as lag1\nlayer 2\n  head back: select latest j < i where token[j] == token[i]; copy lag1[j] as prev\noutput prev\n",
    });
    for (const program of [I1(["a", "b", "c"]), back]) {
      const answers = { stop: 0, late: 0, cycle: 0 };
      for (const prompt of prompts(3, 5)) {
        const loop = finiteStateLoop(program, prompt, "stop");
        const brute = generateSymbolic({ ...program, context: prompt.length + 42 }, prompt, { steps: 40, onNone: "stop" });
        expect(brute.stopped, `prompt [${prompt}]`).toBe(loop.stopsAt !== null);
        if (loop.stopsAt !== null) expect(brute.generated.length, `prompt [${prompt}]`).toBe(loop.stopsAt);
        answers[loop.stopsAt === null ? "cycle" : loop.stopsAt > 0 ? "late" : "stop"]++;
      }
      expect(answers.stop).toBeGreaterThan(0);
      expect(answers.cycle).toBeGreaterThan(0);
      if (program === back) expect(answers.late).toBeGreaterThan(0);
    }
  });
});
