/**
 * `circuits analyze`: the weight analyses of a program's compiled model or of
 * a weights file — composition scores and the graph they reveal (against the
 * program's own graph when it is known), copying scores, head detection.
 * Also the shared loading of "a program or a model file" for `decompile`.
 */
import { compile } from "../compiler/compile.ts";
import { load } from "../lang/check.ts";
import type { Program } from "../lang/program.ts";
import type { Weights } from "../model/weights.ts";
import { readWeightsBytes } from "../model/weightsFile.ts";
import { decodeForeign, type LoadedForeign } from "../model/foreign.ts";
import { type AnalyzeOptions, analyzeModel, formatAnalysis, type ModelAnalysis, WeightsRangeError } from "../analysis/analyze.ts";
import { compositionDot } from "../analysis/dot.ts";
import { checkLayoutAgainst, checkLayoutSelf } from "../analysis/layoutCheck.ts";
import { checkSidecar } from "../model/pairCheck.ts";
import { checkRegularFile, MODEL_FILE_LIMIT } from "./readInput.ts";
import { LayoutError, layoutFromJson, type NamedLayout } from "../analysis/named.ts";
import { type Command, finiteNumber, inContext, int, loadProgramFile, printJson, str, UsageError } from "./command.ts";
import { verdict } from "./exitCodes.ts";

/** A model to analyse, with whatever names and program came with it. */
export interface AnalysisInput {
  readonly weights: Weights;
  readonly layout?: NamedLayout;
  readonly tokens?: readonly string[];
  /** The source program: the argument itself, or the text a compiled file stores in its metadata. */
  readonly program?: Program;
  /** BOS token id for detection: 0 for compiled models, none for files without a "<bos>" token. */
  readonly bos: number | null;
  /** What was folded or ignored to read a model from elsewhere (empty for attention-only files). */
  readonly notes: readonly string[];
  /** Set when the simulator cannot run the model as stored (LayerNorm, MLP): head detection is skipped. */
  readonly notRunnable?: string;
}

/** Load PROGRAM (compiled here) or MODEL.safetensors; every failure is a one-line UsageError. */
export function loadAnalysisInput(path: string | undefined, cmd: string): AnalysisInput {
  if (!path) throw new UsageError(`${cmd}: missing PROGRAM or MODEL.safetensors argument (see 'circuits ${cmd} --help')`);
  if (!path.endsWith(".safetensors")) {
    const model = compile(loadProgramFile(path, cmd), { precision: "float64" });
    return { weights: model.weights, layout: model.layout, tokens: model.tokens, program: model.program, bos: 0, notes: [] };
  }
  try {
    checkRegularFile(path, MODEL_FILE_LIMIT, "model file");
  } catch (e) {
    throw new UsageError(`${cmd}: ${(e as Error).message}`);
  }
  const loaded: LoadedForeign = inContext(cmd, () => {
    const foreign = decodeForeign(readWeightsBytes(path), `loadWeights: ${path}`);
    checkSidecar(path, foreign.metadata);
    return foreign;
  });
  const { weights, attentionOnly, notes } = loaded.model;
  if (loaded.layout !== undefined && !attentionOnly) {
    throw new UsageError(`${cmd}: ${path}: the file has a layout (named directions of a compiled model) but also LayerNorm or MLP tensors, which compiled models never have`);
  }
  const layout: NamedLayout | undefined = inContext(`${cmd}: ${path}`, () => {
    if (loaded.layout === undefined) return undefined;
    const named = layoutFromJson(loaded.layout, weights.config.d_model);
    checkLayoutSelf(named);
    checkLayoutAgainst(named, weights, loaded.tokens);
    return named;
  }, LayoutError);
  // A compiled file stores its source; it is only ever compared with, never used to detect.
  let program: Program | undefined;
  const text = loaded.metadata.program;
  if (text !== undefined) {
    try {
      program = load({ path: `${path} (metadata)`, text: JSON.parse(text) as string });
    } catch {
      program = undefined;
    }
  }
  const bos = loaded.tokens?.[0] === "<bos>" ? 0 : null;
  const input: AnalysisInput = { weights, layout, tokens: loaded.tokens, program, bos, notes };
  return attentionOnly ? input : { ...input, notRunnable: "the simulator is attention-only and this model has LayerNorm or MLP blocks" };
}

/** analyzeModel, with weights it cannot use refused as a one-line UsageError naming the file. */
export function analyzeOrRefuse(path: string, cmd: string, weights: Weights, opts: AnalyzeOptions): ModelAnalysis {
  return inContext(`${cmd}: ${path}`, () => analyzeModel(weights, opts), WeightsRangeError);
}

export const analyzeCommand: Command = {
  name: "analyze",
  summary: "analyse weights: composition scores and graph, copying scores, head detection",
  help: [
    "usage: circuits analyze PROGRAM|MODEL.safetensors [--json | --format text|dot] [--sigmas K | --threshold T] [--sequences N] [--seed S]",
    "",
    "  PROGRAM            a .circ file: compiled first, and its composition graph compared with the detected one",
    "  MODEL.safetensors  TransformerLens-named weights (F64/F32/F16/BF16); a compiled file's layout names heads",
    "                     and features. LayerNorm is folded into the weights that read it (as fold_ln does),",
    "                     writing weights centred, MLP blocks ignored; the report says what was done.",
    "  --sigmas K         an edge's written score must exceed mean + K·sd of random models of the same shapes (default 6)",
    "  --threshold T      instead, a fixed threshold in [0, 1) on the written score",
    "  --sequences N      repeated random sequences for head detection (default 16)",
    "  --seed S           seed of those sequences (default 0)",
    "  --json             the whole report as JSON",
    "  --format dot       the composition graph for Graphviz (heads ranked by layer; the program's edges bold,",
    "                     its edges the weights do not show dashed, edges only detected orange)",
    "",
    "Composition: ‖W_OV^A·R^B‖_F / (‖W_OV^A‖_F·‖R^B‖_F), R = W_Q W_Kᵀ (Q), W_K W_Qᵀ (K), W_V W_O (V),",
    "shown with the random baseline 1/√d_model; written score ‖W_OV^A·R^B‖/(‖W_OV^A‖·‖P·R^B‖₂), P the projection onto",
    "what earlier heads write: 1 when B reads all A writes at its strongest gain, ≈ 0.4–0.55 for random heads.",
    "Copying: Re Σλ / Σ|λ| over the eigenvalues of W_E W_OV W_U.",
    "Detection: attention mass on the previous token, earlier copies (duplicate), and the token after",
    "an earlier copy (induction), on [BOS] r r; ICL score: loss in the second copy minus in the first.",
    "Exit code 1 when the program's graph is known and the detected graph differs from it.",
  ].join("\n"),
  options: { json: { type: "boolean" }, format: { type: "string" }, threshold: { type: "string" }, sigmas: { type: "string" }, sequences: { type: "string" }, seed: { type: "string" } },
  run(args) {
    const format = str(args, "format") ?? "text";
    if (format !== "text" && format !== "dot") throw new UsageError(`analyze: --format must be 'text' or 'dot', got '${format}'`);
    if (format === "dot" && args.values.json) throw new UsageError("analyze: --json and --format dot exclude each other");
    const input = loadAnalysisInput(args.positionals[0], "analyze");
    if (args.positionals.length > 1) throw new UsageError(`analyze: unexpected argument '${args.positionals[1]}'`);
    const t = str(args, "threshold");
    // NaN for anything but a finite decimal number, so the range check below reports it.
    const threshold = t === undefined ? undefined : finiteNumber(t);
    if (threshold !== undefined && !(threshold >= 0 && threshold < 1)) throw new UsageError(`--threshold must be a number in [0, 1), got '${t}'`);
    const k = str(args, "sigmas");
    const sigmas = k === undefined ? undefined : finiteNumber(k);
    if (sigmas !== undefined && !(sigmas > 0 && sigmas <= 1e6)) throw new UsageError(`--sigmas must be a number in (0, 1e6], got '${k}'`);
    if (sigmas !== undefined && threshold !== undefined) throw new UsageError("--sigmas and --threshold exclude each other");
    const analysis = analyzeOrRefuse(args.positionals[0]!, "analyze", input.weights, {
      layout: input.layout,
      program: input.program,
      threshold,
      sigmas,
      detect: { sequences: int(args, "sequences", 16, 1, 10_000), seed: int(args, "seed", 0, 0, 2 ** 31 - 1), bos: input.bos },
      notes: input.notes,
      skipDetection: input.notRunnable,
    });
    if (args.values.json) printJson(analysis);
    else if (format === "dot") process.stdout.write(compositionDot(analysis));
    else console.log(formatAnalysis(analysis));
    return verdict(!analysis.program || analysis.program.recovered);
  },
};
