/**
 * Theorem 8 (two-counter machines under greedy generation): the checks
 * behind proofs/08-counters.md. Greedy generation of the program U from the
 * prompt π(M) emits exactly the expansion of M's run, stops exactly when M
 * halts, and holds each counter as the balance of P and Z records of one
 * `every` key — through the reference semantics and compiled weights.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../src/compiler/compile.ts";
import { generateCompiled } from "../src/generate/compiled.ts";
import { type CounterMachine, counterProgram, encodeMachine, type Instruction, runMachine } from "../src/generate/counters.ts";
import { generateSymbolic } from "../src/generate/symbolic.ts";
import { frac, isDist } from "../src/semantics/values.ts";
import { fcParams } from "../test/support/seed.ts";

/**
 * Moves counter 0 into counter 1 and back, then adds one: round n takes
 * about 4n instructions, so its run — and the generated stream — is not
 * eventually periodic.
 */
const TRANSFER: CounterMachine = [
  { op: "inc", counter: 0, next: 1 },
  { op: "jzdec", counter: 0, zero: 3, nonzero: 2 },
  { op: "inc", counter: 1, next: 1 },
  { op: "jzdec", counter: 1, zero: 0, nonzero: 4 },
  { op: "inc", counter: 0, next: 3 },
];

/** Greedy generation of U from π(M) under the stop rule, as token names. */
function generateNames(m: CounterMachine, steps: number) {
  const enc = encodeMachine(m);
  const program = counterProgram(enc.vocab, enc.prompt.length + steps + 2);
  const g = generateSymbolic(program, enc.prompt, { steps, onNone: "stop" });
  return { enc, g, names: g.generated.map((t) => enc.vocab[t]!) };
}

const machines = fc.integer({ min: 1, max: 6 }).chain((n) => {
  const state = fc.integer({ min: 0, max: n - 1 });
  const counter = fc.constantFrom<0 | 1>(0, 1);
  const ins: fc.Arbitrary<Instruction> = fc.oneof(
    { weight: 2, arbitrary: fc.record({ op: fc.constant("inc" as const), counter, next: state }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("jzdec" as const), counter, zero: state, nonzero: state }) },
    { weight: 1, arbitrary: fc.constant({ op: "halt" as const }) },
  );
  return fc.array(ins, { minLength: n, maxLength: n });
});

describe("two-counter machines by greedy generation (Theorem 8)", () => {
  it("the transfer machine: 1,500 generated tokens are its run's expansion, and the rounds grow", () => {
    const steps = 1500;
    const { enc, g, names } = generateNames(TRANSFER, steps);
    const run = runMachine(TRANSFER, steps);
    expect(names).toEqual(enc.expand(run).slice(0, steps));
    expect(g.stopped).toBe(false);
    // The gaps between visits of state 0 strictly increase: no eventual period.
    const visits = names.flatMap((t, k) => (t === "q0" ? [k] : []));
    const gaps = visits.slice(1).map((v, k) => v - visits[k]!);
    expect(gaps.length).toBeGreaterThan(8);
    for (let k = 1; k < gaps.length; k++) expect(gaps[k]!).toBeGreaterThan(gaps[k - 1]!);
  });

  it("at every zero test the every head holds counter c as (1 + incs) P against (1 + decs) Z", () => {
    const steps = 600;
    const { enc, g, names } = generateNames(TRANSFER, steps);
    const P = enc.vocab.indexOf("P");
    const Z = enc.vocab.indexOf("Z");
    const incs = [0, 0];
    const decs = [0, 0];
    let tests = 0;
    const start = enc.prompt.length; // position of the prompt's last token (q0)
    for (let k = 0; k < names.length - 1; k++) {
      const t = names[k]!;
      const pos = start + 1 + k; // position of generated token k
      const ins = TRANSFER[Number(t.slice(1))];
      if (t.startsWith("a") && ins?.op === "inc") incs[ins.counter]++;
      if (t.startsWith("d") && ins?.op === "jzdec") decs[ins.counter]++;
      if (t.startsWith("t") && ins?.op === "jzdec") {
        const c = ins.counter;
        const v = g.run.value("next", pos);
        if (!isDist(v)) throw new Error(`no distribution at a zero test (position ${pos})`);
        const m = 2 + incs[c]! + decs[c]!;
        expect(v.get(P)!.equals(frac(1 + incs[c]!, m)) && v.get(Z)!.equals(frac(1 + decs[c]!, m))).toBe(true);
        expect(v.size).toBe(2);
        tests++;
      }
    }
    expect(tests).toBeGreaterThan(50);
  });

  it("random machines: generation is the run's expansion, and stops exactly when the machine halts (fallback rule: then H forever)", () => {
    let halted = 0;
    let running = 0;
    fc.assert(
      fc.property(machines, (m) => {
        const run = runMachine(m, 60);
        const want = m.length ? encodeMachine(m).expand(run) : [];
        // A halting run must stop right after its expansion; a running one is compared as far as it was run.
        const steps = Math.min(want.length + (run.halted ? 4 : 0), 240);
        const { g, names } = generateNames(m, steps);
        const stops = run.halted && want.length < steps;
        if (!(g.stopped === stops && names.join(" ") === want.slice(0, steps).join(" "))) return false;
        if (!stops) {
          running++;
          return true;
        }
        halted++;
        // Under the fallback rule a halted machine emits H (index 0) forever instead.
        const enc = encodeMachine(m);
        const program = counterProgram(enc.vocab, enc.prompt.length + steps + 2);
        const f = generateSymbolic(program, enc.prompt, { steps, onNone: "fallback" }).generated.map((t) => enc.vocab[t]!);
        return f.join(" ") === [...want, ...Array<string>(steps - want.length).fill("H")].join(" ");
      }),
      fcParams({ seed: 8001, numRuns: 40 }),
    );
    expect(halted).toBeGreaterThan(5);
    expect(running).toBeGreaterThan(5);
  });

  it("compiled weights generate the same tokens and stop at the same place", () => {
    const cases: CounterMachine[] = [
      TRANSFER,
      // Adds 3 to counter 1, then counts it down through counter 0 and halts.
      [
        { op: "inc", counter: 1, next: 1 },
        { op: "inc", counter: 1, next: 2 },
        { op: "inc", counter: 1, next: 3 },
        { op: "jzdec", counter: 1, zero: 5, nonzero: 4 },
        { op: "inc", counter: 0, next: 3 },
        { op: "halt" },
      ],
    ];
    for (const m of cases) {
      const steps = 90;
      const enc = encodeMachine(m);
      const model = compile(counterProgram(enc.vocab, enc.prompt.length + steps + 2));
      const c = generateCompiled(model, enc.prompt, { steps, onNone: "stop" });
      const run = runMachine(m, steps);
      const want = enc.expand(run);
      expect(c.generated.map((t) => enc.vocab[t])).toEqual(want.slice(0, steps));
      expect(c.stopped).toBe(run.halted && want.length < steps);
    }
  });
});
