/**
 * Theorem 7, collapse half: pointer programs are finite-state under greedy generation
 * (proofs/07-pointers.md). The fast-check runs are seeded, so every case is reproducible.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generateSymbolic } from "../src/generate/symbolic.ts";
import { load } from "../src/lang/check.ts";
import type { Program } from "../src/lang/program.ts";
import type { SymbolicRun } from "../src/semantics/interpret.ts";
import { type PointerShape, pointerObstacle, pointerShape, pointerStateKey } from "../src/semantics/pointerState.ts";
import { fcParams } from "../test/support/seed.ts";
import { arbPointerProgram, lemmaBreaks, pointerLoop, pointerStateBound, pointerTrajectory } from "./checks/pointers.ts";

/** Every prompt of length ≤ L over V tokens. */
function* prompts(V: number, L: number): Generator<number[]> {
  const walk = function* (prefix: number[]): Generator<number[]> {
    yield prefix;
    if (prefix.length < L) for (let t = 0; t < V; t++) yield* walk([...prefix, t]);
  };
  yield* walk([]);
}

/** Induction through a pointer: the latest earlier occurrence's position, then the token one after it. */
const POINTER_INDUCTION = `vocab a b
context 64
layer 1
  head prev: select latest j < i where token[j] == token[i]; copy pos[j] as at
layer 2
  head next: select latest j <= i where pos[j] == at[i] + 1; copy token[j] as out
output out
`;

/** The token after the first occurrence of the current token (V = 3). */
const FIRST_SUCCESSOR = `vocab a b c
context 64
layer 1
  head first: select earliest j <= i where token[j] == token[i]; copy pos[j] as at
layer 2
  head next: select latest j <= i where pos[j] == at[i] + 1; copy token[j] as out
output out
`;

/** Reads two positions after the latest earlier occurrence of the token before the current one. */
const POINTER_SKIP = `vocab a b
context 64
layer 1
  head lag: select j = i - 1; copy token[j] as lag
  head occ: select latest j < i where token[j] == token[i]; copy pos[j] as at
layer 2
  head skip: select latest j <= i where pos[j] == at[i] + 2 and token[j] == lag[i]; copy token[j] as out, pos[j] as far
layer 3
  head back: select earliest j <= i where pos[j] == far[i] - 1; copy token[j] as out2
output out2
`;

/** Keys of every prompt up to L, each with the tokens greedy generation emits after it. */
function futuresByKey(program: Program, V: number, L: number, steps: number, key: (run: SymbolicRun, s: PointerShape) => string): { keys: number; clashes: number } {
  const seen = new Map<string, string>();
  let clashes = 0;
  for (const prompt of prompts(V, L)) {
    const tr = pointerTrajectory(program, prompt, steps, key);
    tr.keys.forEach((k, s) => {
      // Only futures of the full length are compared, so a clash is a real difference.
      if (s > 0) return;
      const future = tr.emitted.join();
      const before = seen.get(k);
      if (before === undefined) seen.set(k, future);
      else if (before !== future) clashes++;
    });
  }
  return { keys: seen.size, clashes };
}

/** The key with every far entry cut down to its own position's features (no neighbourhood). */
function withoutNeighbourhood(run: SymbolicRun, shape: PointerShape): string {
  return pointerStateKey(run, { ...shape, reach: 0, window: shape.window });
}

describe("Theorem 7 (collapse): pointer programs are finite-state", () => {
  it("the class: rebuilt pointers and pos[j] == f[i] + c comparisons pass; copied pointers, key-side pointers, two position conditions and counting do not", () => {
    expect(pointerObstacle(load({ path: "p", text: POINTER_INDUCTION }))).toBeNull();
    expect(pointerObstacle(load({ path: "p", text: POINTER_SKIP }))).toBeNull();
    const bad = (head: string, extra = "") =>
      pointerObstacle(load({ path: "p", text: `vocab a b\ncontext 64\nlayer 1\n  head prev: select latest j < i where token[j] == token[i]; copy pos[j] as at\nlayer 2\n  ${head}\n${extra}output out\n` }));
    expect(bad("head c: select j = i - 1; copy at[j] as p2, token[j] as out")).toMatch(/copies pointer 'at'/);
    expect(bad("head c: select latest j < i where at[j] == at[i]; copy token[j] as out")).toMatch(/key side/);
    expect(bad("head c: select latest j <= i where pos[j] == at[i] + 1 and pos[j] == pos[i] - 2; copy token[j] as out")).toMatch(/twice/);
    expect(bad("head c: select every j <= i where token[j] == token[i]; copy token[j] as out")).toMatch(/every/);
  });

  it("reach and window: R is the furthest offset a head reads from a base, W = max(k, 2R + 1)", () => {
    expect(pointerShape(load({ path: "p", text: POINTER_INDUCTION }))).toEqual({ reach: 1, window: 3, tables: ["prev"] });
    // far = at + 2 (off 2), then far − 1 is read: 2 + 1 = 3.
    expect(pointerShape(load({ path: "p", text: POINTER_SKIP }))).toEqual({ reach: 3, window: 7, tables: ["occ"] });
  });

  it("lemma: equal pointer state keys have equal futures (random pointer programs, two prompts each)", () => {
    let merges = 0;
    fc.assert(
      fc.property(arbPointerProgram, fc.array(fc.nat({ max: 2 }), { maxLength: 7 }), fc.array(fc.nat({ max: 2 }), { maxLength: 7 }), ({ program, source }, ra, rb) => {
        const V = program.vocab.length;
        const a = pointerTrajectory(program, ra.map((t) => t % V), 40);
        const b = pointerTrajectory(program, rb.map((t) => t % V), 40);
        const r = lemmaBreaks(a, b);
        merges += r.merges;
        expect(r.breaks, source).toEqual([]);
      }),
      fcParams({ numRuns: 150, seed: 7150 }),
    );
    expect(merges).toBeGreaterThan(50); // exercised, not vacuous
  });

  it("the neighbourhoods are part of the state: without them, prompts with equal keys have different futures", () => {
    // FIRST_SUCCESSOR reads the token after the first occurrence of the current token. An entry's
    // own features do not hold that token (it did not exist when the entry was written), so a key
    // without neighbourhoods merges `a a a b c b b b` (then c b c b …) with `a a b c a b b b`
    // (then c a a a …). Over two tokens the token after an entry is forced, so this needs V = 3.
    const first = load({ path: "p", text: FIRST_SUCCESSOR });
    const merged = [[0, 0, 0, 1, 2, 1, 1, 1], [0, 0, 1, 2, 0, 1, 1, 1]];
    const [ra, rb] = merged.map((p) => pointerTrajectory(first, p, 12, withoutNeighbourhood));
    expect(ra!.keys[0]).toBe(rb!.keys[0]);
    expect(ra!.emitted).not.toEqual(rb!.emitted);
    const [fa, fb] = merged.map((p) => pointerTrajectory(first, p, 12));
    expect(fa!.keys[0]).not.toBe(fb!.keys[0]);
    expect(futuresByKey(first, 3, 7, 24, withoutNeighbourhood).clashes).toBeGreaterThan(0);
    for (const text of [FIRST_SUCCESSOR, POINTER_INDUCTION, POINTER_SKIP]) {
      const program = load({ path: "p", text: text.replace("vocab a b\n", "vocab a b c\n") });
      expect(futuresByKey(program, 3, 6, 24, pointerStateKey).clashes).toBe(0);
    }
  });

  it("|S| bound: distinct states after every prompt ≤ 9 (V = 2) within the bound, and μ + p ≤ states visited", () => {
    for (const text of [POINTER_INDUCTION, POINTER_SKIP]) {
      const program = load({ path: "p", text });
      const bound = pointerStateBound(program);
      const keys = new Set<string>();
      const shape = pointerShape(program);
      for (const prompt of prompts(2, 9)) {
        keys.add(pointerTrajectory(program, prompt, 1).keys[0]!);
        const loop = pointerLoop(program, prompt);
        expect(loop.cycle.prePeriod + loop.cycle.period).toBeLessThanOrEqual(loop.states);
        expect(BigInt(loop.states)).toBeLessThanOrEqual(bound);
      }
      expect(BigInt(keys.size)).toBeLessThanOrEqual(bound);
      expect(keys.size).toBeGreaterThan(shape.window); // the prompts reach many states
    }
  });

  it("random pointer programs: the proved cycle holds on plain greedy generation well past the repeat", () => {
    fc.assert(
      fc.property(arbPointerProgram, fc.array(fc.nat({ max: 2 }), { maxLength: 6 }), ({ program, source }, raw) => {
        const prompt = raw.map((t) => t % program.vocab.length);
        const loop = pointerLoop(program, prompt);
        const steps = loop.emitted.length + 3 * loop.cycle.period + 24;
        const brute = generateSymbolic({ ...program, context: prompt.length + steps + 2 }, prompt, { steps }).generated;
        expect(brute.slice(0, loop.emitted.length), source).toEqual(loop.emitted);
        const { prePeriod, period } = loop.cycle;
        for (let s = prePeriod; s + period < brute.length; s++) expect(brute[s + period], source).toBe(brute[s]);
      }),
      fcParams({ numRuns: 100, seed: 7100 }),
    );
  });
});
