/**
 * Statements 9–11 (proofs/09-one-layer.md, 10-k-composition.md,
 * 11-two-layers.md) at CI size: the decision-list solver against an
 * independent exhaustive search, constructed heads run on every sequence,
 * certificates checked from their sequences alone, and the compiled two-layer
 * I_1 against its leakage bound. Full bounds: `npx tsx proofs/compositionRun.ts`.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inductionProgramText } from "../src/generate/ik.ts";
import { load } from "../src/lang/check.ts";
import { SymbolicRun } from "../src/semantics/interpret.ts";
import { checkExhaustive } from "../src/verify/check.ts";
import { bruteForce, greedy, type Instance, makeInstance } from "./checks/decisionList.ts";
import {
  compileI1, constantsOf, layer1Leak, layer2Bound, observeExhaustive, observeRandom, vocabNames, worstCaseExact,
} from "./checks/leakage.ts";
import { certificateOf, checkCertificateDirect, instanceOfSequences, parseSequence } from "./checks/certificates.ts";
import { decodeSequence, inductionAnswer, type ProblemSpec, sequenceText, solve, verifyHead } from "./checks/oneLayer.ts";
import { BASE_CERTIFICATES, certificateFor, previousTokenCopyHead, threeRuleHead } from "./checks/windowHeads.ts";
import { fcParams } from "../test/support/seed.ts";

/** Does a ranking (with majority-free per-key tables) decide every input of the instance correctly? */
function rankingWorks(inst: Instance, ranking: readonly number[]): boolean {
  const claimed = new Uint8Array(inst.items);
  for (const k of ranking) {
    const seen = new Map<number, number>();
    for (let a = inst.keyStart[k]!; a < inst.keyStart[k + 1]!; a++) {
      const x = inst.keyItem[a]!;
      if (claimed[x]) continue;
      const v = seen.get(inst.keyObs[a]!);
      if (v !== undefined && v !== inst.answers[x]) return false;
      seen.set(inst.keyObs[a]!, inst.answers[x]!);
    }
    for (let a = inst.keyStart[k]!; a < inst.keyStart[k + 1]!; a++) claimed[inst.keyItem[a]!] = 1;
  }
  return claimed.every((c) => c === 1);
}

const arbInstance = fc
  .record({ keys: fc.integer({ min: 1, max: 7 }), items: fc.integer({ min: 1, max: 10 }), obs: fc.integer({ min: 1, max: 2 }) })
  .chain(({ keys, items, obs }) =>
    fc.tuple(
      fc.constant(keys),
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: items, maxLength: items }),
      fc.array(
        fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: keys - 1 }), fc.integer({ min: 0, max: obs - 1 })), {
          minLength: 1, maxLength: keys, selector: ([k]) => k,
        }),
        { minLength: items, maxLength: items },
      ),
      fc.constant(obs),
    ),
  )
  .map(([keys, answers, present, obs]) => makeInstance(keys, answers, present, obs));

describe("decision lists: greedy is complete", () => {
  it("on random instances greedy's verdict equals the exhaustive search over rankings, in any key order, with one stuck set", () => {
    let unsolvable = 0;
    fc.assert(
      fc.property(arbInstance, (inst) => {
        const all = Array.from({ length: inst.items }, (_, x) => x);
        const g = greedy(inst);
        const back = greedy(inst, Array.from({ length: inst.keys }, (_, k) => inst.keys - 1 - k));
        const bf = bruteForce(inst, all);
        expect(g.solved).toBe(bf !== null);
        expect(back.solved).toBe(g.solved);
        if (g.solved) expect(rankingWorks(inst, g.rules.map((r) => r.key))).toBe(true);
        else {
          unsolvable++;
          // The stuck set is the largest certificate, whatever the order.
          expect(back.solved ? [] : [...back.stuck]).toEqual([...g.stuck]);
        }
        if (bf) expect(rankingWorks(inst, bf)).toBe(true);
      }),
      fcParams({ numRuns: 600, seed: 9 }),
    );
    expect(unsolvable).toBeGreaterThan(20); // the generator reaches both verdicts
  });
});

describe("proofs/09: one layer, keys on (token, position)", () => {
  it("the induction answer is the reference semantics of I_1 (j <= i) at the last position, ⊥ when there is no earlier occurrence", () => {
    const p = load({ path: "I_1", text: inductionProgramText({ k: 1, vocab: vocabNames(3), context: 8 }) });
    const run = new SymbolicRun(p);
    let n = 0;
    const walk = (seq: number[]) => {
      for (let v = 0; v < 3; v++) {
        run.push(v);
        seq.push(v);
        n++;
        expect(run.prediction(seq.length), sequenceText(seq)).toBe(inductionAnswer(seq, 3, "bottom") === 3 ? null : inductionAnswer(seq, 3, "bottom"));
        if (seq.length < 6) walk(seq);
        seq.pop();
        run.pop();
      }
    };
    walk([]);
    expect(n).toBe(1092);
  });

  it.each([
    [2, 2, true], [2, 4, true], [2, 6, true], [2, 8, true],
    [3, 2, true], [3, 3, true], [3, 4, true], [4, 3, true], [4, 4, true], [5, 4, true],
    [3, 5, false], [3, 6, false], [3, 7, false], [4, 5, false], [4, 6, false], [5, 5, false],
  ])("V=%i n=%i (don't-care): solvable = %s; a constructed head is right on every sequence", (V, n, want) => {
    const r = solve({ n, V });
    expect(r.solvable).toBe(want);
    if (r.solvable) {
      const c = verifyHead(r.head!);
      expect(c.errors).toBe(0);
      expect(c.checked).toBeGreaterThan(0);
    }
  });

  it("hand-made heads: copy s_{n−1} for V = 2 (n ≤ 10); the three-rule head for n ≤ 4, V ≤ 5; copying s_{n−1} fails for V = 3, n = 5", () => {
    for (let n = 1; n <= 10; n++) expect(verifyHead(previousTokenCopyHead(n, 2)).errors).toBe(0);
    for (const V of [2, 3, 4, 5]) for (let n = 2; n <= 4; n++) expect(verifyHead(threeRuleHead(n, V, 1)).errors).toBe(0);
    const bad = verifyHead(previousTokenCopyHead(5, 3));
    expect(bad.errors).toBeGreaterThan(0);
    expect(bad.firstError).toMatch(/answer/);
  });

  it("n = 5, V = 3: greedy's stuck set has 38 sequences (the original statement's count), among them a a a b a → b and a a a c a → c", () => {
    const r = solve({ n: 5, V: 3 });
    expect(r.solvable).toBe(false);
    expect(r.stuck).toHaveLength(38);
    const lines = new Set(r.stuck!.map((c) => sequenceText(decodeSequence(c, 5, 3))));
    expect(lines.has("a a a b a")).toBe(true);
    expect(lines.has("a a a c a")).toBe(true);
    expect(checkCertificateDirect({ n: 5, V: 3 }, r.stuck!.map((c) => Array.from(decodeSequence(c, 5, 3)))).valid).toBe(true);
  });

  it("n = 5, V = 3: the 4-sequence certificate is valid (direct check and exhaustive search) and irreducible", () => {
    const spec: ProblemSpec = { n: 5, V: 3 };
    const seqs = BASE_CERTIFICATES[1]!.map(parseSequence);
    expect(checkCertificateDirect(spec, seqs)).toEqual({ valid: true, reason: null });
    const all = seqs.map((_, i) => i);
    expect(bruteForce(instanceOfSequences(spec, seqs), all)).toBeNull();
    for (let d = 0; d < seqs.length; d++) {
      const rest = seqs.filter((_, i) => i !== d);
      const inst = instanceOfSequences(spec, rest);
      const ranking = bruteForce(inst, rest.map((_, i) => i));
      expect(ranking).not.toBeNull();
      expect(rankingWorks(inst, ranking!)).toBe(true);
      expect(checkCertificateDirect(spec, rest).valid).toBe(false);
    }
    // The minimiser reaches an irreducible certificate from the stuck set.
    const cert = certificateOf(solve(spec));
    expect(cert.stuckSize).toBe(38);
    expect(checkCertificateDirect(spec, cert.codes.map((c) => Array.from(decodeSequence(c, 5, 3)))).valid).toBe(true);
    expect(cert.codes.length).toBeLessThanOrEqual(8);
  });

  it("the certificate check rejects what is not a certificate", () => {
    const spec: ProblemSpec = { n: 5, V: 3 };
    const seqs = BASE_CERTIFICATES[1]!.map(parseSequence);
    expect(checkCertificateDirect(spec, seqs.slice(0, 3)).valid).toBe(false);
    expect(checkCertificateDirect(spec, [...seqs, parseSequence("b b c b a")]).reason).toMatch(/don't-care/);
    expect(checkCertificateDirect(spec, [...seqs, seqs[0]!]).reason).toMatch(/repeated/);
    expect(checkCertificateDirect({ n: 5, V: 3, w: 2 }, seqs).valid).toBe(false); // values with a window see more
  });

  it("if ⊥ (or the fallback token) must be output, n = 4 is already unsolvable for V = 3: the original statement's table is the don't-care one", () => {
    expect(solve({ n: 4, V: 3, undefinedAs: "bottom" }).solvable).toBe(false);
    expect(solve({ n: 4, V: 3, undefinedAs: "fallback" }).solvable).toBe(false);
    expect(solve({ n: 3, V: 3, undefinedAs: "bottom" }).solvable).toBe(true);
    expect(solve({ n: 8, V: 2, undefinedAs: "bottom" }).solvable).toBe(true);
  });
});

describe("proofs/10: values carry a window of w tokens, keys stay raw", () => {
  it.each([
    [2, 5, 3, true], [2, 6, 3, false], [3, 6, 3, true], [3, 7, 3, false], [1, 7, 4, false], [2, 7, 4, false], [3, 7, 4, false],
    [2, 5, 4, true], [3, 6, 4, true], [4, 7, 3, true], [4, 8, 3, false],
  ])("w=%i n=%i V=%i: solvable = %s (target: solvable iff n ≤ w + 3)", (w, n, V, want) => {
    const r = solve({ n, V, w });
    expect(r.solvable).toBe(want);
    if (r.solvable) expect(verifyHead(r.head!).errors).toBe(0);
  });

  it("the three-rule head is right on every sequence for n ≤ w + 3 (w ≤ 4, V ≤ 4)", () => {
    for (const V of [2, 3, 4]) {
      for (let w = 1; w <= 4; w++) {
        for (let n = 2; n <= w + 3; n++) {
          if (V ** n > 5000) continue;
          const c = verifyHead(threeRuleHead(n, V, w));
          expect(c.errors, `V=${V} w=${w} n=${n}: ${c.firstError}`).toBe(0);
        }
      }
    }
  });

  it("certificates at n = w + 4, V = 3 are valid for w = 1 … 60, and irreducible for w ≤ 5", () => {
    for (let w = 1; w <= 60; w++) {
      const { spec, seqs } = certificateFor(w);
      expect(checkCertificateDirect(spec, seqs).valid, `w=${w}`).toBe(true);
      if (w <= 5) {
        expect(bruteForce(instanceOfSequences(spec, seqs), seqs.map((_, i) => i))).toBeNull();
        for (let d = 0; d < seqs.length; d++) {
          const rest = seqs.filter((_, i) => i !== d);
          expect(bruteForce(instanceOfSequences(spec, rest), rest.map((_, i) => i)), `w=${w} without ${d}`).not.toBeNull();
        }
      }
    }
    // A window one longer breaks the w = 2 certificate (so the check depends on w).
    const { seqs } = certificateFor(2);
    expect(checkCertificateDirect({ n: 6, V: 3, w: 3 }, seqs).valid).toBe(false);
  });

  it("when the query's own window may steer the ranking or the output, the threshold moves (w = 2: n = 6 solvable, n = 7 not)", () => {
    for (const queryWindow of ["output", "ranking"] as const) {
      expect(solve({ n: 6, V: 3, w: 2, queryWindow }).solvable).toBe(true);
      expect(solve({ n: 7, V: 3, w: 2, queryWindow }).solvable).toBe(false);
    }
  });
});

describe("proofs/11: two layers compute I_1; leakage at finite β", () => {
  it("C = 6: every sequence of length ≤ 5 over 3 tokens — predictions are I_1; observed leakage ≤ exact worst case ≤ bound ≤ the compiler's ε", () => {
    const m = compileI1(6, 3);
    const k = constantsOf(m);
    const o = observeExhaustive(m, 3, 5);
    expect(o.sequences).toBe(363);
    expect(o.wrong).toBe(0);
    expect(o.maxFormulaDiff).toBeLessThan(1e-15);
    const b = layer2Bound(k);
    const exact = worstCaseExact(k);
    const l1 = layer1Leak(k, 5);
    expect(o.maxOff1).toBeLessThanOrEqual(l1 * (1 + 1e-6));
    expect(o.maxOff1).toBeGreaterThanOrEqual(l1 * (1 - 1e-6)); // layer 1's leakage is the same for every sequence
    expect(o.maxOff2).toBeLessThanOrEqual(exact.off * (1 + 1e-9));
    expect(exact.off).toBeLessThanOrEqual(b.bound);
    expect(b.bound).toBeLessThan(k.headEpsilon);
    expect(l1).toBeLessThan(k.headEpsilon);
    // V = 2 realises every mask, so there the exact worst case is observed.
    const o2 = observeExhaustive(m, 2, 5);
    expect(Math.abs(o2.maxOff2 - exact.off) / exact.off).toBeLessThan(1e-6);
    // And the toolkit's own differential check agrees.
    expect(checkExhaustive(m, { maxLength: 5 }).disagreements).toBe(0);
  });

  it("C = 10, V = 2 exhaustive and C = 32 random long sequences stay under the bound", () => {
    const m = compileI1(10, 2);
    const k = constantsOf(m);
    const o = observeExhaustive(m, 2, 9);
    expect(o.wrong).toBe(0);
    expect(Math.abs(o.maxOff2 - worstCaseExact(k).off) / o.maxOff2).toBeLessThan(1e-6);
    expect(o.maxOff2).toBeLessThanOrEqual(layer2Bound(k).bound * (1 + 1e-9));
    const m32 = compileI1(32, 4);
    const r = observeRandom(m32, 4, 30, 11);
    expect(r.wrong).toBe(0);
    expect(r.maxOff2).toBeLessThanOrEqual(layer2Bound(constantsOf(m32)).bound * (1 + 1e-9));
    expect(r.maxOff1).toBeLessThanOrEqual(layer1Leak(constantsOf(m32), 31) * (1 + 1e-9));
  });

  it("programs/induction.circ (`j < i`) is not I_1: it skips the occurrence at i − 1 (a a → ⊥, I_1 says a)", () => {
    const text = readFileSync(new URL("../programs/induction.circ", import.meta.url), "utf8");
    const run = new SymbolicRun(load({ path: "programs/induction.circ", text }));
    run.push(0);
    run.push(0);
    expect(run.prediction(2)).toBeNull();
    expect(inductionAnswer([0, 0], 8)).toBe(0);
  });
});
