/**
 * `circuits train`: train an attention-only transformer (src/train/) on
 * repeated random segments, a program's reference semantics, or a text, and
 * record the induction bump; writes a model file every other command reads.
 */
import type { Program } from "../lang/program.ts";
import { writeFileAtomic } from "../model/atomicWrite.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "../train/config.ts";
import { DataError, type DataSpec } from "../train/data.ts";
import { train, type TrainLog, type TrainProgress } from "../train/loop.ts";
import { type Command, inContext, int, loadProgramFile, type ParsedArgs, printJson, str, UsageError } from "./command.ts";
import { EXIT } from "./exitCodes.ts";

/** A number option within [min, max], or the default. */
function num(args: ParsedArgs, name: string, dflt: number, min: number, max: number, openMin = false): number {
  const v = str(args, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < min || (openMin && n === min) || n > max) {
    const range = `${openMin ? `above ${min}` : `at least ${min}`}${max === Number.MAX_VALUE ? "" : ` and at most ${max}`}`;
    throw new UsageError(`--${name} must be a finite number ${range}, got '${v}'`);
  }
  return n;
}

/** The flags that shape a run; with --resume the checkpoint fixes them. */
const FIXED_BY_CHECKPOINT = ["d-model", "heads", "d-head", "layers", "context", "vocab", "batch", "lr", "weight-decay", "beta1", "beta2", "eps", "seed", "no-bias", "repeat-fraction", "repeat-length", "repeat-layout", "eval-every", "phase-window"];

function dataSpec(args: ParsedArgs): DataSpec | undefined {
  const data = str(args, "data");
  const teacher = str(args, "teacher");
  if (data !== undefined && teacher !== undefined) throw new UsageError("train: give --data or --teacher, not both");
  if (teacher !== undefined) return { kind: "program", path: teacher };
  if (data === "repeat" || (data === undefined && ["vocab", "repeat-fraction", "repeat-length", "repeat-layout"].some((k) => args.values[k] !== undefined))) {
    const lengths = str(args, "repeat-length") ?? "random";
    if (lengths !== "fixed" && lengths !== "random") throw new UsageError(`--repeat-length must be fixed or random, got '${lengths}'`);
    const layout = str(args, "repeat-layout") ?? "tiled";
    if (layout !== "tiled" && layout !== "once") throw new UsageError(`--repeat-layout must be tiled or once, got '${layout}'`);
    return { kind: "repeat", vocab: int(args, "vocab", 64, 1, 65_535), repeatFraction: num(args, "repeat-fraction", 0.5, 0, 1), repeatLength: lengths, layout };
  }
  if (data === undefined) return undefined;
  const m = /^(program|text):(.+)$/.exec(data);
  if (!m) throw new UsageError(`--data must be repeat, program:FILE.circ or text:FILE, got '${data}'`);
  if (m[1] === "program") return { kind: "program", path: m[2]! };
  const how = str(args, "tokenize") ?? "char";
  if (how !== "char" && how !== "word") throw new UsageError(`--tokenize must be char or word, got '${how}'`);
  return { kind: "text", path: m[2]!, tokenize: how };
}

/** The run's config from the flags (fresh run), or the checkpoint's with the few flags a resume may change. */
function configFrom(args: ParsedArgs, programs: Map<string, Program>): { config: TrainConfig; resume?: ReturnType<typeof loadCheckpoint> } {
  const resumePath = str(args, "resume");
  const spec = dataSpec(args);
  if (resumePath !== undefined) {
    const given = FIXED_BY_CHECKPOINT.filter((f) => args.values[f] !== undefined);
    if (given.length) throw new UsageError(`train: --${given[0]} cannot be given with --resume (the checkpoint fixes it)`);
    const resume = inContext("train", () => loadCheckpoint(resumePath));
    const c = resume.config;
    const steps = int(args, "steps", c.steps, 0, 1e9);
    if (steps < resume.step) throw new UsageError(`train: --steps ${steps} is below the checkpoint's step ${resume.step}`);
    const config: TrainConfig = { ...c, steps, checkpointEvery: int(args, "checkpoint-every", c.checkpointEvery, 0, 1e9), data: spec ?? c.data };
    return { config, resume };
  }
  const data = spec ?? DEFAULT_TRAIN_CONFIG.data;
  let n_ctx = DEFAULT_TRAIN_CONFIG.n_ctx;
  if (data.kind === "program") {
    const program = loadProgramFile(data.path, "train");
    programs.set(data.path, program);
    n_ctx = program.context;
  }
  const d = DEFAULT_TRAIN_CONFIG;
  const d_model = int(args, "d-model", d.d_model, 1, 4096);
  const n_heads = int(args, "heads", d.n_heads, 1, 256);
  const config: TrainConfig = {
    d_model,
    n_heads,
    d_head: int(args, "d-head", Math.max(1, Math.floor(d_model / n_heads)), 1, 4096),
    n_layers: int(args, "layers", d.n_layers, 1, 64),
    n_ctx: int(args, "context", n_ctx, 2, 8192),
    bias: !args.values["no-bias"],
    data,
    batch: int(args, "batch", d.batch, 1, 1 << 16),
    steps: int(args, "steps", d.steps, 0, 1e9),
    seed: int(args, "seed", d.seed, 0, 2 ** 31 - 1),
    optimizer: {
      lr: num(args, "lr", d.optimizer.lr, 0, Number.MAX_VALUE, true),
      beta1: num(args, "beta1", d.optimizer.beta1, 0, 0.999999),
      beta2: num(args, "beta2", d.optimizer.beta2, 0, 0.999999999),
      eps: num(args, "eps", d.optimizer.eps, 0, 1, true),
      weightDecay: num(args, "weight-decay", d.optimizer.weightDecay, 0, 1e6),
    },
    evalEvery: int(args, "eval-every", d.evalEvery, 1, 1e9),
    checkpointEvery: int(args, "checkpoint-every", d.checkpointEvery, 0, 1e9),
    phaseWindow: int(args, "phase-window", d.phaseWindow, 1, 1e9),
  };
  return { config };
}

const fmt = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
const secs = (s: number) => (s >= 120 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${s.toFixed(s < 10 ? 1 : 0)}s`);

/** Progress lines on stderr: every evaluation, else at most one every 2 s. */
function progressPrinter(): (p: TrainProgress) => void {
  let last = 0;
  let lastEval = "";
  return (p) => {
    if (p.eval) lastEval = `  2nd-copy ${fmt(p.eval.secondCopy)}  1st-copy ${fmt(p.eval.firstCopy)}  ICL ${fmt(p.eval.icl)}  induction ${fmt(p.eval.maxInduction, 2)}`;
    const now = performance.now();
    if (!p.eval && now - last < 2000 && p.step < p.steps) return;
    last = now;
    const tps = Math.round(p.tokensPerSecond).toLocaleString("en-US");
    process.stderr.write(`step ${p.step}/${p.steps}  loss ${fmt(p.loss)}${lastEval}  ${tps} tok/s  ETA ${secs(p.etaSeconds)}\n`);
  };
}

/** The human summary of a finished run. */
export function formatTrainLog(log: TrainLog, output: string | undefined): string {
  const last = log.evals[log.evals.length - 1];
  const lines = [
    `trained ${log.parameters.toLocaleString("en-US")} parameters for ${log.timing.toStep} steps (${log.timing.toStep - log.timing.fromStep} in this run, ${secs(log.timing.seconds)})` +
      `; ${Math.round(log.timing.tokensPerSecond).toLocaleString("en-US")} training tokens/s (${log.tokensPerStep} tokens a step)`,
  ];
  if (log.loss.length) lines.push(`final training loss ${fmt(log.loss[log.loss.length - 1]!)}`);
  if (last) {
    lines.push(
      `probe (${log.probe.sequences} [BOS] r r sequences, R = ${log.probe.repeatLength}) at step ${last.step}: first copy ${fmt(last.firstCopy)}, second copy ${fmt(last.secondCopy)}, ` +
        `ICL score ${fmt(last.icl)} (loss at token ${log.probe.iclLate} − token ${log.probe.iclEarly})`,
    );
    const best = (k: "previous" | "induction", inBlock: (b: number) => boolean) =>
      last.heads.filter((h) => inBlock(h.block)).reduce<{ id: string; s: number } | null>((a, h) => (!a || h[k] > a.s ? { id: h.id, s: h[k] } : a), null);
    const prev = best("previous", (l) => l === 0);
    const ind = best("induction", (l) => l >= 1);
    if (prev) lines.push(`best previous-token head in blocks.0: ${prev.id} (${fmt(prev.s, 2)}); best induction head in blocks ≥ 1: ${ind ? `${ind.id} (${fmt(ind.s, 2)})` : "none"}; max K-composition L0→L1 ${fmt(last.maxKComposition)}`);
  }
  lines.push(
    log.bump
      ? `bump: second-copy loss below ½·ln ${log.tokens.length - 1} = ${fmt(log.bumpThreshold)} first at step ${log.bump.step}${log.bump.seconds !== null ? ` (${secs(log.bump.seconds)} into this run)` : ""}`
      : `bump: second-copy loss never fell below ½·ln ${log.tokens.length - 1} = ${fmt(log.bumpThreshold)}`,
  );
  const ph = log.phase;
  if (ph) {
    const w = (x: { start: number; end: number }) => `steps ${x.start}–${x.end}`;
    lines.push(
      `phase change (${ph.windowSteps}-step windows): second-copy loss falls fastest in ${w(ph.loss)} (${fmt(ph.loss.change)}); ` +
        `induction score rises fastest in ${w(ph.induction)} (${Math.round(ph.induction.shareInLossWindow * 100)}% of its rise inside the loss window), ` +
        `K-composition in ${w(ph.kComposition)} (${Math.round(ph.kComposition.shareInLossWindow * 100)}%): ${ph.coincide ? "they coincide" : "they do not coincide"}`,
    );
  }
  if (output) lines.push(`wrote ${output}`);
  return lines.join("\n");
}

export const trainCommand: Command = {
  name: "train",
  summary: "train an attention-only transformer (repeats, a program as teacher, or text) and measure the induction bump",
  help: [
    "usage: circuits train [--data repeat|program:FILE.circ|text:FILE] [-o MODEL.safetensors] [options]",
    "       circuits train --resume CHECKPOINT.safetensors [--steps N] [-o FILE]",
    "",
    "  --data repeat            a random segment r repeated, mixed with uniform random sequences (default)",
    "  --repeat-fraction F      share of repeated sequences (default 0.5)",
    "  --repeat-length random|fixed   |r| uniform in 2…⌊(context−1)/2⌋ per sequence (default: only induction",
    "                           predicts the copies), or always ⌊(context−1)/2⌋ (a positional lookup at offset",
    "                           |r| − 1 solves that, and a model learns it instead of an induction circuit)",
    "  --repeat-layout tiled|once   [BOS] r r r … to the end of the context (default), or [BOS] r r then",
    "                           uniform tokens (late positions then rarely repeat; one layout when |r| is fixed)",
    "  --vocab V                vocabulary size for repeat data (default 64; ids 1…V, 0 is BOS)",
    "  --data program:FILE      (or --teacher FILE) random inputs labelled by the program's semantics: the target at",
    "                           position i is its prediction at i; positions where it is ⊥ are not trained",
    "  --data text:FILE         windows of a text; --tokenize char|word (default char); vocabulary: the file's tokens",
    "  --d-model D --heads H --d-head E --layers L --context C   model shape (default 64, 4, D/H, 2, 64)",
    "  --no-bias                no b_Q/b_K/b_V/b_O/b_U (default: trained, as TransformerLens has them)",
    "  --batch B --steps N --seed S   (default 32, 3000, 0)",
    "  --lr --beta1 --beta2 --eps --weight-decay   AdamW (default 1e-2, 0.9, 0.999, 1e-8, 0)",
    "  --eval-every K           probe evaluation interval in steps (default 50)",
    "  --phase-window W         width of the phase-change windows in steps (default 200)",
    "  -o, --output FILE        model file (safetensors; also a checkpoint: optimiser state under train.*)",
    "  --checkpoint-every N     also write it every N steps (default: only at the end)",
    "  --resume FILE            continue a checkpoint exactly (same result as an uninterrupted run); -o defaults to FILE",
    "  --json                   the whole log (every curve) on stdout;  --log FILE  the same into FILE",
    "",
    "Progress on stderr. Loss: next-token cross-entropy, mean over trained positions. The probe: 32 fixed",
    "[BOS] r r sequences: loss by position, first vs second copy, ICL score (loss at token round(500/512·C)",
    "minus token round(50/512·C): 62 and 6 at C = 64), every head's previous/duplicate/induction score",
    "and K-composition. Exit 1 when the loss becomes NaN or infinite (the last checkpoint is kept).",
  ].join("\n"),
  options: {
    data: { type: "string" }, teacher: { type: "string" }, tokenize: { type: "string" }, "repeat-fraction": { type: "string" }, "repeat-length": { type: "string" }, "repeat-layout": { type: "string" }, vocab: { type: "string" },
    "d-model": { type: "string" }, heads: { type: "string" }, "d-head": { type: "string" }, layers: { type: "string" }, context: { type: "string" },
    "no-bias": { type: "boolean" }, batch: { type: "string" }, steps: { type: "string" }, seed: { type: "string" },
    lr: { type: "string" }, beta1: { type: "string" }, beta2: { type: "string" }, eps: { type: "string" }, "weight-decay": { type: "string" },
    "eval-every": { type: "string" }, "phase-window": { type: "string" }, output: { type: "string", short: "o" },
    "checkpoint-every": { type: "string" }, resume: { type: "string" }, json: { type: "boolean" }, log: { type: "string" },
  },
  run(args) {
    if (args.positionals.length) throw new UsageError(`train: unexpected argument '${args.positionals[0]}' (see 'circuits train --help')`);
    const programs = new Map<string, Program>();
    const { config, resume } = configFrom(args, programs);
    const output = str(args, "output") ?? str(args, "resume");
    if (output !== undefined && !output.endsWith(".safetensors")) throw new UsageError(`train: -o must name a .safetensors file, got '${output}'`);
    const logPath = str(args, "log");
    const result = inContext("train", () => train({
        config,
        resume,
        output,
        loadProgram: (path) => programs.get(path) ?? loadProgramFile(path, "train"),
        onProgress: progressPrinter(),
      }), DataError);
    const { log } = result;
    if (logPath) writeFileAtomic(logPath, `${JSON.stringify(log)}\n`);
    if (args.values.json) printJson(log);
    else console.log(formatTrainLog(log, log.stopped ? undefined : output));
    if (log.stopped) {
      process.stderr.write(`circuits: train: ${log.stopped.message}\n`);
      return EXIT.found;
    }
    return EXIT.ok;
  },
};
