/** `circuits check`: compiled weights vs the reference semantics, random or exhaustive. */
import { compile } from "../compiler/compile.ts";
import { disagreementToJson, formatDisagreement } from "../report/format.ts";
import { progressBar } from "../report/progress.ts";
import type { Precision } from "../sim/prepare.ts";
import { checkExhaustive, checkRandom, countSequences } from "../verify/check.ts";
import { type Command, int, loadProgramFile, printJson, str, UsageError } from "./command.ts";
import { epsilonOption, scalesSummary } from "./compileOptions.ts";
import type { Program } from "../lang/program.ts";

/** Parse --alphabet a,b,c into vocabulary indices. */
export function alphabetOption(program: Program, spec: string | undefined): number[] | undefined {
  if (spec === undefined) return undefined;
  const index = new Map(program.vocab.map((t, k) => [t, k]));
  const names = spec.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError("--alphabet needs at least one token");
  return [...new Set(names)].map((n) => {
    const k = index.get(n);
    if (k === undefined) throw new UsageError(`--alphabet: '${n}' is not in the vocabulary`);
    return k;
  });
}

export const checkCommand: Command = {
  name: "check",
  summary: "compile, simulate and compare with the semantics on random or all sequences",
  help: [
    "usage: circuits check PROGRAM [--samples N] [--seed S] [--max-length L] [--json]",
    "       circuits check PROGRAM --exhaustive --max-length L [--alphabet a,b,c] [--json]",
    "",
    "  --samples N       random sequences to try (default 1000)",
    "  --seed S          seed of the random sequences (default 1)",
    "  --exhaustive      every sequence of length 1 … L instead of random ones",
    "  --max-length L    longest sequence (default: the context for random, required for --exhaustive)",
    "  --alphabet a,b,c  draw tokens only from these (default: the whole vocabulary)",
    "  --precision P     float64 (default) or float32",
    "  --epsilon E       compile with this attention bound (default 1e-3)",
    "  --json            machine-readable result",
    "",
    "Every feature of every layer is decoded from the residual stream and compared,",
    "and the logits' argmax with the predicted token. Exit code 1 on any disagreement.",
  ].join("\n"),
  options: {
    samples: { type: "string" },
    seed: { type: "string" },
    exhaustive: { type: "boolean" },
    "max-length": { type: "string" },
    alphabet: { type: "string" },
    precision: { type: "string" },
    epsilon: { type: "string" },
    json: { type: "boolean" },
  },
  run(args) {
    const program = loadProgramFile(args.positionals[0], "check");
    const alphabet = alphabetOption(program, str(args, "alphabet"));
    const precision = (str(args, "precision") ?? "float64") as Precision;
    if (precision !== "float64" && precision !== "float32") throw new UsageError("--precision must be float64 or float32");
    const model = compile(program, { epsilon: epsilonOption(args) });
    const bar = progressBar("checking");
    let result;
    if (args.values.exhaustive) {
      if (str(args, "max-length") === undefined) throw new UsageError("check: --exhaustive needs --max-length L");
      const maxLength = int(args, "max-length", 0, 1, program.context - 1);
      const total = countSequences((alphabet ?? program.vocab).length, maxLength);
      if (total > 5e8) throw new UsageError(`check: ${total} sequences is too many for one run (limit 5e8); lower --max-length or use --alphabet`);
      result = checkExhaustive(model, { maxLength, alphabet, precision, onProgress: bar.update });
    } else {
      const samples = int(args, "samples", 1000, 1, 1e8);
      const seed = int(args, "seed", 1, 0, 2 ** 32 - 1);
      const maxLength = int(args, "max-length", program.context - 1, 1, program.context - 1);
      result = checkRandom(model, { samples, seed, maxLength, alphabet, precision, onProgress: bar.update });
    }
    bar.end();
    const mode = args.values.exhaustive ? "exhaustive" : "random";
    if (args.values.json) {
      printJson({
        program: program.source.path,
        mode,
        precision,
        sequences: result.sequences,
        disagreements: result.disagreements,
        first: result.first ? disagreementToJson(program, result.first) : null,
        seconds: Number(result.seconds.toFixed(3)),
        bound: scalesSummary(model).bound,
      });
    } else {
      console.log(`${program.source.path}: ${mode} check, ${result.sequences} sequences, ${result.disagreements} disagreements (${result.seconds.toFixed(2)} s, ${precision})`);
      if (result.first) console.log(formatDisagreement(program, result.first));
    }
    return result.disagreements === 0 ? 0 : 1;
  },
};
