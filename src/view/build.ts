/**
 * Assembling a report: run the model on the input once (patterns, residual
 * stream, logits), the program's semantics beside it, the weight analyses,
 * optionally generation and a training log — then each section's HTML and
 * the data the page's script draws from.
 */
import type { ModelAnalysis } from "../analysis/analyze.ts";
import { interpret } from "../semantics/interpret.ts";
import { forward } from "../sim/forward.ts";
import type { TrainLog } from "../train/loop.ts";
import { type AttentionView, attentionView } from "./attention.ts";
import { esc, section } from "./html.ts";
import { renderPage } from "./page/page.ts";
import { attentionSection } from "./sections/attention.ts";
import { computeGeneration, type GenerationView, generationSection } from "./sections/generation.ts";
import { graphSection } from "./sections/graph.ts";
import { predictionRows, predictionsSection } from "./sections/predictions.ts";
import { sourceSection } from "./sections/source.ts";
import { trainingSection, trainingView } from "./sections/training.ts";
import type { ReportSubject } from "./subject.ts";
import { BOS_ID, vocabIndices } from "../model/tokenIds.ts";

/** What to put in a report besides the model itself. */
export interface ReportOptions {
  /** Model token ids of the input (BOS first where the model has one); see encodeSubjectInput. */
  readonly ids: readonly number[];
  /** How the input was chosen, when not given by the user (shown in the report). */
  readonly inputNote?: string;
  readonly analysis: ModelAnalysis;
  /** Tokens to generate after the input (0 or undefined: no generation section). */
  readonly generate?: number;
  readonly training?: { readonly log: TrainLog; readonly path: string };
  /** Called as each stage finishes (for a progress bar). */
  readonly onStage?: (done: number, total: number) => void;
}

/** A built report: the page and a summary of what is in it. */
export interface BuiltReport {
  readonly html: string;
  readonly T: number;
  readonly heads: number;
  readonly sections: readonly string[];
  readonly attention: AttentionView | null;
  readonly generation: GenerationView | null;
  readonly disagreements: number | null;
}

/** Build the page for a subject (deterministic for equal inputs). */
export function buildReport(subject: ReportSubject, opts: ReportOptions): BuiltReport {
  const { ids } = opts;
  const total = 3 + (opts.generate ? 1 : 0);
  let done = 0;
  const stage = () => opts.onStage?.(++done, total);
  const T = ids.length;
  const cfg = subject.weights.config;
  const tokens = ids.map((t) => subject.tokenNames[t] ?? String(t));
  const program = subject.program;
  // The semantics runs on vocabulary indices without BOS.
  const run = program && subject.bos === BOS_ID ? interpret(program, vocabIndices(ids.slice(1))) : null;
  stage();

  let attention: AttentionView | null = null;
  let predictions = "";
  let disagreements: number | null = null;
  if (subject.notRunnable) {
    predictions = predictionsSection([], subject, subject.notRunnable);
  } else {
    const { logits, cache } = forward(subject.weights, ids, { cache: true });
    attention = attentionView(subject, cache!, T, run);
    const rows = predictionRows(subject, ids, logits, cache!, run);
    disagreements = rows.filter((r) => r.disagree).length;
    predictions = predictionsSection(rows, subject, null);
  }
  stage();
  const generation = opts.generate && !subject.notRunnable ? computeGeneration(subject, ids, opts.generate) : null;
  if (opts.generate) stage();
  const training = opts.training ? trainingView(opts.training.log) : null;

  const sections: [string, string, string][] = [
    ["program", program ? "Program" : "Residual stream", sourceSection(program, subject.compiled?.layout ?? subject.layout)],
    ["attention", "Attention", attentionSection(attention, subject.notRunnable, program !== null)],
    ["graph", "Composition graph", graphSection(opts.analysis)],
    ["predictions", "Predictions", predictions],
    ["generation", "Generation", generation ? generationSection(generation)
      : opts.generate && subject.notRunnable ? section("generation", "Generation", `<p class="note">Not run: ${esc(subject.notRunnable)}.</p>`) : ""],
    ["training", "Training", training ? trainingSection(training, opts.training!.path) : ""],
  ];
  const meta = `${subject.path} — d_model ${cfg.d_model}, ${cfg.n_layers} layer${cfg.n_layers === 1 ? "" : "s"} × ${cfg.n_heads} head${cfg.n_heads === 1 ? "" : "s"} (d_head ${cfg.d_head}), context ${cfg.n_ctx}, ${cfg.d_vocab} token ids; input of ${T} positions${subject.bos === 0 ? " (BOS first)" : ""}`;
  const notes = [...(opts.inputNote ? [opts.inputNote] : []), ...subject.notes];
  const data = {
    tokens,
    attention: attention && { T: attention.T, heads: attention.heads, packed: attention.packed },
    training,
  };
  const html = renderPage({ title: `Circuit report: ${subject.path}`, meta, notes, sections, data, charts: training !== null });
  stage();
  return {
    html, T, heads: cfg.n_layers * cfg.n_heads, sections: sections.filter(([, , h]) => h !== "").map(([id]) => id),
    attention, generation, disagreements,
  };
}
