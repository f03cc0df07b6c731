/**
 * `circuits report`: one self-contained HTML page about a program or a
 * weights file on an input — source and layout, attention heatmaps with the
 * program's selection overlaid, the composition graph, predictions, and
 * optionally generation and a training log. `--format circuitsvis` writes
 * the attention as CircuitsVis props instead.
 */
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { headNames } from "../analysis/named.ts";
import { activeHeads } from "../analysis/circuits.ts";
import { writeFileAtomic } from "../model/atomicWrite.ts";
import { progressBar } from "../report/progress.ts";
import { forward } from "../sim/forward.ts";
import type { TrainLog } from "../train/loop.ts";
import { buildReport } from "../view/build.ts";
import { circuitsVisProps } from "../view/circuitsvis.ts";
import { checkTrainLog, TrainingLogError } from "../view/sections/training.ts";
import { encodeSubjectInput, type ReportSubject } from "../view/subject.ts";
import { loadSubject } from "./reportSubject.ts";
import { analyzeOrRefuse } from "./analyzeCmd.ts";
import { type Command, inContext, int, printJson, str, UsageError } from "./command.ts";
import { readTextFile } from "./readInput.ts";
import { EXIT } from "./exitCodes.ts";

/** Largest training log read (a 6,000-step log is about 2 MB). */
const TRAIN_LOG_LIMIT = 256 << 20;

/** Refuse an output path that cannot be written before any work is done: a directory, or a missing or non-directory parent. */
function checkOutput(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    st = null;
  }
  if (st?.isDirectory()) throw new UsageError(`report: cannot write '${path}': it is a directory`);
  const dir = dirname(resolve(path));
  let d;
  try {
    d = statSync(dir);
  } catch {
    throw new UsageError(`report: cannot write '${path}': directory '${dirname(path)}' does not exist`);
  }
  if (!d.isDirectory()) throw new UsageError(`report: cannot write '${path}': '${dirname(path)}' is not a directory`);
}

/** Write atomically (no partial file on failure), turning file-system errors into one line. */
function writeOutput(path: string, text: string): void {
  try {
    writeFileAtomic(path, text);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`report: cannot write '${path}'${code ? ` (${code})` : ""}`);
  }
}

/** Without --input a program is shown on its first vocabulary tokens, twice: the repeat induction heads act on. */
function defaultInput(subject: ReportSubject): { text: string; note: string } | null {
  const program = subject.program;
  if (!program) return null;
  const n = Math.max(1, Math.min(program.vocab.length, 8, Math.floor((program.context - 1) / 2)));
  const r = program.vocab.slice(0, n);
  const text = [...r, ...r].slice(0, program.context - 1).join(" ");
  return { text, note: `no --input given: shown on "${text}" (the first ${n} vocabulary tokens, twice)` };
}

function readTrainingLog(path: string): TrainLog {
  const text = readTextFile(path, TRAIN_LOG_LIMIT, "training log");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`report: training log '${path}' is not JSON (${(e as Error).message})`);
  }
  return inContext("report", () => checkTrainLog(json, `training log '${path}'`), TrainingLogError);
}

export const reportCommand: Command = {
  name: "report",
  summary: "write a self-contained HTML report: attention heatmaps, composition graph, predictions, loops, training",
  help: [
    "usage: circuits report PROGRAM|MODEL.safetensors [--input \"…\"] [--generate N] [--training LOG] -o report.html [--json]",
    "       circuits report PROGRAM|MODEL.safetensors --input \"…\" --format circuitsvis -o props.json",
    "",
    "  -i, --input TEXT   whitespace-separated tokens (BOS is implicit); required for a model without a program,",
    "                     otherwise the program's first vocabulary tokens, twice",
    "  --generate N       also generate N tokens greedily after the input and mark the loop (and the predicted one)",
    "  --training LOG     a log of 'circuits train' (--json or --log): loss by position, ICL score, head scores,",
    "                     the bump and the phase change",
    "  --format F         html (default) or circuitsvis: the props CircuitsVis's attention components take,",
    "                     {tokens, attention [heads, dest, src], attentionHeadNames}, every layer's heads in order",
    "  -o, --output FILE  where to write (written whole or not at all)",
    "  --json             a summary of what was written on stdout",
    "",
    "The page opens offline: its script, styles and chart library are inlined and it makes no network request.",
  ].join("\n"),
  options: {
    input: { type: "string", short: "i" },
    generate: { type: "string" },
    training: { type: "string" },
    format: { type: "string" },
    output: { type: "string", short: "o" },
    json: { type: "boolean" },
  },
  run(args) {
    const format = str(args, "format") ?? "html";
    if (format !== "html" && format !== "circuitsvis") throw new UsageError(`report: --format must be 'html' or 'circuitsvis', got '${format}'`);
    const output = str(args, "output");
    if (output === undefined) throw new UsageError("report: -o FILE is required (see 'circuits report --help')");
    checkOutput(output);
    const path = args.positionals[0];
    if (path === undefined) throw new UsageError("report: missing PROGRAM or MODEL.safetensors argument (see 'circuits report --help')");
    const given = str(args, "input");
    const subject = loadSubject(path, "report");
    const fallback = given === undefined ? defaultInput(subject) : null;
    if (given === undefined && !fallback) throw new UsageError(`report: ${path} has no program, so --input is required (the tokens to run the model on)`);
    const ids = encodeSubjectInput(subject, given ?? fallback!.text);

    if (format === "circuitsvis") {
      if (subject.notRunnable) throw new UsageError(`report: ${path}: no attention patterns: ${subject.notRunnable}`);
      const { cache } = forward(subject.weights, ids, { cache: true });
      const { n_layers, n_heads } = subject.weights.config;
      const props = circuitsVisProps(ids.map((t) => subject.tokenNames[t] ?? String(t)), cache!, n_layers, n_heads, headNames(activeHeads(subject.weights), subject.layout ?? undefined));
      const text = `${JSON.stringify(props)}\n`;
      writeOutput(output, text);
      if (args.values.json) printJson({ output, format, bytes: Buffer.byteLength(text), tokens: props.tokens.length, heads: props.attention.length });
      else console.log(`wrote ${output} (${props.attention.length} heads × ${props.tokens.length}², ${Buffer.byteLength(text).toLocaleString("en-US")} bytes)`);
      return EXIT.ok;
    }

    const generate = str(args, "generate") === undefined ? 0 : int(args, "generate", 0, 1, subject.weights.config.n_ctx);
    const trainingPath = str(args, "training");
    const training = trainingPath === undefined ? undefined : { log: readTrainingLog(trainingPath), path: trainingPath };
    const bar = args.values.json ? null : progressBar("report");
    const analysis = analyzeOrRefuse(path, "report", subject.weights, {
      layout: subject.layout ?? undefined,
      program: subject.program ?? undefined,
      detect: { bos: subject.bos },
      notes: subject.notes,
      skipDetection: subject.notRunnable ?? undefined,
    });
    const report = buildReport(subject, { ids, inputNote: fallback?.note, analysis, generate, training, onStage: bar?.update });
    bar?.end();
    writeOutput(output, report.html);
    const bytes = Buffer.byteLength(report.html);
    if (args.values.json) {
      printJson({ output, format, bytes, positions: report.T, heads: report.heads, sections: report.sections, disagreements: report.disagreements, cycle: report.generation?.cycle ?? null, predicted: report.generation?.predicted ?? null });
    } else {
      console.log(`wrote ${output} (${bytes.toLocaleString("en-US")} bytes; ${report.T} positions, ${report.heads} heads; sections: ${report.sections.join(", ")})`);
    }
    return EXIT.ok;
  },
};
