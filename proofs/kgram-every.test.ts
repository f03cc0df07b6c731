/**
 * Theorem 8, part 1: k-gram successor statistics under greedy decoding are
 * finite-state — the checks behind proofs/08-counters.md.
 */
import { describe, expect, it } from "vitest";
import { findCycle, minimalCycle } from "../src/generate/cycles.ts";
import { inductionProgramText } from "../src/generate/ik.ts";
import { generateSymbolic } from "../src/generate/symbolic.ts";
import { load } from "../src/lang/check.ts";
import { deBruijn } from "./checks/ik.ts";

/**
 * The finite-state side: k-gram successor statistics (`inductionProgramText`
 * with rule `every`) freeze each k-gram's successor at its first visit, so
 * generation is a walk on V^k k-grams. Every prompt of length k … L.
 */
function kgramEvery(V: number, k: number, L: number, strict: boolean) {
  const vocab = Array.from({ length: V }, (_, v) => `t${v}`);
  const steps = 2 * V ** k + k + 2;
  const program = load({ path: "<every>", text: inductionProgramText({ k, vocab, context: L + steps + 2, rule: "every", strict }) });
  let prompts = 0;
  let unfrozen = 0;
  let mismatch = 0;
  let maxMuP = 0;
  let noRepeat = 0;
  for (let n = k; n <= L; n++) {
    for (let code = 0; code < V ** n; code++) {
      const prompt = Array.from({ length: n }, (_, d) => Math.floor(code / V ** d) % V);
      const { generated } = generateSymbolic(program, prompt, { steps });
      const seq = [...prompt, ...generated];
      const seen = new Map<string, number>();
      const first = new Map<string, number>();
      let a = -1;
      let b = -1;
      for (let s = 0; s < steps; s++) {
        const u = seq.slice(n + s - k, n + s).join(",");
        const e = generated[s]!;
        if (seen.has(u) && seen.get(u) !== e) unfrozen++;
        seen.set(u, e);
        if (a < 0 && first.has(u)) [a, b] = [first.get(u)!, s];
        if (!first.has(u)) first.set(u, s);
      }
      prompts++;
      if (a < 0) {
        noRepeat++;
        continue;
      }
      // From the first repeat of the current k-gram the walk, and so the emitted stream, has period b − a.
      const cyc = minimalCycle(generated, a, b - a);
      maxMuP = Math.max(maxMuP, cyc.prePeriod + cyc.period);
      const shown = findCycle(generated);
      if (!shown || shown.prePeriod !== cyc.prePeriod || shown.period !== cyc.period) mismatch++;
    }
  }
  return { prompts, unfrozen, mismatch, maxMuP, noRepeat };
}

describe("k-gram every heads stay finite-state (Theorem 8, part 1)", () => {
  it.each([
    [2, 2, 10],
    [3, 2, 6],
    [2, 3, 10],
  ])("V=%i, k=%i, every prompt of length k … %i, both strictness variants: frozen successors, μ + p ≤ V^k", (V, k, L) => {
    for (const strict of [false, true]) {
      const r = kgramEvery(V, k, L, strict);
      expect(r.prompts).toBeGreaterThan(50);
      expect({ unfrozen: r.unfrozen, mismatch: r.mismatch, noRepeat: r.noRepeat }).toEqual({ unfrozen: 0, mismatch: 0, noRepeat: 0 });
      expect(r.maxMuP).toBeLessThanOrEqual(V ** k);
    }
  });

  it("a de Bruijn prompt (the cycle, then its first k tokens again) attains μ + p = V^k, for V^k ≤ 32", () => {
    for (const [V, k] of [[2, 1], [2, 2], [3, 2], [2, 3], [4, 2], [3, 3], [2, 4], [2, 5]] as const) {
      const d = deBruijn(V, k);
      const prompt = [...d, ...d.slice(0, k)];
      const vocab = Array.from({ length: V }, (_, v) => `t${v}`);
      for (const strict of [false, true]) {
        const steps = 3 * V ** k;
        const program = load({ path: "<every>", text: inductionProgramText({ k, vocab, context: prompt.length + steps + 2, rule: "every", strict }) });
        const { generated } = generateSymbolic(program, prompt, { steps });
        expect(findCycle(generated)).toMatchObject({ prePeriod: 0, period: V ** k });
      }
    }
  });
});
