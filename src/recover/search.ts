/**
 * Read a program back out of weights that carry no layout: score every
 * program of the bounded space (space.ts) by how well its reference semantics
 * predicts the model's greedy outputs on probes, among the programs whose
 * heads can each sit on a distinct model head (in layer order) whose
 * attention puts its mass where the program head's selection is.
 *
 * Order of work, cheapest first: the model runs once on the probes
 * (observe.ts); each distinct selection is scored against every model head
 * once (memoised by what it selects), and a candidate is dropped as soon as
 * one of its heads has no model head agreeing ≥ minAttention; only the
 * survivors' predictions are computed (evaluate.ts, shared per head).
 *
 * Ranking: right minus wrong predictions over all positions — a program
 * claims a token where it is defined, and each wrong claim costs what a right
 * one gains (so neither a program defined on few positions nor one that
 * guesses everywhere wins: where a model has no answer it still outputs
 * some token, and a program that predicts there is right only by chance) —
 * then the mean attention agreement of its heads, then fewer heads. A fit needs agreement ≥ minAgreement where the program is defined,
 * and the program defined on ≥ minCoverage of positions.
 */
import type { Program } from "../lang/program.ts";
import { printProgram, printSelection } from "../lang/print.ts";
import type { Weights } from "../model/weights.ts";
import { type ClassAgreement, type PredictionAgreement, PredictionTally } from "./agreement.ts";
import { agreementOf, type AttentionStats, attentionStats, bestMapping, bosAgreementOf, type HeadOption } from "./attentionMatch.ts";
import { SpaceEvaluator } from "./evaluate.ts";
import { observe } from "./observe.ts";
import { makeProbes } from "./probes.ts";
import { type Candidate, candidateProgram, enumerateSpace, headParents, spaceBound, type SpaceOptions } from "./space.ts";
import { modelVocabulary } from "./vocabulary.ts";

/** Options of {@link recoverProgram}. */
export interface RecoverOptions {
  /** The file's `tokens` metadata ("<bos>" first), for names. */
  readonly tokens?: readonly string[];
  readonly space?: SpaceOptions;
  /** `[BOS] r r` probes (default 32). */
  readonly repeats?: number;
  /** Uniform random probes (default 32). */
  readonly uniform?: number;
  /** Probe seed (default 1). */
  readonly seed?: number;
  /** A program head may sit on a model head only with this attention agreement (default 0.5). */
  readonly minAttention?: number;
  /** A fit needs this prediction agreement where the program is defined (default 0.8). */
  readonly minAgreement?: number;
  /** … and the program defined on this share of positions (default 0.1). */
  readonly minCoverage?: number;
  /** (done, total) over the probes run and then the candidates scored. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** A program head placed on a model head. */
export interface MappedHead {
  readonly head: string;
  readonly select: string;
  readonly block: number;
  readonly index: number;
  /** Mean attention on the selected positions, where the selection is defined. */
  readonly attention: number | null;
  /** Mean attention on BOS where nothing is selected (null: always defined). */
  readonly bosWhenNone: number | null;
  /** Positions where the selection is defined / not. */
  readonly defined: number;
  readonly none: number;
}

/** A scored program. */
export interface Recovered {
  readonly text: string;
  readonly program: Program;
  readonly heads: readonly MappedHead[];
  readonly prediction: PredictionAgreement;
  /** Mean attention agreement over its heads. */
  readonly attention: number;
}

/** What the search found. */
export interface RecoverResult {
  readonly fits: boolean;
  /** One line: what fits, or why nothing does. */
  readonly verdict: string;
  readonly best: Recovered | null;
  /**
   * When nothing fits: the best-ranked program, better than `best`, whose
   * weakest head's attention agreement is below minAttention but at least
   * NEAR_MISS of it (a learned model often spreads a function over heads, or
   * applies it only where it pays); null otherwise.
   */
  readonly nearMiss: Recovered | null;
  /** The best program whose predictions differ from the best's somewhere on the probes. */
  readonly runnerUp: Recovered | null;
  /** best − runner-up: the ranking score ((right − wrong) / positions), the explained share (right / positions), mean attention. */
  readonly margin: { readonly score: number; readonly explained: number; readonly attention: number } | null;
  /** Other programs with exactly the best's predictions on every probe position. */
  readonly equivalentOnProbes: number;
  readonly space: { readonly bound: string; readonly candidates: number; readonly mappable: number };
  readonly probes: { readonly repeats: number; readonly uniform: number; readonly seed: number; readonly positions: number };
  readonly thresholds: { readonly minAttention: number; readonly minAgreement: number; readonly minCoverage: number };
  readonly vocabularyNote: string | null;
  readonly seconds: number;
}

interface Scored {
  readonly order: number;
  readonly candidate: Candidate;
  readonly mapping: readonly (HeadOption & { readonly stats: AttentionStats })[];
  readonly tally: PredictionAgreement;
  readonly attention: number;
  readonly hash: string;
}

/** Search the space for the program the weights implement. */
export function recoverProgram(weights: Weights, opts: RecoverOptions = {}): RecoverResult {
  const t0 = performance.now();
  const vocab = modelVocabulary(weights, opts.tokens);
  const { n_ctx: C, n_layers: L, n_heads: H } = weights.config;
  const minAttention = opts.minAttention ?? 0.5;
  const minAgreement = opts.minAgreement ?? 0.8;
  const minCoverage = opts.minCoverage ?? 0.1;
  const seed = opts.seed ?? 1;
  const set = makeProbes({ vocab: vocab.names.length, maxLength: C - 1, repeats: opts.repeats ?? 32, uniform: opts.uniform ?? 32, seed });
  const all = [...enumerateSpace(opts.space)];
  const work = set.probes.length + all.length;
  const obs = observe(weights, set.probes, { onProgress: (d) => opts.onProgress?.(d, work) });
  const ev = new SpaceEvaluator(set.probes.map((p) => p.tokens), vocab.names.length);
  const positions = obs.reduce((n, o) => n + o.T - 1, 0);
  const minDefined = Math.max(5, Math.ceil(0.01 * positions));
  // Candidates whose weakest head reaches only NEAR_MISS·minAttention are scored too,
  // but never fit: they are the near miss a reader should hear about.
  const nearAttention = NEAR_MISS * minAttention;

  // Selection → every model head's agreement, best first; computed once per distinct selection.
  const options = new Map<string, (HeadOption & { stats: AttentionStats })[]>();
  const optionsOf = (c: Candidate, k: number) => {
    const sig = ev.selectSig(c, k);
    let o = options.get(sig);
    if (!o) {
      const targets = ev.targets(c, k);
      o = [];
      for (let l = 0; l < L; l++) {
        for (let h = 0; h < H; h++) {
          const stats = attentionStats(targets, obs, l, h);
          const a = agreementOf(stats);
          if (a !== null && a >= nearAttention && stats.defined >= minDefined) o.push({ block: l, index: h, agreement: a, stats });
        }
      }
      o.sort((x, y) => y.agreement - x.agreement);
      options.set(sig, o);
    }
    return o;
  };

  const scored: Scored[] = [];
  const nearMisses: Scored[] = [];
  let candidates = 0;
  for (const c of all) {
    const order = candidates++;
    if (order % 64 === 0) opts.onProgress?.(set.probes.length + order, work);
    const last = c.heads.length - 1;
    let feasible = true;
    const opts_: (HeadOption & { stats: AttentionStats })[][] = [];
    for (let k = 0; k <= last && feasible; k++) {
      const o = optionsOf(c, k);
      if (!o.length) feasible = false;
      opts_.push(o);
    }
    if (!feasible) continue;
    const parents = headParents(c);
    // Within the threshold first; only a candidate with no such mapping may be a near miss.
    const strict = opts_.map((o) => o.filter((x) => x.agreement >= minAttention));
    const within = strict.some((o) => !o.length) ? null : (bestMapping({ options: strict, parents }) as (HeadOption & { stats: AttentionStats })[] | null);
    const mapping = within ?? (bestMapping({ options: opts_, parents }) as (HeadOption & { stats: AttentionStats })[] | null);
    if (!mapping) continue;
    const isNear = within === null;
    const out = ev.values(c, last + 1);
    const ties = ev.ties(c, last + 1);
    const tally = new PredictionTally(set.classNames);
    let h1 = 0x811c9dc5;
    let h2 = 0x12345;
    set.probes.forEach((probe, s) => {
      const v = out[s]!;
      const pred = obs[s]!.predictions;
      const tie = ties?.[s];
      for (let p = 1; p < v.length; p++) {
        tally.add(probe.classes[p]!, v[p]!, pred[p]!, tie !== undefined && tie[p] === 1);
        h1 = Math.imul(h1 ^ (v[p]! + 2), 0x01000193);
        h2 = (Math.imul(h2, 31) + v[p]! + 2) | 0;
      }
    });
    if (last > 0) ev.forget(c, last);
    const attention = mapping.reduce((x, m) => x + m.agreement, 0) / mapping.length;
    (isNear ? nearMisses : scored).push({ order, candidate: c, mapping, tally: tally.result(), attention, hash: `${h1 >>> 0}:${h2 >>> 0}` });
  }

  const net = (s: Scored) => 2 * s.tally.agree - s.tally.defined;
  const rank = (a: Scored, b: Scored) => net(b) - net(a) || b.attention - a.attention || a.candidate.heads.length - b.candidate.heads.length || a.order - b.order;
  scored.sort(rank);
  nearMisses.sort(rank);
  const best = scored[0];
  const runner = best ? scored.find((s) => s.hash !== best.hash) : undefined;
  const recovered = (s: Scored): Recovered => describe(s, vocab.names, C);
  const bestR = best ? recovered(best) : null;
  const runnerR = runner ? recovered(runner) : null;
  const nearBest = nearMisses[0] && (!best || net(nearMisses[0]) > net(best)) ? describe(nearMisses[0], vocab.names, C, NEAR_MISS_HEADER) : null;
  const thresholds = { minAttention, minAgreement, minCoverage };
  let fits = false;
  let verdict: string;
  if (!bestR) {
    verdict = `nothing fits: no program of the space has every head on a model head whose attention agrees ≥ ${minAttention} with its selection`;
  } else {
    const f = bestR.prediction.fraction ?? 0;
    const coverage = bestR.prediction.defined / Math.max(1, bestR.prediction.total);
    fits = f >= minAgreement && coverage >= minCoverage;
    verdict = fits
      ? `fits: the best program agrees with the model on ${pct(f)} of the ${bestR.prediction.defined} positions where it predicts a token`
      : `nothing fits: the best program agrees on ${pct(f)} of the positions where it predicts a token (defined on ${pct(coverage)}); a fit needs ≥ ${pct(minAgreement)} on ≥ ${pct(minCoverage)}${partialFit(bestR.prediction, minAgreement, minDefined)}`;
  }
  if (!fits && nearBest) verdict += `; ${nearMissLine(nearBest, minAttention)}`;
  return {
    fits,
    verdict,
    best: bestR,
    nearMiss: nearBest,
    runnerUp: runnerR,
    margin: bestR && runnerR ? { score: score(bestR) - score(runnerR), explained: bestR.prediction.explained - runnerR.prediction.explained, attention: bestR.attention - runnerR.attention } : null,
    equivalentOnProbes: best ? scored.filter((s) => s !== best && s.hash === best.hash).length : 0,
    space: { bound: spaceBound(opts.space), candidates, mappable: scored.length },
    probes: { repeats: opts.repeats ?? 32, uniform: opts.uniform ?? 32, seed, positions },
    thresholds,
    vocabularyNote: vocab.note,
    seconds: (performance.now() - t0) / 1000,
  };
}

const BEST_HEADER = "recovered from weights without a layout (circuits decompile): the best program of the search space";
const NEAR_MISS_HEADER = "recovered from weights without a layout (circuits decompile): the closest program of the search space — not a fit, one of its heads is below the attention threshold";

function describe(s: Scored, vocab: readonly string[], context: number, header = BEST_HEADER): Recovered {
  const program = candidateProgram(s.candidate, vocab, context);
  const heads = program.layers.flat().map((h, k): MappedHead => {
    const m = s.mapping[k]!;
    return {
      head: h.name,
      select: printSelection(h.select),
      block: m.block,
      index: m.index,
      attention: agreementOf(m.stats),
      bosWhenNone: bosAgreementOf(m.stats),
      defined: m.stats.defined,
      none: m.stats.none,
    };
  });
  const text = printProgram(program, { header: [header] });
  return { text, program, heads, prediction: s.tally, attention: s.attention };
}

/**
 * The position classes where a program that does not fit overall still
 * agrees ≥ minAgreement (on ≥ minDefined positions), as a verdict's tail:
 * a learned model can follow a program on repeated sequences and depart from
 * it elsewhere (e.g. not copying after a chance match in random text), and
 * the reader should see both halves.
 */
export function partialFit(p: PredictionAgreement, minAgreement: number, minDefined: number): string {
  const good = p.classes.filter((c) => c.fraction !== null && c.fraction >= minAgreement && c.defined >= minDefined);
  if (!good.length) return "";
  const bad = p.classes.filter((c) => c.fraction !== null && c.fraction < minAgreement && c.defined >= minDefined);
  const list = (cs: readonly ClassAgreement[]) => cs.map((c) => `${c.class} ${pct(c.fraction!)} (${c.agree}/${c.defined})`).join(", ");
  return `; it does agree on ${list(good)}${bad.length ? ` but not on ${list(bad)}` : ""}`;
}

/** How far below minAttention a head may fall and its program still be reported as a near miss. */
export const NEAR_MISS = 0.75;

/** The verdict's sentence about a near miss: its heads, its weakest attention, its agreement. */
function nearMissLine(r: Recovered, minAttention: number): string {
  const weakest = r.heads.reduce((w, h) => ((h.attention ?? 0) < (w.attention ?? 0) ? h : w));
  const heads = r.heads.map((h) => h.select.replace(/^select /, "")).join("; then ");
  return (
    `closest below the attention threshold: ${heads} (agrees on ${pct(r.prediction.fraction ?? 0)} where defined${secondCopyNote(r.prediction)}; ` +
    `its weakest head, on blocks.${weakest.block} head ${weakest.index}, puts ${pct(weakest.attention ?? 0)} of its attention on the selection, below ${pct(minAttention)})`
  );
}

/** ", second copy X %" when the probes have a second copy. */
function secondCopyNote(p: PredictionAgreement): string {
  const c = p.classes.find((k) => k.class === "second copy");
  return c && c.fraction !== null ? `, ${pct(c.fraction)} on second copies` : "";
}

/** The ranking score: (right − wrong) predictions over all positions. */
export function score(r: Recovered): number {
  const p = r.prediction;
  return p.total ? (2 * p.agree - p.defined) / p.total : 0;
}

/** A fraction as a percentage with one decimal. */
export const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
