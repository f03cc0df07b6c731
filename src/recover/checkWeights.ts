/**
 * Any weights against any program: how often the model's greedy prediction
 * is the program's (per position class, as fractions, not pass/fail), and
 * for each program head how much attention its model head puts where the
 * program selects. The program is run by the reference interpreter and its
 * selections taken from the definition, so every checked program works
 * (multi-conjunct, positional, multi-copy), not just the search space's.
 */
import type { Program } from "../lang/program.ts";
import { printSelection } from "../lang/print.ts";
import type { Weights } from "../model/weights.ts";
import { interpret } from "../semantics/interpret.ts";
import { mode } from "../semantics/values.ts";
import { isTied, type PredictionAgreement, PredictionTally } from "./agreement.ts";
import { agreementOf, type AttentionStats, attentionStats, bestMapping, bosAgreementOf, headTargets, type Targets } from "./attentionMatch.ts";
import { observe } from "./observe.ts";
import { givenProbes, makeProbes, type ProbeSet } from "./probes.ts";
import type { MappedHead } from "./search.ts";
import { modelVocabSize, tokenId } from "../model/tokenIds.ts";
import { CircuitsError } from "../errors.ts";

/** Where a program head sits: layer and head index in the model. */
export interface HeadPlace {
  readonly block: number;
  readonly index: number;
}

/** Options of {@link checkWeights}. */
export interface CheckWeightsOptions {
  /** The file's `tokens` metadata ("<bos>" first): must name the program's vocabulary. */
  readonly tokens?: readonly string[];
  /** Random probes (half `[BOS] r r`, half uniform; default 200) … */
  readonly samples?: number;
  readonly seed?: number;
  /** … or every sequence of exactly this length (each shorter one is a prefix). */
  readonly exhaustiveLength?: number;
  /** Attention is measured on the first this many probes (default 256); predictions on all. */
  readonly attentionProbes?: number;
  /** Program head name → model head; by default the best-agreeing mapping in layer order. */
  readonly map?: ReadonlyMap<string, HeadPlace>;
  /** Called with (probes run, probes). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The comparison. */
export interface CheckWeightsResult {
  readonly mode: "random" | "exhaustive";
  readonly sequences: number;
  /** Exhaustive: the length of every sequence; null for random probes. */
  readonly length: number | null;
  readonly prediction: PredictionAgreement;
  /** Probes whose attention was measured. */
  readonly attentionSequences: number;
  /** How heads were placed: given with --map, found by agreement, or impossible (too few layers or heads). */
  readonly mapping: "given" | "found" | "none";
  readonly heads: readonly MappedHead[];
  readonly seconds: number;
}

/** A one-line reason the weights and the program cannot be compared. */
export class CheckWeightsError extends CircuitsError {
  override name = "CheckWeightsError";
  readonly kind = "weights";
}

/** Exhaustive probes above this many sequences are refused (each is a forward pass with activations). */
export const MAX_EXHAUSTIVE_SEQUENCES = 50_000;

/** Compare weights with a program on random or exhaustive probes. */
export function checkWeights(weights: Weights, program: Program, opts: CheckWeightsOptions = {}): CheckWeightsResult {
  const t0 = performance.now();
  const { d_vocab, n_ctx, n_layers: L, n_heads: H } = weights.config;
  const V = program.vocab.length;
  if (d_vocab !== modelVocabSize(V)) {
    throw new CheckWeightsError(`the model has ${d_vocab} token ids but the program's vocabulary needs ${modelVocabSize(V)} (BOS + ${V} tokens)`);
  }
  if (opts.tokens) {
    const names = opts.tokens.slice(1);
    const k = names.findIndex((t, n) => t !== program.vocab[n]);
    if (opts.tokens.length !== modelVocabSize(V) || k >= 0) {
      throw new CheckWeightsError(`the model's token ${k >= 0 ? `id ${tokenId(k)} is '${names[k]}'` : "list has another length"}, the program's vocabulary differs (${program.vocab.slice(0, 6).join(" ")}${V > 6 ? " …" : ""})`);
    }
  }
  const heads = program.layers.flat();
  if (opts.map) {
    for (const name of opts.map.keys()) if (!heads.some((h) => h.name === name)) throw new CheckWeightsError(`--map: the program has no head '${name}'`);
    for (const [name, p] of opts.map) {
      if (!(p.block >= 0 && p.block < L && p.index >= 0 && p.index < H)) throw new CheckWeightsError(`--map: ${name}=${p.block}.${p.index} is not a head of the model (blocks 0–${L - 1}, heads 0–${H - 1})`);
    }
  }
  const maxLength = Math.min(n_ctx, program.context) - 1;
  if (maxLength < 1) throw new CheckWeightsError(`context ${Math.min(n_ctx, program.context)} leaves no room for a token after BOS`);
  let set: ProbeSet;
  if (opts.exhaustiveLength !== undefined) {
    const len = opts.exhaustiveLength;
    if (!(Number.isInteger(len) && len >= 1 && len <= maxLength)) throw new CheckWeightsError(`--max-length must be 1 … ${maxLength}`);
    if (V ** len > MAX_EXHAUSTIVE_SEQUENCES) throw new CheckWeightsError(`${V}^${len} sequences is more than ${MAX_EXHAUSTIVE_SEQUENCES}; lower --max-length`);
    set = givenProbes(allSequences(V, len));
  } else {
    const n = opts.samples ?? 200;
    set = makeProbes({ vocab: V, maxLength, repeats: Math.ceil(n / 2), uniform: Math.floor(n / 2), seed: opts.seed ?? 1 });
  }
  const obs = observe(weights, set.probes, { withPatterns: opts.attentionProbes ?? 256, onProgress: opts.onProgress });
  const targets: Targets[][] = heads.map(() => []);
  const tally = new PredictionTally(set.classNames);
  set.probes.forEach((probe, s) => {
    const run = interpret(program, probe.tokens);
    const pred = obs[s]!.predictions;
    for (let p = 1; p <= probe.tokens.length; p++) {
      const v = run.prediction(p);
      tally.add(probe.classes[p]!, mode(v) ?? -1, pred[p]!, isTied(v));
    }
    heads.forEach((h, k) => targets[k]!.push(headTargets(program, h, run)));
  });

  const stats = (k: number, place: HeadPlace): AttentionStats => attentionStats(targets[k]!, obs, place.block, place.index);
  let places: (HeadPlace | null)[];
  let mapping: CheckWeightsResult["mapping"];
  if (opts.map) {
    places = heads.map((h) => opts.map!.get(h.name) ?? null);
    mapping = "given";
  } else {
    const writer = new Map(heads.flatMap((h, k) => h.copies.map((c) => [c.to, k] as const)));
    const parents = heads.map((h) => {
      const reads = [...h.copies.map((c) => c.from), ...(h.select.kind === "match" ? h.select.conditions.flatMap((c) => [c.key, c.query]) : [])];
      return [...new Set(reads.map((f) => writer.get(f)).filter((k): k is number => k !== undefined))];
    });
    const options = heads.map((_, k) => {
      const o = [];
      for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) o.push({ block: l, index: h, agreement: agreementOf(stats(k, { block: l, index: h })) ?? 0 });
      return o;
    });
    const found = bestMapping({ options, parents });
    places = found ?? heads.map(() => null);
    mapping = found ? "found" : "none";
  }
  const mapped: MappedHead[] = heads.map((h, k) => {
    const place = places[k];
    const st = place ? stats(k, place) : null;
    return {
      head: h.name,
      select: printSelection(h.select),
      block: place?.block ?? -1,
      index: place?.index ?? -1,
      attention: st ? agreementOf(st) : null,
      bosWhenNone: st ? bosAgreementOf(st) : null,
      defined: st?.defined ?? 0,
      none: st?.none ?? 0,
    };
  });
  return {
    mode: opts.exhaustiveLength !== undefined ? "exhaustive" : "random",
    sequences: set.probes.length,
    length: opts.exhaustiveLength ?? null,
    attentionSequences: Math.min(set.probes.length, opts.attentionProbes ?? 256),
    prediction: tally.result(),
    mapping,
    heads: mapped,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Every sequence of exactly `length` tokens over V, in lexicographic order. */
function allSequences(V: number, length: number): number[][] {
  const out: number[][] = [];
  const seq = new Array<number>(length).fill(0);
  for (;;) {
    out.push([...seq]);
    let p = length - 1;
    while (p >= 0 && seq[p] === V - 1) seq[p--] = 0;
    if (p < 0) return out;
    seq[p]!++;
  }
}
