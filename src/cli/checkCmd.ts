/** `circuits check`: compiled weights vs the reference semantics, random or exhaustive. */
import { availableParallelism } from "node:os";
import { compile } from "../compiler/compile.ts";
import { disagreementToJson, formatDisagreement } from "../report/format.ts";
import { progressBar } from "../report/progress.ts";
import type { Precision } from "../sim/prepare.ts";
import { type CheckResult, checkExhaustive, checkRandom, countInRange, shardRange, type ShardSpec, treeSplit } from "../verify/check.ts";
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

/** Parse --shard i/N (1-based on the command line, 0-based inside). */
export function shardOption(spec: string | undefined): ShardSpec | undefined {
  if (spec === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!(Number.isSafeInteger(i) && Number.isSafeInteger(n) && n >= 1 && i >= 1 && i <= n)) {
    throw new UsageError(`--shard must be i/N with 1 ≤ i ≤ N, got '${spec}'`);
  }
  return { index: i - 1, count: n };
}

/**
 * Sequences from which `check --exhaustive` uses worker threads by default.
 * Starting a 2-thread pool costs ~0.7 s on an idle 2-core machine (more under
 * load: tsx plus each thread's own imports)
 * and one thread checks ~170k–230k sequences/s, two ~370k/s (npm run bench),
 * so threads pay from roughly 300k–500k sequences.
 */
export const AUTO_WORKERS_MIN_SEQUENCES = 500_000;

function autoWorkers(total: number): number {
  return total >= AUTO_WORKERS_MIN_SEQUENCES ? Math.min(availableParallelism(), 8) : 1;
}

export const checkCommand: Command = {
  name: "check",
  summary: "compile, simulate and compare with the semantics on random or all sequences",
  help: [
    "usage: circuits check PROGRAM [--samples N] [--seed S] [--max-length L] [--json]",
    "       circuits check PROGRAM --exhaustive --max-length L [--alphabet a,b,c] [--workers N] [--shard i/N] [--json]",
    "",
    "  --samples N       random sequences to try (default 1000)",
    "  --seed S          seed of the random sequences (default 1)",
    "  --exhaustive      every sequence of length 1 … L instead of random ones",
    "  --max-length L    longest sequence (default: the context for random, required for --exhaustive)",
    "  --alphabet a,b,c  draw tokens only from these (default: the whole vocabulary)",
    "  --precision P     float64 (default) or float32",
    "  --epsilon E       compile with this attention bound (default 1e-3)",
    "  --workers N       exhaustive: worker threads (default: the cores when the check is",
    "                    big enough to repay starting them, else 1 = this thread); at most",
    "                    the available parallelism (each thread holds its own model copy)",
    "  --shard i/N       exhaustive: check only part i of N (1-based) of the prefix tree;",
    "                    'circuits merge' adds up the --json results of all N parts",
    "  --json            machine-readable result",
    "",
    "Results do not depend on --workers or --shard: the same counts, and the same first",
    "disagreement (first in depth-first order, tokens in --alphabet order).",
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
    workers: { type: "string" },
    shard: { type: "string" },
    json: { type: "boolean" },
  },
  async run(args) {
    const program = loadProgramFile(args.positionals[0], "check");
    const alphabet = alphabetOption(program, str(args, "alphabet"));
    const precision = (str(args, "precision") ?? "float64") as Precision;
    if (precision !== "float64" && precision !== "float32") throw new UsageError("--precision must be float64 or float32");
    // Checked before compiling: a bad --workers should not cost a compile first.
    const workersOpt = str(args, "workers") === undefined ? undefined : int(args, "workers", 1, 1, availableParallelism());
    const model = compile(program, { epsilon: epsilonOption(args) });
    const bar = progressBar("checking");
    let result: CheckResult;
    let shard: ShardSpec | undefined;
    let maxLength: number | undefined;
    if (args.values.exhaustive) {
      if (str(args, "max-length") === undefined) throw new UsageError("check: --exhaustive needs --max-length L");
      maxLength = int(args, "max-length", 0, 1, program.context - 1);
      shard = shardOption(str(args, "shard"));
      const split = treeSplit((alphabet ?? program.vocab).length, maxLength);
      const [lo, hi] = shardRange(split, shard ?? { index: 0, count: 1 });
      const total = countInRange(split, lo, hi);
      if (total > 5e8) throw new UsageError(`check: ${total} sequences is too many for one run (limit 5e8); lower --max-length, use --alphabet or --shard`);
      const workers = workersOpt ?? autoWorkers(total);
      const opts = { maxLength, alphabet, precision, shard, onProgress: bar.update };
      if (workers > 1) {
        // Loaded only when used: piscina and the worker plumbing cost nothing otherwise.
        const { checkExhaustiveParallel } = await import("../verify/parallel.ts");
        result = await checkExhaustiveParallel(model, { ...opts, workers });
      } else {
        result = checkExhaustive(model, opts);
      }
    } else {
      if (str(args, "shard") !== undefined || str(args, "workers") !== undefined) {
        throw new UsageError("check: --shard and --workers apply to --exhaustive checks");
      }
      const samples = int(args, "samples", 1000, 1, 1e8);
      const seed = int(args, "seed", 1, 0, 2 ** 32 - 1);
      const maxLen = int(args, "max-length", program.context - 1, 1, program.context - 1);
      result = checkRandom(model, { samples, seed, maxLength: maxLen, alphabet, precision, onProgress: bar.update });
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
        // What `circuits merge` needs to check that shard files belong together.
        ...(shard
          ? { shard: { index: shard.index + 1, count: shard.count }, maxLength, alphabet: (alphabet ?? program.vocab.map((_, k) => k)).map((k) => program.vocab[k]) }
          : {}),
      });
    } else {
      const part = shard ? ` (shard ${shard.index + 1}/${shard.count})` : "";
      console.log(`${program.source.path}: ${mode} check${part}, ${result.sequences} sequences, ${result.disagreements} disagreements (${result.seconds.toFixed(2)} s, ${precision})`);
      if (result.first) console.log(formatDisagreement(program, result.first));
    }
    return result.disagreements === 0 ? 0 : 1;
  },
};
