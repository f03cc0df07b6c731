/**
 * The training loop: seeded data → forward/backward → AdamW, with the probe
 * evaluated every K steps, checkpoints every N, and the log of every curve.
 * A run is a pure function of its TrainConfig (and the files it names):
 * the same config gives the same bytes, and a run resumed from a checkpoint
 * continues exactly as the uninterrupted run would have.
 */
import type { Program } from "../lang/program.ts";
import { AdamW } from "./adamw.ts";
import { TrainEngine } from "./backward.ts";
import { type Checkpoint, saveCheckpoint } from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import { DataError, type DataSource, openSource } from "./data.ts";
import { jobThreads } from "./gemm.ts";
import { initParams } from "./init.ts";
import { type EvalRecord, iclTokens, Probe, PROBE_SEQUENCES } from "./metrics.ts";
import { allocFloat, type Params, type TrainShape } from "./params.ts";
import { detectPhase, type PhaseReport } from "./phase.ts";
import { Rng } from "./rng.ts";
import { vocabSizeOf } from "../model/tokenIds.ts";

/** The `format` of a training log. */
export const TRAIN_LOG_FORMAT = "induction-circuits/train-log/1";

/** Everything a run records (what `circuits train --json` prints). */
export interface TrainLog {
  readonly format: typeof TRAIN_LOG_FORMAT;
  readonly config: TrainConfig;
  readonly tokens: readonly string[];
  /** Sequence length T (BOS included) and tokens per step B·T. */
  readonly seqLength: number;
  readonly tokensPerStep: number;
  readonly parameters: number;
  /** The probe: sequences, the repeated length R, and the ICL score's two token indices. */
  readonly probe: { readonly sequences: number; readonly repeatLength: number; readonly iclEarly: number; readonly iclLate: number };
  /** Training loss of step k at index k − 1 (from step 1, also across a resume). */
  readonly loss: readonly number[];
  readonly evals: readonly EvalRecord[];
  /** ½·ln(vocabulary size): the second-copy loss below which the bump has happened. */
  readonly bumpThreshold: number;
  /** The first evaluation with second-copy loss below the threshold. */
  readonly bump: { readonly step: number; readonly secondCopy: number; readonly seconds: number | null } | null;
  readonly phase: PhaseReport | null;
  /** This invocation's wall time (the only part that varies between equal runs). */
  readonly timing: {
    readonly fromStep: number;
    readonly toStep: number;
    readonly seconds: number;
    /** Seconds in forward/backward/update only (no evaluations or checkpoints). */
    readonly trainSeconds: number;
    readonly tokensPerSecond: number;
  };
  /** Why the run stopped early (non-finite loss), or null. */
  readonly stopped: { readonly step: number; readonly message: string } | null;
}

/** One progress report (every step). */
export interface TrainProgress {
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly tokensPerSecond: number;
  readonly etaSeconds: number;
  readonly eval: EvalRecord | null;
  readonly checkpoint: string | null;
}

/** How to run. */
export interface TrainOptions {
  readonly config: TrainConfig;
  /** Continue this checkpoint (its config.steps is replaced by config.steps). */
  readonly resume?: Checkpoint;
  /** Checkpoint path (written every checkpointEvery steps and at the end). */
  readonly output?: string;
  /** Reads a .circ file for `program` data (the CLI's loader reports its errors). */
  readonly loadProgram?: (path: string) => Program;
  readonly onProgress?: (p: TrainProgress) => void;
}

/** What a run returns. */
export interface TrainResult {
  readonly params: Params;
  readonly log: TrainLog;
  readonly tokens: readonly string[];
}

const noProgram = (path: string): Program => {
  throw new DataError(`program data '${path}' needs a program loader`);
};

/** A run's model shape, data source and initial state. */
function setUp(opts: TrainOptions) {
  const { config, resume } = opts;
  const source: DataSource = openSource(config.data, config.n_ctx, opts.loadProgram ?? noProgram, resume?.tokens);
  const shape: TrainShape = {
    d_model: config.d_model, n_heads: config.n_heads, d_head: config.d_head, n_layers: config.n_layers,
    n_ctx: config.n_ctx, d_vocab: source.tokens.length, bias: config.bias,
  };
  if (resume) {
    const s = resume.params.shape;
    for (const k of ["d_model", "n_heads", "d_head", "n_layers", "n_ctx", "d_vocab"] as const) {
      if (s[k] !== shape[k]) throw new DataError(`the checkpoint's ${k} is ${s[k]} but the data need ${shape[k]}`);
    }
  }
  const params = resume ? resume.params : initParams(shape, config.seed, "float32");
  const adam = new AdamW(config.optimizer, params.data.length, "float32");
  if (resume) {
    adam.m.set(resume.adam.m);
    adam.v.set(resume.adam.v);
    adam.t = resume.adam.t;
  }
  const dataRng = new Rng(config.seed ^ 0x2545f491);
  if (resume) dataRng.state = resume.dataRng;
  return { source, shape, params, adam, dataRng };
}

/** Train as configured; see TrainLog for what is recorded. */
export function train(opts: TrainOptions): TrainResult {
  const { config, resume, output } = opts;
  const { source, shape, params, adam, dataRng } = setUp(opts);
  const B = config.batch, T = source.seqLength;
  const engine = new TrainEngine(shape, B, T, "float32", params);
  const grad = allocFloat("float32", params.data.length);
  const tokens = new Int32Array(B * T), targets = new Int32Array(B * T);
  const probe = new Probe(params);
  const loss: number[] = resume ? [...resume.loss] : [];
  // An interrupted run evaluated at its last step; the uninterrupted one only on multiples of evalEvery.
  const evals: EvalRecord[] = resume ? resume.evals.filter((e) => e.step % config.evalEvery === 0) : [];
  const firstStep = resume ? resume.step : 0;
  const threshold = 0.5 * Math.log(vocabSizeOf(shape.d_vocab));
  const t0 = performance.now();
  let trainMs = 0;
  let bumpSeconds: number | null = null;
  const noteEval = (e: EvalRecord) => {
    evals.push(e);
    if (bumpSeconds === null && e.secondCopy < threshold && !evals.slice(0, -1).some((x) => x.secondCopy < threshold)) {
      bumpSeconds = (performance.now() - t0) / 1000;
    }
  };
  if (!resume) noteEval(probe.evaluate(params, 0));

  const checkpoint = (step: number): Checkpoint => ({
    config, tokens: source.tokens, params, adam: { m: adam.m, v: adam.v, t: adam.t }, step, dataRng: dataRng.state, loss, evals,
  });
  let stopped: TrainLog["stopped"] = null;
  let lastSaved: number | null = null;
  let step = firstStep;
  while (step < config.steps) {
    const s0 = performance.now();
    source.fill(dataRng, B, tokens, targets);
    const l = engine.lossAndGrad(params, tokens, targets, grad);
    if (!Number.isFinite(l)) {
      stopped = { step: step + 1, message: `loss is ${l} at step ${step + 1}; stopped (parameters of step ${step} kept${output ? `, last checkpoint: step ${lastSaved ?? "none"}` : ""})` };
      break;
    }
    adam.step(params.data, grad);
    // A finite loss can still come with an update that overflows: never checkpoint (or keep
    // training) parameters no loader would accept.
    const bad = params.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      stopped = { step: step + 1, message: `parameters became non-finite (${params.data[bad]}) in the update at step ${step + 1}; stopped${output ? ` (last checkpoint: step ${lastSaved ?? "none"})` : ""}` };
      break;
    }
    step++;
    trainMs += performance.now() - s0;
    loss.push(l);
    let ev: EvalRecord | null = null;
    if (step % config.evalEvery === 0 || step === config.steps) {
      ev = probe.evaluate(params, step);
      noteEval(ev);
    }
    let saved: string | null = null;
    if (output && ((config.checkpointEvery > 0 && step % config.checkpointEvery === 0) || step === config.steps)) {
      saveCheckpoint(output, checkpoint(step));
      lastSaved = step;
      saved = output;
    }
    const done = step - firstStep;
    const tps = trainMs > 0 ? (done * B * T) / (trainMs / 1000) : 0;
    const elapsed = (performance.now() - t0) / 1000;
    opts.onProgress?.({ step, steps: config.steps, loss: l, tokensPerSecond: tps, etaSeconds: (elapsed / done) * (config.steps - step), eval: ev, checkpoint: saved });
  }

  const seconds = (performance.now() - t0) / 1000;
  const bumpAt = evals.find((e) => e.secondCopy < threshold) ?? null;
  const icl = iclTokens(shape.n_ctx);
  const log: TrainLog = {
    format: TRAIN_LOG_FORMAT,
    config,
    tokens: source.tokens,
    seqLength: T,
    tokensPerStep: B * T,
    parameters: params.data.length,
    probe: { sequences: PROBE_SEQUENCES, repeatLength: probe.R, iclEarly: icl.early, iclLate: icl.late },
    loss,
    evals,
    bumpThreshold: threshold,
    bump: bumpAt ? { step: bumpAt.step, secondCopy: bumpAt.secondCopy, seconds: bumpSeconds } : null,
    phase: detectPhase(evals, config.phaseWindow),
    timing: {
      fromStep: firstStep,
      toStep: step,
      seconds,
      trainSeconds: trainMs / 1000,
      tokensPerSecond: trainMs > 0 ? ((step - firstStep) * B * T) / (trainMs / 1000) : 0,
    },
    stopped,
  };
  return { params, log, tokens: source.tokens };
}

/**
 * Throughput of the training step alone (no evaluations or checkpoints), after three warm-up
 * steps: wall and process CPU time (which includes the WebAssembly helper thread, if it ran),
 * and the threads the step ran on.
 */
export function trainThroughput(
  config: TrainConfig, steps: number, loadProgram?: (path: string) => Program,
): { tokensPerSecond: number; secondsPerStep: number; cpuSecondsPerStep: number; tokensPerStep: number; threads: number } {
  const { source, shape, params, adam, dataRng } = setUp({ config, loadProgram });
  const B = config.batch, T = source.seqLength;
  const engine = new TrainEngine(shape, B, T, "float32", params);
  const grad = allocFloat("float32", params.data.length);
  const tokens = new Int32Array(B * T), targets = new Int32Array(B * T);
  const one = () => {
    source.fill(dataRng, B, tokens, targets);
    engine.lossAndGrad(params, tokens, targets, grad);
    adam.step(params.data, grad);
  };
  for (let i = 0; i < Math.min(3, steps); i++) one();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) one();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return { tokensPerSecond: (steps * B * T) / seconds, secondsPerStep: seconds / steps, cpuSecondsPerStep: (cpu.user + cpu.system) / 1e6 / steps, tokensPerStep: B * T, threads: jobThreads() };
}
