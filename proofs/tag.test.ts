/**
 * Theorem 7, escape half: programs/tag/interpreter.circ runs tag systems written into its prompt,
 * token for token against direct simulators of the tag systems (written here, independent of the
 * interpreter and of its state-tag encoding), under the semantics and through compiled float64
 * weights. TAG_FULL=1 adds Collatz n = 27 (40,656 steps) and the compiled runs of a^3, a^6, a^7.
 */
import { describe, expect, it } from "vitest";
import type { SymbolicRun } from "../src/semantics/interpret.ts";
import { cyclicTagAsStates, runCompiledInterpreter, runInterpreter, tagInterpreter, tagPrompt, twoTagAsStates } from "./checks/tag.ts";

/** A 2-tag system run directly: read the first letter, delete two, append its production; halt below two letters. */
function twoTagWords(productions: Readonly<Record<string, string>>, word: string): string[] {
  const words = [word];
  let w = word;
  while (w.length >= 2) {
    w = w.slice(2) + productions[w[0]!]!;
    words.push(w);
  }
  return words;
}

/** A cyclic tag system run directly for `steps` steps (or until the word is empty). */
function cyclicTagWords(productions: readonly string[], word: string, steps: number): string[] {
  const words = [word];
  let w = word;
  for (let t = 0; t < steps && w.length > 0; t++) {
    w = w.slice(1) + (w[0] === "1" ? productions[t % productions.length]! : "");
    words.push(w);
  }
  return words;
}

const COLLATZ = { a: "bc", b: "a", c: "aaa" } as const;
const CYCLIC = ["011", "10", "101"] as const;

/**
 * What the interpreter must emit for a run of words: per step the production appended (the
 * suffix by which the next word outgrows the current one after the deletion) and then the state
 * tokens — `u v` for the 2-tag encoding, the next production's state for the cyclic one.
 */
function expectedStream(words: readonly string[], deleted: number, states: (t: number) => string[]): string[] {
  const out: string[] = [];
  for (let t = 0; t + 1 < words.length; t++) {
    const kept = words[t]!.length - deleted;
    out.push(...words[t + 1]!.slice(kept), ...states(t));
  }
  return out;
}

/**
 * The successive words in the context: at the position of each state token that starts a step,
 * the queue letters from the read pointer to the end equal that step's word, and the program's own
 * features agree — `reads` is the pointer and `letter` the word's first letter.
 */
function checkWords(run: SymbolicRun, tokens: readonly string[], words: readonly string[], stepStarts: readonly number[], letters: ReadonlySet<string>): void {
  const vocab = run.program.vocab;
  const start = tokens.indexOf("H", 1); // the queue's H (the header's is at 0)
  expect(start).toBeGreaterThan(0);
  const queue: string[] = [];
  let next = start + 1;
  stepStarts.forEach((p, t) => {
    for (; next <= p; next++) if (letters.has(tokens[next]!)) queue.push(tokens[next]!);
    // Position p + 1 of the run holds tokens[p]; the number of state tokens in the queue so far is
    // the rank (from 1) of the letter under the read pointer.
    const pointer = run.value("reads", p + 1) as number;
    const word = words[t]!;
    expect(queue.slice(pointer - 1).join(""), `word ${t}`).toBe(word);
    if (word.length > 0) expect(vocab[run.value("letter", p + 1) as number], `letter of word ${t}`).toBe(word[0]);
  });
}

/** Collatz through the interpreter: the emitted stream and every word, for a^n. */
function collatz(n: number): { steps: number; longest: number } {
  const words = twoTagWords(COLLATZ, "a".repeat(n));
  const want = expectedStream(words, 2, () => ["u", "v"]);
  const sys = twoTagAsStates(COLLATZ);
  const prompt = tagPrompt(sys, [..."a".repeat(n)], "v");
  const program = tagInterpreter();
  const { run, emitted } = runInterpreter(program, prompt, want.length);
  expect(emitted.length).toBe(want.length);
  for (let k = 0; k < want.length; k++) if (emitted[k] !== want[k]) expect(emitted.slice(k, k + 12), `first difference at generated token ${k}`).toEqual(want.slice(k, k + 12));
  const tokens = [...prompt, ...emitted];
  // Step t starts at the t-th `v`: the prompt's last token, then each emitted `v`.
  const starts = [prompt.length - 1, ...emitted.flatMap((x, k) => (x === "v" ? [prompt.length + k] : []))];
  checkWords(run, tokens, words, starts, new Set(sys.letters));
  return { steps: words.length - 1, longest: Math.max(...words.map((w) => w.length)) };
}

describe("Theorem 7 (escape): the tag interpreter", () => {
  it("the direct Collatz simulator: a^n goes to a^{n/2} or a^{(3n+1)/2} and halts at a", () => {
    const ws = twoTagWords(COLLATZ, "aaa");
    expect(ws.at(-1)).toBe("a");
    const powers = ws.filter((w) => /^a+$/.test(w)).map((w) => w.length);
    expect(powers).toEqual([3, 5, 8, 4, 2, 1]);
  });

  it("Collatz 2-tag (a → bc, b → a, c → aaa) from aaa, a^6 and a^7: every token and every word", () => {
    expect(collatz(3).steps).toBe(24);
    expect(collatz(6).steps).toBe(30);
    expect(collatz(7).steps).toBe(128);
  });

  it("cyclic tag (011, 10, 101) from 1: 400 steps, every token and every word", () => {
    const steps = 400;
    const states = ["x", "y", "z"];
    const words = cyclicTagWords(CYCLIC, "1", steps);
    const want = expectedStream(words, 1, (t) => [states[(t + 1) % 3]!]);
    const sys = cyclicTagAsStates(CYCLIC);
    const prompt = tagPrompt(sys, ["1"], "x");
    const { run, emitted } = runInterpreter(tagInterpreter(), prompt, want.length);
    expect(emitted).toEqual(want);
    const starts = [prompt.length - 1, ...emitted.flatMap((x, k) => (states.includes(x) ? [prompt.length + k] : []))];
    checkWords(run, [...prompt, ...emitted], words, starts, new Set(["0", "1"]));
    expect(Math.max(...words.map((w) => w.length))).toBeGreaterThan(50); // it grows: not a finite-state walk
  });

  it("compiled (float64): the cyclic tag system's first 12 steps, token for token", () => {
    const words = cyclicTagWords(CYCLIC, "1", 12);
    const want = expectedStream(words, 1, (t) => [["x", "y", "z"][(t + 1) % 3]!]);
    const prompt = tagPrompt(cyclicTagAsStates(CYCLIC), ["1"], "x");
    const run = runCompiledInterpreter(tagInterpreter(), prompt, want.length);
    expect(run.emitted).toEqual(want);
  });

  it.runIf(process.env.TAG_FULL === "1")("compiled (float64): Collatz from a^3, a^6 and a^7, every token", () => {
    for (const n of [3, 6, 7]) {
      const words = twoTagWords(COLLATZ, "a".repeat(n));
      const want = expectedStream(words, 2, () => ["u", "v"]);
      const prompt = tagPrompt(twoTagAsStates(COLLATZ), [..."a".repeat(n)], "v");
      const run = runCompiledInterpreter(tagInterpreter(), prompt, want.length);
      expect(run.emitted, `a^${n} at context ${run.context}`).toEqual(want);
    }
  }, 3_600_000);

  it.runIf(process.env.TAG_FULL === "1")("Collatz from a^27: 40,656 steps, longest word 4,616 letters, every token and every word", () => {
    expect(collatz(27)).toEqual({ steps: 40656, longest: 4616 });
  }, 600_000);
});
