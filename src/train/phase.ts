/**
 * Finding the phase change in the evaluation curves: the window of steps
 * (of a fixed width) over which the second-copy loss falls the most, and
 * the windows over which the head scores (best induction score, best
 * layer-0 → layer-1 K-composition) rise the most — and whether those
 * coincide with the loss's window.
 */
import type { EvalRecord } from "./metrics.ts";

/** A window of the curve: from one evaluation to a later one. */
export interface Window {
  readonly start: number;
  readonly end: number;
  /** The curve's change over the window (negative for a fall). */
  readonly change: number;
}

/** The phase-change report. */
export interface PhaseReport {
  /** Width of the windows compared, in steps. */
  readonly windowSteps: number;
  /** Where the second-copy loss falls fastest. */
  readonly loss: Window;
  /** Where the best induction score rises fastest, and its rise inside the loss window as a share of its whole rise. */
  readonly induction: Window & { readonly overlaps: boolean; readonly shareInLossWindow: number };
  /** The same for the best layer-0 → layer-1 K-composition score. */
  readonly kComposition: Window & { readonly overlaps: boolean; readonly shareInLossWindow: number };
  /** Both head scores change most in windows overlapping the loss's. */
  readonly coincide: boolean;
}

/**
 * The window (start eval a, end eval b: the first with step ≥ step_a + width)
 * that maximises sign·(y_b − y_a); null with fewer than two evaluations.
 */
export function steepestWindow(steps: readonly number[], ys: readonly number[], width: number, sign: 1 | -1): Window | null {
  let best: Window | null = null;
  for (let a = 0; a < steps.length - 1; a++) {
    let b = a + 1;
    while (b < steps.length - 1 && steps[b] - steps[a] < width) b++;
    const change = ys[b] - ys[a];
    if (!best || sign * change > sign * best.change) best = { start: steps[a], end: steps[b], change };
    if (steps[b] - steps[a] < width) break; // the rest are shorter windows at the end of the run
  }
  return best;
}

/** The phase change of a run's evaluations, or null with fewer than two. */
export function detectPhase(evals: readonly EvalRecord[], windowSteps: number): PhaseReport | null {
  if (evals.length < 2) return null;
  const steps = evals.map((e) => e.step);
  const loss = steepestWindow(steps, evals.map((e) => e.secondCopy), windowSteps, -1)!;
  const scoreWindow = (ys: number[]) => {
    const w = steepestWindow(steps, ys, windowSteps, 1)!;
    const overlaps = w.start < loss.end && loss.start < w.end;
    const at = (s: number) => ys[steps.indexOf(s)];
    const total = Math.max(...ys) - Math.min(...ys);
    const shareInLossWindow = total > 0 ? (at(loss.end) - at(loss.start)) / total : 0;
    return { ...w, overlaps, shareInLossWindow };
  };
  const induction = scoreWindow(evals.map((e) => e.maxInduction));
  const kComposition = scoreWindow(evals.map((e) => e.maxKComposition));
  return { windowSteps, loss, induction, kComposition, coincide: induction.overlaps && kComposition.overlaps };
}
