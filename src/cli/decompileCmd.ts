/**
 * `circuits decompile`: weights back to program text. A compiled file's
 * layout names the residual directions, and every head is read from its QK
 * and OV circuits. Without a layout the program is searched for instead
 * (src/recover/search.ts): the best program of a bounded space by agreement
 * with the model's predictions, among those whose heads sit on model heads
 * that attend where they select; when nothing fits, the command says so and
 * prints what the weights alone show.
 */
import { formatAnalysis } from "../analysis/analyze.ts";
import { decompile, noLayoutExplanation } from "../analysis/decompile.ts";
import { formatRecovery } from "../recover/format.ts";
import { recoverProgram, type RecoverResult } from "../recover/search.ts";
import { progressBar } from "../report/progress.ts";
import { analyzeOrRefuse, loadAnalysisInput } from "./analyzeCmd.ts";
import { type Command, inContext, int, type ParsedArgs, printJson, str, UsageError } from "./command.ts";
import { EXIT, verdict } from "./exitCodes.ts";

/** A number option in [min, max], or the default. */
function fraction(args: ParsedArgs, name: string, dflt: number): number {
  const v = str(args, name);
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!(x >= 0 && x <= 1)) throw new UsageError(`--${name} must be a number in [0, 1], got '${v}'`);
  return x;
}

export const decompileCommand: Command = {
  name: "decompile",
  summary: "recover the program a model implements: read from a compiled model, searched for in any other",
  help: [
    "usage: circuits decompile MODEL.safetensors [--json] [search options]",
    "       circuits decompile PROGRAM [--json]     (compile, then decompile: a round trip)",
    "",
    "With the layout (named residual directions) that 'circuits compile' stores in the file, each",
    "head's selection and copies are read from W_QK and W_OV in named directions and the result is",
    "re-checked by the checker; the program text stored beside it is never read.",
    "",
    "Without a layout (trained, foreign or disguised weights) the program is searched for: every",
    "program of a bounded space (≤ 2 layers, ≤ 2 heads in layer 1, one conjunct, token features; the",
    "report states the bound) is scored on seeded probes — [BOS] r r and uniform random sequences —",
    "by how often its prediction is the model's greedy next token, among the programs whose every",
    "head maps to a distinct model head (in layer order) whose attention is where the head selects.",
    "The output is the best program (a loadable .circ: the report lines are comments), the head",
    "mapping with attention agreement, prediction agreement overall and per position class (first",
    "vs second copy, position ranges), and the runner-up's margin. Exit 1 when nothing fits.",
    "",
    "  --json               {program, fits, verdict, best, nearMiss, runnerUp, margin, …}",
    "  --seed S             probe seed (default 1)",
    "  --repeats N          [BOS] r r probes (default 32)",
    "  --uniform N          uniform random probes (default 32)",
    "  --conjuncts M        conjuncts per match, 1 or 2 (default 1; 2 searches ~7× more programs)",
    "  --min-attention A    attention agreement a head needs to map (default 0.5)",
    "  --min-agreement P    prediction agreement a fit needs where the program is defined (default 0.8)",
  ].join("\n"),
  options: {
    json: { type: "boolean" },
    seed: { type: "string" },
    repeats: { type: "string" },
    uniform: { type: "string" },
    conjuncts: { type: "string" },
    "min-attention": { type: "string" },
    "min-agreement": { type: "string" },
  },
  run(args) {
    const path = args.positionals[0];
    const input = loadAnalysisInput(path, "decompile");
    if (args.positionals.length > 1) throw new UsageError(`decompile: unexpected argument '${args.positionals[1]}'`);
    if (!input.layout && input.notRunnable) {
      // LayerNorm/MLP models cannot be run faithfully, so no program is searched for: say what can be read.
      const partial = analyzeOrRefuse(path!, "decompile", input.weights, { detect: { bos: input.bos }, notes: input.notes, skipDetection: input.notRunnable });
      const reason = `no program text recovered: ${input.notRunnable}, so no program is searched for, and the weights carry no layout`;
      if (args.values.json) printJson({ program: null, reason, analysis: partial });
      else console.log([`# ${reason}`, "", formatAnalysis(partial)].join("\n"));
      return EXIT.found;
    }
    if (!input.layout) return searchWithoutLayout(args, path!, input);
    const layout = input.layout;
    const result = inContext(`decompile: ${path}`, () => decompile(input.weights, { layout, tokens: input.tokens, path: `${path} (decompiled)` }));
    if (args.values.json) {
      printJson({
        program: result.text,
        heads: result.heads.map((h) => ({ name: h.name, block: h.block, index: h.index, select: h.select, copies: h.copies, constants: h.constants })),
      });
    } else process.stdout.write(result.text);
    return EXIT.ok;
  },
};

function searchWithoutLayout(args: ParsedArgs, path: string, input: ReturnType<typeof loadAnalysisInput>): number {
  const bar = progressBar("searching");
  let r: RecoverResult;
  try {
    r = inContext(`decompile: ${path}`, () => recoverProgram(input.weights, {
      tokens: input.tokens,
      seed: int(args, "seed", 1, 0, 2 ** 32 - 1),
      repeats: int(args, "repeats", 32, 0, 10_000),
      uniform: int(args, "uniform", 32, 0, 10_000),
      space: { maxConjuncts: int(args, "conjuncts", 1, 1, 2) },
      minAttention: fraction(args, "min-attention", 0.5),
      minAgreement: fraction(args, "min-agreement", 0.8),
      onProgress: bar.update,
    }));
  } finally {
    bar.end();
  }
  const analysis = r.fits ? null : analyzeOrRefuse(path, "decompile", input.weights, { detect: { bos: input.bos }, notes: input.notes });
  if (args.values.json) {
    const summary = (x: NonNullable<RecoverResult["best"]>) => ({ program: x.text, heads: x.heads, prediction: x.prediction, attention: x.attention });
    printJson({
      program: r.fits && r.best ? r.best.text : null,
      fits: r.fits,
      verdict: r.verdict,
      best: r.best ? summary(r.best) : null,
      nearMiss: r.nearMiss ? summary(r.nearMiss) : null,
      runnerUp: r.runnerUp ? summary(r.runnerUp) : null,
      margin: r.margin,
      equivalentOnProbes: r.equivalentOnProbes,
      space: r.space,
      probes: r.probes,
      thresholds: r.thresholds,
      vocabularyNote: r.vocabularyNote,
      seconds: Number(r.seconds.toFixed(3)),
      ...(analysis ? { reason: noLayoutExplanation().join(" "), analysis } : {}),
    });
  } else {
    process.stdout.write(formatRecovery(r, path));
    if (analysis) console.log(["", ...noLayoutExplanation().map((l) => `# ${l}`), "", formatAnalysis(analysis)].join("\n"));
  }
  return verdict(r.fits);
}
