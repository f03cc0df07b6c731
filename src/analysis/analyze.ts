/**
 * Every weight analysis of one model in one report — composition scores and
 * the detected graph (compared with the program's own graph when the program
 * is known), copying scores, head detection and the ICL score — as a plain
 * JSON-able object and as text. The CLI (`circuits analyze`) prints this.
 */
import type { Program } from "../lang/program.ts";
import { firstNonFinite, formatEntry, largestEntry } from "../model/finite.ts";
import { stateDict, type Weights } from "../model/weights.ts";
import { table } from "../report/table.ts";
import { analyzeComposition, compareGraphs, type CompositionAnalysis, formatEdge, type GraphEdge, headLevel } from "./composition.ts";
import { compiledComposition, compiledHeadIds } from "./compiledGraph.ts";
import { COPIER_SCORE, copyingScores, type HeadCopying } from "./copying.ts";
import { type DetectionReport, type DetectOptions, detectHeads, ForwardOverflow, headKind } from "./detect.ts";
import type { NamedLayout } from "./named.ts";
import { CircuitsError } from "../errors.ts";

/** Options of {@link analyzeModel}. */
export interface AnalyzeOptions {
  readonly layout?: NamedLayout;
  /** The program the weights were compiled from: its graph is compared with the detected one (never used to detect). */
  readonly program?: Program;
  /** A fixed threshold on the written score instead of the random-baseline rule. */
  readonly threshold?: number;
  /** k in the rule "written score > mean + k·sd of the random baseline". */
  readonly sigmas?: number;
  readonly detect?: Omit<DetectOptions, "layout">;
  /** What was done to the weights before analysis (folded LayerNorm, ignored MLPs): reported first. */
  readonly notes?: readonly string[];
  /** Why head detection cannot run on these weights (it simulates them); detection is left out when set. */
  readonly skipDetection?: string;
}

/** The detected graph against the program's. */
export interface GraphComparison {
  /** The program's edges, in the detected graph's naming (feature-level with a layout, head-level without). */
  readonly truth: readonly GraphEdge[];
  readonly recovered: boolean;
  readonly missing: readonly string[];
  readonly extra: readonly string[];
}

/** Everything {@link analyzeModel} measured. */
export interface ModelAnalysis {
  readonly model: Weights["config"];
  readonly composition: CompositionAnalysis;
  readonly program: GraphComparison | null;
  readonly copying: readonly HeadCopying[];
  /** null when detection was not run (see detectionSkipped). */
  readonly detection: DetectionReport | null;
  readonly detectionSkipped: string | null;
  readonly notes: readonly string[];
}

/** Raised for weights the analyses cannot use (non-finite, or so large the forward pass overflows); one line. */
export class WeightsRangeError extends CircuitsError {
  override name = "WeightsRangeError";
  readonly kind = "weights";
}

/** Refuse non-finite weights by tensor name and index (loaders refuse them too; this guards library callers). */
function checkFinite(weights: Weights): void {
  for (const [name, t] of stateDict(weights)) {
    const bad = firstNonFinite(name, t);
    if (bad) throw new WeightsRangeError(`tensor ${JSON.stringify(name)} holds ${bad.value} at index [${bad.index.join(",")}] (weights must be finite)`);
  }
}

/** Run every analysis on a model; throws WeightsRangeError for weights out of range. */
export function analyzeModel(weights: Weights, opts: AnalyzeOptions = {}): ModelAnalysis {
  checkFinite(weights);
  const composition = analyzeComposition(weights, { layout: opts.layout, threshold: opts.threshold, sigmas: opts.sigmas });
  let detection: DetectionReport | null = null;
  try {
    if (opts.skipDetection === undefined) detection = detectHeads(weights, { ...opts.detect, layout: opts.layout });
  } catch (e) {
    if (!(e instanceof ForwardOverflow)) throw e;
    const big = largestEntry(stateDict(weights));
    throw new WeightsRangeError(`${e.message}; the largest weight is ${big ? formatEntry(big) : "none"}`);
  }
  return {
    model: weights.config,
    composition,
    program: opts.program ? compareWithProgram(composition, opts.program, opts.layout !== undefined) : null,
    copying: copyingScores(weights, opts.layout),
    detection,
    detectionSkipped: opts.skipDetection ?? null,
    notes: [...(opts.notes ?? [])],
  };
}

/**
 * With a layout the heads carry the program's names and edges name their
 * feature, so the comparison is exact; without one, program heads are
 * renamed to their ids (layer, index) and features dropped.
 */
function compareWithProgram(c: CompositionAnalysis, program: Program, named: boolean): GraphComparison {
  // A count's conditions are read by its hidden .mean head one block earlier (compiledGraph.ts).
  let truth: GraphEdge[] = compiledComposition(program);
  if (!named) {
    const id = compiledHeadIds(program);
    truth = headLevel(truth.map((e) => ({ ...e, from: id.get(e.from)!, to: id.get(e.to)! })));
  }
  const cmp = compareGraphs(c.detected, truth);
  return { truth, recovered: cmp.equal, missing: cmp.missing, extra: cmp.extra };
}

const edgeList = (edges: readonly GraphEdge[]) => (edges.length ? edges.map(formatEdge).sort().join(", ") : "no edges");
const f3 = (x: number | null) => (x === null ? "—" : x.toFixed(3));
const f4 = (x: number) => x.toFixed(4);

/** The report as text for a terminal. */
export function formatAnalysis(a: ModelAnalysis): string {
  const c = a.model;
  const out: string[] = [
    `model: d_model ${c.d_model}, d_head ${c.d_head}, n_heads ${c.n_heads}, n_layers ${c.n_layers}, n_ctx ${c.n_ctx}, d_vocab ${c.d_vocab}`,
    ...a.notes.map((n) => `note: ${n}`),
    "",
    ...formatComposition(a),
    "",
    "copying scores: Re Σλ / Σ|λ| over the eigenvalues of W_E W_OV W_U",
    table([
      ["head", "layer", "score", ""],
      ...a.copying.map((h) => [
        h.name,
        String(h.block),
        f3(h.score),
        h.score === null ? (h.note ?? "") : h.magnitude === 0 ? "no eigenvalue mass: its OV does not reach the logits directly" : h.score > COPIER_SCORE ? "copier" : "",
      ]),
    ]),
    "",
    ...(a.detection ? formatDetection(a.detection) : [`head detection: not run — ${a.detectionSkipped}`]),
  ];
  return out.join("\n");
}

function formatComposition(a: ModelAnalysis): string[] {
  const comp = a.composition;
  const rows = new Map<string, string[]>();
  const source = comp.featureScores.length ? comp.featureScores : comp.scores;
  for (const s of source) {
    const key = `${s.from}\u0000${s.to}\u0000${s.feature}`;
    const row = rows.get(key) ?? [s.from, s.to, s.feature ?? "(all)", "", "", "", "", "", ""];
    row[3 + "QKV".indexOf(s.kind)] = f4(s.score);
    row[6 + "QKV".indexOf(s.kind)] = f3(s.written);
    rows.set(key, row);
  }
  const rule = comp.threshold !== null
    ? `edges: written score > ${comp.threshold} (fixed threshold)`
    : `edges: written score > mean + ${comp.sigmas}·sd of random models of these shapes (${comp.randomBaseline
        .map((c) => `layer ${c.block}: ${f3(c.mean)} ± ${f3(c.sd)} → ${f3(c.threshold)}, ${c.samples} scores`)
        .join("; ") || "no pairs"})`;
  const lines = [
    `composition scores ‖W_OV^A·R^B‖/(‖W_OV^A‖·‖R^B‖) (TransformerLens; random ≈ 1/√d_model = ${f3(comp.baseline)}),`,
    "and the written score ‖W_OV^A·R^B‖/(‖W_OV^A‖·‖P·R^B‖₂), P onto what earlier heads write (Q* K* V*)",
    rule,
    rows.size ? table([["from", "to", "feature", "Q", "K", "V", "Q*", "K*", "V*"], ...rows.values()]) : "(no pair of heads in different layers)",
    `detected graph: ${edgeList(comp.detected)}`,
  ];
  if (!comp.featureScores.length && comp.heads.length) {
    lines.push("(no layout: edges are between heads; which feature each edge carries needs named directions)");
  }
  if (a.program) {
    const p = a.program;
    lines.push(`program graph:  ${edgeList(p.truth)}`);
    lines.push(
      p.recovered
        ? "the detected graph equals the program's composition graph"
        : `NOT recovered — missing: ${p.missing.join(", ") || "none"}; extra: ${p.extra.join(", ") || "none"}`,
    );
  }
  return lines;
}

function formatDetection(d: DetectionReport): string[] {
  const kindName = { previous: "previous-token", duplicate: "duplicate-token", induction: "induction" } as const;
  return [
    `head detection: attention mass on ${d.sequences} repeated random sequences (${d.bos === null ? "" : "BOS + "}${d.length} distinct tokens, twice; seed ${d.seed})`,
    table([
      ["head", "layer", "previous", "duplicate", "induction", "looks like"],
      ...d.heads.map((h) => {
        const k = headKind(h);
        return [h.name, String(h.block), f3(h.previous), f3(h.duplicate), f3(h.induction), k ? kindName[k] : "—"];
      }),
    ]),
    d.icl
      ? `in-context learning: loss ${f3(d.icl.lossLate)} at position ${d.icl.late} (second copy) − ${f3(d.icl.lossEarly)} at position ${d.icl.early} (first copy) = ${f3(d.icl.score)}`
      : "in-context learning: not measured (the context holds a repeated part of only 1 token)",
  ];
}
