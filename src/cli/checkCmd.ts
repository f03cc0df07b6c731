/** `circuits check`: compiled weights vs the reference semantics, random or exhaustive. */
import { availableParallelism } from "node:os";
import { compile } from "../compiler/compile.ts";
import { disagreementToJson, formatDisagreement } from "../report/format.ts";
import { progressBar } from "../report/progress.ts";
import { type CheckResult, checkExhaustive, checkRandom, countInRange, shardRange, type ShardSpec, treeSplit } from "../verify/check.ts";
import { checkClasses, classesInRange, classShardRange, classSplit, SymmetryError } from "../verify/classes.ts";
import { symmetryObstacle } from "../verify/symmetry.ts";
import { shardFromEnv } from "./shardEnv.ts";
import { type Command, inContext, int, loadProgramFile, printJson, str, UsageError } from "./command.ts";
import { epsilonOption, precisionOption, scalesSummary } from "./compileOptions.ts";
import type { Program } from "../lang/program.ts";
import { loadWeights } from "../model/weightsFile.ts";
import { checkWeights, CheckWeightsError, type HeadPlace } from "../recover/checkWeights.ts";
import { formatCheckWeights } from "../recover/format.ts";
import type { ParsedArgs } from "./command.ts";
import { EXIT, verdict } from "./exitCodes.ts";

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

/** Parse --shard i/N (1-based on the command line, 0-based inside), or --shard auto (see shardEnv.ts). */
export function shardOption(spec: string | undefined, env: NodeJS.ProcessEnv = process.env): ShardSpec | undefined {
  if (spec === undefined) return undefined;
  if (spec.trim() === "auto") return shardFromEnv(env);
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!(Number.isSafeInteger(i) && Number.isSafeInteger(n) && n >= 1 && i >= 1 && i <= n)) {
    throw new UsageError(`--shard must be i/N with 1 ≤ i ≤ N, or auto, got '${spec}'`);
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
    "       circuits check PROGRAM --exhaustive --max-length L [--alphabet a,b,c] [--workers N] [--shard i/N|auto] [--no-symmetry] [--json]",
    "       circuits check --weights MODEL.safetensors PROGRAM [--samples N --seed S | --exhaustive --max-length L] [--map h=L.H,…] [--json]",
    "",
    "  --samples N       random sequences to try (default 1000)",
    "  --seed S          seed of the random sequences (default 1)",
    "  --exhaustive      every sequence of length 1 … L instead of random ones",
    "  --max-length L    longest sequence (default: the context for random, required for --exhaustive)",
    "  --alphabet a,b,c  draw tokens only from these (default: the whole vocabulary)",
    "  --precision P     float64 (default) or float32: the simulation runs in it and the",
    "                    program is compiled with its bound stated for it",
    "  --epsilon E       compile with this attention bound (default 1e-3)",
    "  --workers N       exhaustive: worker threads (default: the cores when the check is",
    "                    big enough to repay starting them, else 1 = this thread); at most",
    "                    the available parallelism (each thread holds its own model copy)",
    "  --shard i/N       exhaustive: check only part i of N (1-based) of the prefix tree;",
    "                    'circuits merge' adds up the --json results of all N parts",
    "  --shard auto      the part from the scheduler: a Kubernetes Indexed Job",
    "                    (JOB_COMPLETION_INDEX, with CIRCUITS_SHARDS = its completions) or a",
    "                    Slurm job array (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of",
    "                    SLURM_ARRAY_TASK_COUNT; contiguous arrays only)",
    "  --no-symmetry     exhaustive: walk every sequence even when renaming classes would do",
    "                    (by default, when the program and its compiled weights are exactly",
    "                    equivariant under renaming tokens, one sequence per class is",
    "                    checked and stands for the whole class; otherwise the reason is",
    "                    printed and every sequence is walked)",
    "  --json            machine-readable result",
    "",
    "With --weights, the program is not compiled: the given weights (trained, perturbed or",
    "foreign; id 0 = BOS, token v = id v + 1) are compared with the program's semantics. Reported",
    "as fractions, not pass/fail: how often the model's greedy next token is the program's",
    "prediction, overall and per position class (first vs second copy of [BOS] r r, position",
    "ranges), on --samples random sequences (default 200, half [BOS] r r) or on every sequence of",
    "length --max-length (--exhaustive; shorter sequences are their prefixes); and per program head",
    "the attention its model head puts on the head's selection (and on BOS where it selects",
    "nothing), on the first 256 sequences. Heads are placed by best agreement in layer order, or",
    "as given: --map previous=0.1,induction=1.0 (program head = block.head, 0-based: blocks.N).",
    "Exit 0 unless the input is bad.",
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
    "no-symmetry": { type: "boolean" },
    weights: { type: "string" },
    map: { type: "string" },
    json: { type: "boolean" },
  },
  async run(args) {
    if (str(args, "weights") !== undefined) return checkGivenWeights(args);
    if (str(args, "map") !== undefined) throw new UsageError("check: --map applies to --weights checks");
    const program = loadProgramFile(args.positionals[0], "check");
    const alphabet = alphabetOption(program, str(args, "alphabet"));
    const precision = precisionOption(args, "float64");
    // Checked before compiling: a bad --workers should not cost a compile first.
    const workersOpt = str(args, "workers") === undefined ? undefined : int(args, "workers", 1, 1, availableParallelism());
    const model = compile(program, { epsilon: epsilonOption(args), precision });
    const bar = progressBar("checking");
    let result: CheckResult;
    let shard: ShardSpec | undefined;
    let maxLength: number | undefined;
    let symmetry: { used: boolean; reason?: string } | undefined;
    if (args.values.exhaustive) {
      if (str(args, "max-length") === undefined) throw new UsageError("check: --exhaustive needs --max-length L");
      maxLength = int(args, "max-length", 0, 1, program.context - 1);
      shard = shardOption(str(args, "shard"));
      const a = (alphabet ?? program.vocab).length;
      const why = args.values["no-symmetry"] ? "--no-symmetry" : symmetryObstacle(model);
      symmetry = why === null ? { used: true } : { used: false, reason: why };
      if (why !== null && !args.values["no-symmetry"] && !args.values.json) {
        process.stderr.write(`check: renaming symmetry not used (${why}); walking every sequence\n`);
      }
      // The walk's size: classes by symmetry, sequences without.
      let total: number;
      if (symmetry.used) {
        const cs = classSplit(a, maxLength);
        const [lo, hi] = classShardRange(cs, shard ?? { index: 0, count: 1 });
        total = classesInRange(cs, lo, hi);
      } else {
        const split = treeSplit(a, maxLength);
        const [lo, hi] = shardRange(split, shard ?? { index: 0, count: 1 });
        total = countInRange(split, lo, hi);
      }
      const unit = symmetry.used ? "renaming classes" : "sequences";
      if (total > 5e8) throw new UsageError(`check: ${total} ${unit} is too many for one run (limit 5e8); lower --max-length, use --alphabet or --shard`);
      const workers = workersOpt ?? autoWorkers(total);
      const opts = { maxLength, alphabet, precision, shard, onProgress: bar.update, symmetric: symmetry.used };
      const walk = async (symmetric: boolean): Promise<CheckResult> => {
        if (workers > 1) {
          // Loaded only when used: piscina and the worker plumbing cost nothing otherwise.
          const { checkExhaustiveParallel } = await import("../verify/parallel.ts");
          return checkExhaustiveParallel(model, { ...opts, symmetric, workers });
        }
        return symmetric ? checkClasses(model, { ...opts, symmetric }) : checkExhaustive(model, opts);
      };
      try {
        result = await walk(symmetry.used);
      } catch (e) {
        // A decoding tie voids the class walk (classes.ts): walk every sequence instead.
        if (!(symmetry.used && e instanceof SymmetryError)) throw e;
        symmetry = { used: false, reason: e.message };
        if (!args.values.json) process.stderr.write(`check: renaming symmetry dropped (${e.message}); walking every sequence\n`);
        if (countInRange(treeSplit(a, maxLength), ...shardRange(treeSplit(a, maxLength), shard ?? { index: 0, count: 1 })) > 5e8) {
          throw new UsageError(`check: renaming symmetry dropped (${e.message}) and the full walk is over 5e8 sequences; lower --max-length, use --alphabet or --shard`);
        }
        result = await walk(false);
      }
    } else {
      if (str(args, "shard") !== undefined || str(args, "workers") !== undefined || args.values["no-symmetry"]) {
        throw new UsageError("check: --shard, --workers and --no-symmetry apply to --exhaustive checks");
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
        ...(symmetry ? { classes: result.classes ?? null, symmetry } : {}),
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
      const classes = result.classes === undefined ? "" : `${result.classes} renaming classes standing for `;
      console.log(`${program.source.path}: ${mode} check${part}, ${classes}${result.sequences} sequences, ${result.disagreements} disagreements (${result.seconds.toFixed(2)} s, ${precision})`);
      if (result.first) console.log(formatDisagreement(program, result.first));
    }
    return verdict(result.disagreements === 0);
  },
};

/** Parse --map h1=0.1,h2=1.0 (program head = block.head, both 0-based). */
export function mapOption(spec: string | undefined): Map<string, HeadPlace> | undefined {
  if (spec === undefined) return undefined;
  const map = new Map<string, HeadPlace>();
  for (const part of spec.split(",").map((x) => x.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\d+)\.(\d+)$/.exec(part);
    if (!m) throw new UsageError(`--map: '${part}' is not HEAD=BLOCK.HEAD (e.g. induction=1.0)`);
    if (map.has(m[1]!)) throw new UsageError(`--map: head '${m[1]}' is placed twice`);
    map.set(m[1]!, { block: Number(m[2]), index: Number(m[3]) });
  }
  if (!map.size) throw new UsageError("--map needs at least one HEAD=BLOCK.HEAD");
  return map;
}

/** `check --weights MODEL PROGRAM`: agreement fractions of given weights with a program. */
function checkGivenWeights(args: ParsedArgs): number {
  const modelPath = str(args, "weights")!;
  for (const o of ["alphabet", "precision", "epsilon", "workers", "shard"]) {
    if (str(args, o) !== undefined) throw new UsageError(`check: --${o} does not apply to --weights checks`);
  }
  if (args.values["no-symmetry"]) throw new UsageError("check: --no-symmetry does not apply to --weights checks");
  const program = loadProgramFile(args.positionals[0], "check");
  if (args.positionals.length > 1) throw new UsageError(`check: unexpected argument '${args.positionals[1]}'`);
  const loaded = inContext("check", () => loadWeights(modelPath));
  const exhaustive = Boolean(args.values.exhaustive);
  if (exhaustive && str(args, "max-length") === undefined) throw new UsageError("check: --exhaustive needs --max-length L");
  if (exhaustive && (str(args, "samples") !== undefined || str(args, "seed") !== undefined)) {
    throw new UsageError("check: --samples and --seed apply to random checks, not --exhaustive");
  }
  if (!exhaustive && str(args, "max-length") !== undefined) throw new UsageError("check --weights: --max-length applies to --exhaustive");
  const bar = progressBar("checking");
  let result: ReturnType<typeof checkWeights>;
  try {
    result = inContext(`check: ${modelPath} vs ${program.source.path}`, () => checkWeights(loaded.weights, program, {
      tokens: loaded.tokens,
      samples: int(args, "samples", 200, 1, 1e6),
      seed: int(args, "seed", 1, 0, 2 ** 32 - 1),
      exhaustiveLength: exhaustive ? int(args, "max-length", 0, 1, 1e6) : undefined,
      map: mapOption(str(args, "map")),
      onProgress: bar.update,
    }), CheckWeightsError);
  } finally {
    bar.end();
  }
  if (args.values.json) {
    printJson({ program: program.source.path, weights: modelPath, ...result, seconds: Number(result.seconds.toFixed(3)) });
  } else {
    process.stdout.write(formatCheckWeights(result, program.source.path, modelPath));
  }
  return EXIT.ok;
}
