/**
 * What the run measures on a fixed held-out probe, every K steps — the
 * induction bump and the heads behind it:
 *
 *   loss by position on [BOS] r r sequences (r uniform, R = ⌊(n_ctx−1)/2⌋):
 *     lossByPosition[p] is the loss of the prediction made at position p,
 *     i.e. of token p + 1, for p = 0 … 2R − 1
 *   firstCopy   mean loss of tokens 1 … R (the first copy of r: unpredictable)
 *   secondCopy  mean loss of tokens R+1 … 2R (the second copy: predictable by induction
 *               except its first token)
 *   icl         Olsson et al.'s in-context-learning score, loss at a late token minus
 *               loss at an early one. They use tokens 500 and 50 of 512-token contexts;
 *               scaled to n_ctx these are tokens round(500/512·n_ctx) (capped at 2R)
 *               and round(50/512·n_ctx): 62 and 6 for n_ctx = 64
 *   heads       every head's previous-token / duplicate / induction score
 *               (detectHeads, src/analysis/detect.ts, on its own repeated sequences)
 *   kComposition  K-composition of every earlier head into every later one
 *               (analyzeComposition, src/analysis/composition.ts)
 */
import { analyzeComposition } from "../analysis/composition.ts";
import { detectHeads } from "../analysis/detect.ts";
import { TrainEngine } from "./backward.ts";
import { repeatLength } from "./data.ts";
import { type Params, paramsToWeights } from "./params.ts";
import { Rng } from "./rng.ts";
import { tokenId, vocabSizeOf } from "../model/tokenIds.ts";

/** One evaluation of the probe. */
export interface EvalRecord {
  readonly step: number;
  /** Mean probe loss over every predicted token. */
  readonly loss: number;
  readonly lossByPosition: readonly number[];
  readonly firstCopy: number;
  readonly secondCopy: number;
  readonly icl: number;
  readonly heads: readonly { readonly id: string; readonly block: number; readonly head: number; readonly previous: number; readonly duplicate: number; readonly induction: number }[];
  readonly kComposition: readonly { readonly from: string; readonly to: string; readonly score: number }[];
  /** Largest previous-token score of a layer-0 head. */
  readonly maxPrevious: number;
  /** Largest induction score of a head in blocks ≥ 1 (program layers ≥ 2). */
  readonly maxInduction: number;
  /** Largest K-composition score from a layer-0 head into a layer-1 head (0 with one layer). */
  readonly maxKComposition: number;
}

/** The token indices of the ICL score for a context length. */
export function iclTokens(n_ctx: number): { early: number; late: number } {
  const R = repeatLength(n_ctx);
  return { early: Math.max(1, Math.round((50 / 512) * n_ctx)), late: Math.min(2 * R, Math.round((500 / 512) * n_ctx)) };
}

/** Sequences in the probe batch. */
export const PROBE_SEQUENCES = 32;
/** The probe's seed: one probe for every run, so runs are compared on the same sequences. */
const PROBE_SEED = 0x9e3779b9;
/** Repeated sequences detectHeads scores the heads on. */
const DETECT_SEQUENCES = 8;

/** A fixed probe and the engine that evaluates it. */
export class Probe {
  readonly R: number;
  readonly T: number;
  private readonly engine: TrainEngine;
  private readonly tokens: Int32Array;
  private readonly targets: Int32Array;
  readonly icl: { early: number; late: number };

  constructor(params: Params) {
    const s = params.shape;
    this.R = repeatLength(s.n_ctx);
    this.T = 1 + 2 * this.R;
    const B = PROBE_SEQUENCES, T = this.T, R = this.R;
    this.engine = new TrainEngine(s, B, T, params.data instanceof Float32Array ? "float32" : "float64", params);
    this.tokens = new Int32Array(B * T);
    this.targets = new Int32Array(B * T);
    const rng = new Rng(PROBE_SEED);
    for (let b = 0; b < B; b++) {
      const o = b * T;
      for (let i = 1; i <= R; i++) this.tokens[o + i] = tokenId(rng.int(vocabSizeOf(s.d_vocab)));
      for (let i = R + 1; i < T; i++) this.tokens[o + i] = this.tokens[o + i - R];
      for (let i = 0; i < T - 1; i++) this.targets[o + i] = this.tokens[o + i + 1];
      this.targets[o + T - 1] = -1;
    }
    this.icl = iclTokens(s.n_ctx);
  }

  /** Evaluate the current parameters. */
  evaluate(params: Params, step: number): EvalRecord {
    const { T, R } = this;
    const B = PROBE_SEQUENCES;
    const loss = this.engine.lossAndGrad(params, this.tokens, this.targets, null);
    const rows = this.engine.rowLoss;
    const byPos = new Array<number>(T - 1).fill(0);
    for (let b = 0; b < B; b++) for (let p = 0; p < T - 1; p++) byPos[p] += rows[b * T + p] / B;
    const mean = (from: number, to: number) => byPos.slice(from, to).reduce((a, x) => a + x, 0) / (to - from);
    // Token k is predicted at position k − 1.
    const firstCopy = mean(0, R);
    const secondCopy = mean(R, 2 * R);
    const icl = byPos[this.icl.late - 1] - byPos[this.icl.early - 1];

    const weights = paramsToWeights(params);
    const det = detectHeads(weights, { bos: 0, sequences: DETECT_SEQUENCES, seed: 1 });
    const heads = det.heads.map((h) => ({ id: h.id, block: h.block, head: h.head, previous: h.previous, duplicate: h.duplicate, induction: h.induction }));
    const comp = analyzeComposition(weights);
    const blockOf = new Map(comp.heads.map((h) => [h.name, h.block]));
    const kComposition = comp.scores.filter((c) => c.kind === "K").map((c) => ({ from: c.from, to: c.to, score: c.score }));
    const max = (xs: number[]) => xs.reduce((a, x) => Math.max(a, x), 0);
    return {
      step,
      loss,
      lossByPosition: byPos,
      firstCopy,
      secondCopy,
      icl,
      heads,
      kComposition,
      maxPrevious: max(heads.filter((h) => h.block === 0).map((h) => h.previous)),
      maxInduction: max(heads.filter((h) => h.block >= 1).map((h) => h.induction)),
      maxKComposition: max(kComposition.filter((c) => blockOf.get(c.from) === 0 && blockOf.get(c.to) === 1).map((c) => c.score)),
    };
  }
}
