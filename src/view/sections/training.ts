/**
 * Training: from a log of `circuits train` (--json / --log), the curves of
 * in-context learning — loss by token position at chosen steps, first- vs
 * second-copy loss, the ICL score, head scores over training — with the bump
 * and the phase change marked. The charts are drawn in the page by uPlot
 * from the series prepared here.
 */
import { TRAIN_LOG_FORMAT, type TrainLog } from "../../train/loop.ts";
import { esc, fmt, section } from "../html.ts";
import { CircuitsError } from "../../errors.ts";

/** Raised for a file that is not a training log; one line. */
export class TrainingLogError extends CircuitsError {
  override name = "TrainingLogError";
  readonly kind = "data";
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const isNums = (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === "number" && Number.isFinite(v));

/** Check the parts of a parsed log the report reads; throws TrainingLogError naming the first bad field. */
export function checkTrainLog(json: unknown, where: string): TrainLog {
  const fail = (msg: string): never => {
    throw new TrainingLogError(`${where}: ${msg}`);
  };
  if (!isObj(json)) return fail("not a JSON object");
  if (json.format !== TRAIN_LOG_FORMAT) fail(`format is ${JSON.stringify(json.format)}, expected "${TRAIN_LOG_FORMAT}" (the log of 'circuits train --json' or '--log')`);
  if (!isNums(json.loss)) fail("'loss' must be an array of finite numbers");
  if (!Array.isArray(json.evals)) fail("'evals' must be an array");
  (json.evals as unknown[]).forEach((e, k) => {
    if (!isObj(e)) return fail(`evals[${k}] is not an object`);
    for (const f of ["step", "firstCopy", "secondCopy", "icl", "maxPrevious", "maxInduction", "maxKComposition"]) {
      if (typeof e[f] !== "number" || !Number.isFinite(e[f])) fail(`evals[${k}].${f} must be a finite number`);
    }
    if (!isNums(e.lossByPosition)) fail(`evals[${k}].lossByPosition must be an array of finite numbers`);
    if (!Array.isArray(e.heads) || !e.heads.every((h) => isObj(h) && typeof h.id === "string" && ["previous", "duplicate", "induction"].every((f) => typeof h[f] === "number"))) {
      fail(`evals[${k}].heads must be an array of {id, previous, duplicate, induction}`);
    }
    if (k > 0 && !((e.step as number) > ((json.evals as Record<string, number>[])[k - 1]!.step))) fail(`evals[${k}].step does not increase`);
  });
  if (typeof json.bumpThreshold !== "number") fail("'bumpThreshold' must be a number");
  const phase = json.phase;
  if (phase !== null && !(isObj(phase) && isObj(phase.loss) && typeof phase.loss.start === "number" && typeof phase.loss.end === "number")) fail("'phase' must be null or hold loss.start and loss.end");
  const bump = json.bump;
  if (bump !== null && !(isObj(bump) && typeof bump.step === "number")) fail("'bump' must be null or hold a step");
  return json as unknown as TrainLog;
}

/** The series the page's charts draw (all arrays aligned with `steps` unless said). */
export interface TrainingView {
  readonly steps: readonly number[];
  /** Training loss at every step (x = 1 … n). */
  readonly loss: readonly number[];
  readonly firstCopy: readonly number[];
  readonly secondCopy: readonly number[];
  readonly icl: readonly number[];
  readonly maxPrevious: readonly number[];
  readonly maxInduction: readonly number[];
  readonly maxKComposition: readonly number[];
  /** Per head: its previous-token and induction score at each evaluation. */
  readonly heads: readonly { readonly id: string; readonly previous: readonly number[]; readonly induction: readonly number[] }[];
  /** Loss by token position at a few evaluations (first, last, around the phase change). */
  readonly byPosition: readonly { readonly step: number; readonly loss: readonly number[] }[];
  readonly bumpThreshold: number;
  readonly bump: number | null;
  readonly phase: { readonly start: number; readonly end: number } | null;
  readonly inductionWindow: { readonly start: number; readonly end: number } | null;
}

/** At most `n` evaluations for the by-position chart: evenly spread, always the first and last and the phase change's ends. */
function pickEvals(steps: readonly number[], n: number, keep: readonly number[]): number[] {
  const picked = new Set<number>();
  for (let k = 0; k < n; k++) picked.add(steps[Math.round((k * (steps.length - 1)) / Math.max(1, n - 1))]!);
  for (const s of keep) if (steps.includes(s)) picked.add(s);
  return [...picked].sort((a, b) => a - b);
}

/** The chart series of a log. */
export function trainingView(log: TrainLog): TrainingView {
  const ev = log.evals;
  const steps = ev.map((e) => e.step);
  const ids = ev.length ? ev[0]!.heads.map((h) => h.id) : [];
  const phase = log.phase ? { start: log.phase.loss.start, end: log.phase.loss.end } : null;
  const chosen = steps.length ? pickEvals(steps, 6, phase ? [phase.start, phase.end] : []) : [];
  return {
    steps,
    loss: log.loss,
    firstCopy: ev.map((e) => e.firstCopy),
    secondCopy: ev.map((e) => e.secondCopy),
    icl: ev.map((e) => e.icl),
    maxPrevious: ev.map((e) => e.maxPrevious),
    maxInduction: ev.map((e) => e.maxInduction),
    maxKComposition: ev.map((e) => e.maxKComposition),
    heads: ids.map((id) => ({
      id,
      previous: ev.map((e) => e.heads.find((h) => h.id === id)?.previous ?? 0),
      induction: ev.map((e) => e.heads.find((h) => h.id === id)?.induction ?? 0),
    })),
    byPosition: chosen.map((s) => ({ step: s, loss: ev[steps.indexOf(s)]!.lossByPosition })),
    bumpThreshold: log.bumpThreshold,
    bump: log.bump?.step ?? null,
    phase,
    inductionWindow: log.phase ? { start: log.phase.induction.start, end: log.phase.induction.end } : null,
  };
}

/** The section: chart containers the page fills, and the marks as text. */
export function trainingSection(v: TrainingView, path: string): string {
  const last = v.steps.length - 1;
  const marks = [
    v.phase
      ? `<li data-mark="phase" data-start="${v.phase.start}" data-end="${v.phase.end}"><span class="sw-band"></span> Phase change: the second-copy loss falls fastest in steps ${v.phase.start}–${v.phase.end}${v.inductionWindow ? `; the best induction score rises fastest in steps ${v.inductionWindow.start}–${v.inductionWindow.end}` : ""} (shaded).</li>`
      : `<li data-mark="phase" data-start="" data-end="">No phase change: the log has fewer than two evaluations.</li>`,
    v.bump !== null
      ? `<li data-mark="bump" data-step="${v.bump}"><span class="sw-line bump"></span> Bump: second-copy loss first below ½·ln V = ${fmt(v.bumpThreshold)} at step ${v.bump}.</li>`
      : `<li data-mark="bump" data-step="">No bump: the second-copy loss never fell below ½·ln V = ${fmt(v.bumpThreshold)}.</li>`,
  ];
  const tail = last >= 0 ? `<p>At step ${v.steps[last]}: first copy ${fmt(v.firstCopy[last])}, second copy ${fmt(v.secondCopy[last])}, ICL score ${fmt(v.icl[last])}, best previous-token ${fmt(v.maxPrevious[last])}, best induction ${fmt(v.maxInduction[last])}.</p>` : "";
  const chart = (id: string, title: string) => `<figure class="chart"><figcaption>${esc(title)}</figcaption><div class="chart-box" id="${id}"></div></figure>`;
  return section("training", "Training", [
    `<p class="path">${esc(path)}: ${v.loss.length} steps, ${v.steps.length} evaluations on the probe.</p>`,
    `<ul class="marks">${marks.join("")}</ul>`,
    tail,
    `<div class="charts">`,
    chart("chart-loss", "Loss over training: every step, and on the probe's first and second copy"),
    chart("chart-position", "Loss by token position at chosen steps (token k predicted at k − 1)"),
    chart("chart-icl", "In-context-learning score (loss late − loss early)"),
    chart("chart-heads", "Head scores over training: best previous-token, best induction, best K-composition, and each head's induction score"),
    `</div>`,
  ].join("\n"));
}
