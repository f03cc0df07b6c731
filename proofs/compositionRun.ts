/**
 * Full-bound runs for items 9–11 (proofs/09-one-layer.md, 10-k-composition.md,
 * 11-two-layers.md). Writes proofs/out/composition-results.json (git-ignored),
 * or the committed proofs/composition-results.json with --commit or
 * PROOFS_COMMIT=1; progress to stderr.
 *   npx tsx proofs/compositionRun.ts            (about a few minutes on 2 cores)
 *   npx tsx proofs/compositionRun.ts --quick    (small bounds, a smoke run)
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { bruteForce } from "./checks/decisionList.ts";
import {
  compileI1, constantsFor, constantsOf, layer1Leak, layer2Bound, observeExhaustive, observeRandom, observeSequences, worstCaseExact,
} from "./checks/leakage.ts";
import { certificateOf, checkCertificateDirect, instanceOfSequences, shuffledRank } from "./checks/certificates.ts";
import { decodeSequence, type ProblemSpec, type QueryWindow, sequenceText, solve, type UndefinedAs, verifyHead } from "./checks/oneLayer.ts";
import { outputPath } from "./checks/output.ts";
import { certificateFor, threeRuleHead } from "./checks/windowHeads.ts";
import { checkExhaustive } from "../src/verify/check.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const log = (s: string) => process.stderr.write(`${s}\n`);
const secs = (t0: number) => Math.round(performance.now() - t0) / 1000;
const t00 = performance.now();
const results: Record<string, unknown> = {
  command: `npx tsx proofs/compositionRun.ts${args.length ? ` ${args.join(" ")}` : ""}`,
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  quick,
};

/** One solver cell, with the constructed head re-run on every sequence when solvable. */
function cell(spec: ProblemSpec) {
  const t0 = performance.now();
  const r = solve(spec);
  const check = r.solvable ? verifyHead(r.head!) : null;
  return {
    n: spec.n, V: spec.V, w: spec.w ?? 1, solvable: r.solvable, constrained: r.sequences,
    stuck: r.stuck?.length ?? null, headErrors: check?.errors ?? null, seconds: secs(t0),
  };
}

/** For each (w, V): the cells n = 1 … while V^n ≤ limit, and the least unsolvable n. */
function table(ws: readonly number[], Vs: readonly number[], limit: number, undefinedAs: UndefinedAs, queryWindow: QueryWindow) {
  const rows = [];
  for (const w of ws) {
    for (const V of Vs) {
      const cells = [];
      let firstUnsolvable: number | null = null;
      for (let n = 1; V ** n <= limit; n++) {
        const c = cell({ n, V, w, undefinedAs, queryWindow });
        cells.push(c);
        if (c.headErrors) throw new Error(`constructed head wrong at ${JSON.stringify(c)}`);
        if (!c.solvable && firstUnsolvable === null) firstUnsolvable = n;
        if (c.solvable && firstUnsolvable !== null) throw new Error(`not monotone in n at ${JSON.stringify(c)}`);
      }
      const maxN = cells.length;
      const sec = cells.reduce((a, c) => a + c.seconds, 0);
      log(`  ${undefinedAs}/${queryWindow} w=${w} V=${V}: n ≤ ${maxN}, first unsolvable n = ${firstUnsolvable ?? "none"} (${sec.toFixed(2)} s)`);
      rows.push({ w, V, maxN, firstUnsolvable, seconds: Math.round(sec * 1000) / 1000, cells });
    }
  }
  return rows;
}

// ---------------------------------------------------------------- item 9
log("[9] one layer: decision-list solver, don't-care (and ⊥ / fallback for comparison)…");
const lim9 = quick ? 3 ** 7 : 1 << 20;
results.oneLayer = {
  dontcare: table([1], quick ? [2, 3, 4] : [2, 3, 4, 5, 6], lim9, "dontcare", "none"),
  bottom: table([1], [2, 3, 4], quick ? 3 ** 6 : 4 ** 8, "bottom", "none"),
  fallback: table([1], [2, 3, 4], quick ? 3 ** 6 : 4 ** 8, "fallback", "none"),
};

log("[9] certificates at n = 5…");
const certRuns = [];
for (const V of [3, 4]) {
  const spec: ProblemSpec = { n: 5, V };
  const r = solve(spec);
  const t0 = performance.now();
  const first = certificateOf(r);
  const restarts = quick ? 50 : 1000;
  const sizes = new Map<number, number>();
  let best = first;
  for (let seed = 1; seed <= restarts; seed++) {
    const c = certificateOf(r, shuffledRank(seed, V ** 5));
    sizes.set(c.codes.length, (sizes.get(c.codes.length) ?? 0) + 1);
    if (c.codes.length < best.codes.length) best = c;
  }
  const seqs = best.codes.map((c) => Array.from(decodeSequence(c, 5, V)));
  const direct = checkCertificateDirect(spec, seqs);
  const brute = bruteForce(instanceOfSequences(spec, seqs), seqs.map((_, i) => i));
  const irreducible = seqs.every((_, d) => {
    const rest = seqs.filter((_, i) => i !== d);
    return bruteForce(instanceOfSequences(spec, rest), rest.map((_, i) => i)) !== null;
  });
  const stuckText = r.stuck!.map((c) => sequenceText(decodeSequence(c, 5, V)));
  certRuns.push({
    n: 5, V, stuckSize: r.stuck!.length, stuck: V === 3 ? stuckText : undefined,
    defaultOrderSize: first.codes.length, restarts, sizeHistogram: Object.fromEntries([...sizes].sort((a, b) => a[0] - b[0])),
    smallest: best.lines, directCheck: direct.valid, bruteForceFindsRanking: brute !== null, irreducible, seconds: secs(t0),
  });
  log(`  V=${V}: stuck set ${r.stuck!.length}; smallest irreducible certificate found ${best.codes.length} (valid ${direct.valid}, brute force ${brute === null ? "finds no ranking" : "FOUND A RANKING"}, irreducible ${irreducible}) (${secs(t0)} s)`);
}
results.oneLayerCertificates = certRuns;

// ---------------------------------------------------------------- item 10
log("[10] values carry a window of w tokens (keys raw)…");
const lim10 = quick ? 3 ** 7 : 3 ** 12;
results.window = {
  none: table(quick ? [1, 2, 3] : [1, 2, 3, 4, 5, 6, 7, 8], [3], lim10, "dontcare", "none"),
  noneV4: table(quick ? [1, 2] : [1, 2, 3, 4, 5], [4], quick ? 4 ** 6 : 4 ** 10, "dontcare", "none"),
  noneV5: table(quick ? [1] : [1, 2, 3], [5], quick ? 5 ** 5 : 5 ** 8, "dontcare", "none"),
  output: table(quick ? [1, 2] : [1, 2, 3, 4, 5], [3], lim10, "dontcare", "output"),
  outputV4: table(quick ? [1] : [1, 2, 3], [4], quick ? 4 ** 6 : 4 ** 9, "dontcare", "output"),
  ranking: table(quick ? [1, 2] : [1, 2, 3, 4, 5], [3], lim10, "dontcare", "ranking"),
  rankingV4: table(quick ? [1] : [1, 2, 3], [4], quick ? 4 ** 6 : 4 ** 9, "dontcare", "ranking"),
  bottom: table(quick ? [1, 2] : [1, 2, 3, 4], [3], quick ? 3 ** 7 : 3 ** 10, "bottom", "none"),
};

log("[10] three-rule head and certificate family…");
{
  const t0 = performance.now();
  const heads = [];
  for (const V of [2, 3, 4, 5]) {
    for (let w = 1; w <= 7; w++) {
      let maxN = 0;
      for (let n = 2; n <= w + 3 && V ** n <= (quick ? 3 ** 7 : 1 << 20); n++) {
        const c = verifyHead(threeRuleHead(n, V, w));
        if (c.errors) throw new Error(`three-rule head wrong: V=${V} w=${w} n=${n}: ${c.firstError}`);
        maxN = n;
      }
      if (maxN > 0) heads.push({ V, w, verifiedUpToN: maxN, reachesWPlus3: maxN === w + 3 });
    }
  }
  const maxW = quick ? 50 : 500;
  let valid = 0;
  let firstInvalid: number | null = null;
  for (let w = 1; w <= maxW; w++) {
    const { spec, seqs } = certificateFor(w);
    if (checkCertificateDirect(spec, seqs).valid) valid++;
    else firstInvalid ??= w;
  }
  const irreducible = [];
  for (let w = 1; w <= (quick ? 4 : 8); w++) {
    const { spec, seqs } = certificateFor(w);
    const none = bruteForce(instanceOfSequences(spec, seqs), seqs.map((_, i) => i)) === null;
    const each = seqs.every((_, d) => {
      const rest = seqs.filter((_, i) => i !== d);
      return bruteForce(instanceOfSequences(spec, rest), rest.map((_, i) => i)) !== null;
    });
    irreducible.push({ w, size: seqs.length, bruteForceFindsNoRanking: none, irreducible: each });
  }
  results.windowConstructions = { threeRuleHead: heads, certificates: { checkedW: maxW, valid, firstInvalid, irreducible }, seconds: secs(t0) };
  log(`  three-rule head verified in ${heads.length} (V, w) cells; certificates valid for ${valid}/${maxW} windows (${secs(t0)} s)`);
}

// ---------------------------------------------------------------- item 11
log("[11] compiled I_1: bound vs exact vs observed leakage…");
const leak = [];
for (const C of quick ? [4, 6, 8] : [4, 6, 8, 10, 12, 14, 16, 18]) {
  const t0 = performance.now();
  const m = compileI1(C, 4);
  const k = constantsOf(m);
  const b = layer2Bound(k);
  const exact = worstCaseExact(k);
  const obs = [];
  for (const [V, L] of [[2, C - 1], [3, Math.min(C - 1, quick ? 6 : 10)], [4, Math.min(C - 1, quick ? 5 : 8)]] as const) {
    const o = observeExhaustive(m, V, L);
    if (o.wrong) throw new Error(`compiled I_1 wrong at C=${C}: ${o.firstWrong}`);
    obs.push({ V, maxLength: L, sequences: o.sequences, wrong: o.wrong, maxOff1: o.maxOff1, maxOff2: o.maxOff2, worst2: o.worst2, maxFormulaDiff: o.maxFormulaDiff, seconds: o.seconds });
  }
  // The toolkit's own differential check (every feature and the logits against the reference semantics).
  const toolkit = checkExhaustive(m, { maxLength: Math.min(C - 1, quick ? 5 : 8), alphabet: [0, 1, 2] });
  if (toolkit.disagreements) throw new Error(`checkExhaustive found a disagreement at C=${C}`);
  const observed2 = Math.max(...obs.map((o) => o.maxOff2));
  if (!(observed2 <= exact.off * (1 + 1e-9) && exact.off <= b.bound * (1 + 1e-9) && b.bound < k.headEpsilon)) throw new Error(`bound order fails at C=${C}`);
  const row = {
    C, lambda: k.lambda, beta: k.beta, gamma: k.gamma, headEpsilon: k.headEpsilon, epsilon: k.epsilon,
    expMinusLambda: Math.exp(-k.lambda), designedBound: C * Math.exp(-k.lambda), layer1Exact: layer1Leak(k, C - 1),
    layer2Bound: b.bound, layer2BoundMatch: b.match, layer2NoMatchExact: b.noMatch, layer2Exact: exact,
    observedOverExact: observed2 / exact.off, boundOverExact: b.bound / exact.off, observed: obs,
    checkExhaustive: { alphabet: 3, maxLength: Math.min(C - 1, quick ? 5 : 8), sequences: toolkit.sequences, disagreements: toolkit.disagreements },
    seconds: secs(t0),
  };
  leak.push(row);
  log(`  C=${C}: ε_head ${k.headEpsilon.toExponential(3)}, layer 1 exact ${row.layer1Exact.toExponential(6)}, layer 2 bound ${b.bound.toExponential(6)}, exact ${exact.off.toExponential(6)} (${exact.mask}), observed ${Math.max(...obs.map((o) => o.maxOff2)).toExponential(6)} (${secs(t0)} s)`);
}
results.leakageExhaustive = leak;

const longRuns = [];
for (const [C, V, count] of (quick ? [[32, 3, 10], [64, 8, 10]] : [[32, 2, 400], [32, 3, 400], [64, 2, 200], [64, 3, 200], [64, 8, 200], [128, 3, 50], [256, 3, 12]]) as [number, number, number][]) {
  const t0 = performance.now();
  const m = compileI1(C, V);
  const k = constantsOf(m);
  const o = observeRandom(m, V, count, 1000 + C + V);
  if (o.wrong) throw new Error(`compiled I_1 wrong at C=${C}: ${o.firstWrong}`);
  // The worst-case shape (… q q q q x q) placed at the very end of the context.
  const q = 0, x = 1;
  const adversarial = [5, 6, 7, 8].map((r) => [...Array.from({ length: C - 1 - r }, (_, p) => 1 + (p % (V - 1))), ...Array<number>(r - 2).fill(q), x, q]);
  const a = observeSequences(m, adversarial);
  const b = layer2Bound(k);
  const observed2 = Math.max(o.maxOff2, a.maxOff2);
  if (!(observed2 <= b.bound * (1 + 1e-9)) || a.wrong) throw new Error(`bound fails at C=${C}, V=${V}`);
  longRuns.push({
    C, V, sequences: count, positions: o.positions, wrong: o.wrong, headEpsilon: k.headEpsilon, layer1Exact: layer1Leak(k, C - 1),
    layer2Bound: b.bound, observedOff1: o.maxOff1, observedOff2: o.maxOff2, adversarialOff2: a.maxOff2, adversarialWrong: a.wrong,
    observedOverBound: observed2 / b.bound, worst2: o.maxOff2 >= a.maxOff2 ? o.worst2 : a.worst2,
    seconds: secs(t0),
  });
  log(`  C=${C} V=${V}: ${count} random sequences, ${o.positions} positions; layer 2 observed ${o.maxOff2.toExponential(6)} (adversarial ${a.maxOff2.toExponential(6)}) ≤ bound ${b.bound.toExponential(6)} (ratio ${(observed2 / b.bound).toFixed(9)}); layer 1 ${o.maxOff1.toExponential(6)} vs exact ${layer1Leak(k, C - 1).toExponential(6)} (${secs(t0)} s)`);
}
results.leakageLong = longRuns;

{
  const t0 = performance.now();
  const Cs = [...Array.from({ length: quick ? 62 : 511 }, (_, c) => c + 2), ...(quick ? [] : [1024, 2048, 4096])];
  let worstRatio = 0;
  let worstC = 0;
  let maxBound = 0;
  for (const C of Cs) {
    const k = constantsFor(C);
    const b = Math.max(layer2Bound(k).bound, layer1Leak(k, C - 1));
    maxBound = Math.max(maxBound, b);
    if (b / k.headEpsilon > worstRatio) [worstRatio, worstC] = [b / k.headEpsilon, C];
  }
  results.boundSweep = { contexts: `2 … ${quick ? 63 : 512}${quick ? "" : ", 1024, 2048, 4096"}`, maxBound, maxRatioToHeadEpsilon: worstRatio, atC: worstC, seconds: secs(t0) };
  log(`  bound sweep: max(B₁, B₂)/ε_head ≤ ${worstRatio.toExponential(3)} (at C=${worstC}); largest bound ${maxBound.toExponential(3)} (${secs(t0)} s)`);
}

results.seconds = secs(t00);
const out = outputPath("composition-results.json");
writeFileSync(out, `${JSON.stringify(results, null, 1)}\n`);
log(`wrote ${out} (${results.seconds} s)`);
