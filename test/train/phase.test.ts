import { describe, expect, it } from "vitest";
import type { EvalRecord } from "../../src/train/metrics.ts";
import { detectPhase, steepestWindow } from "../../src/train/phase.ts";

const ev = (step: number, secondCopy: number, maxInduction: number, maxKComposition: number): EvalRecord => ({
  step, loss: 0, lossByPosition: [], firstCopy: 0, secondCopy, icl: 0, heads: [], kComposition: [], maxPrevious: 0, maxInduction, maxKComposition,
});

describe("phase-change detection", () => {
  it("finds the window of steepest fall and rise", () => {
    const steps = [0, 50, 100, 150, 200, 250, 300];
    const ys = [4, 4, 3.9, 3.5, 1.5, 1.2, 1.1];
    expect(steepestWindow(steps, ys, 50, -1)).toEqual({ start: 150, end: 200, change: -2 });
    expect(steepestWindow(steps, ys, 100, -1)).toEqual({ start: 100, end: 200, change: -2.4 });
    expect(steepestWindow(steps, ys.map((y) => -y), 100, 1)!.start).toBe(100);
  });

  it("says whether head scores change in the loss's window", () => {
    const together = [ev(0, 4, 0.1, 0.1), ev(100, 4, 0.1, 0.1), ev(200, 1, 0.8, 0.4), ev(300, 1, 0.85, 0.4)];
    const p = detectPhase(together, 100)!;
    expect(p.loss).toMatchObject({ start: 100, end: 200 });
    expect(p.coincide).toBe(true);
    expect(p.induction.shareInLossWindow).toBeCloseTo(0.7 / 0.75);
    const apart = [ev(0, 4, 0.1, 0.1), ev(100, 4, 0.8, 0.4), ev(200, 1, 0.8, 0.4), ev(300, 1, 0.8, 0.4)];
    const q = detectPhase(apart, 100)!;
    expect(q.coincide).toBe(false);
    expect(q.induction).toMatchObject({ start: 0, end: 100, overlaps: false, shareInLossWindow: 0 });
    expect(detectPhase(together.slice(0, 1), 100)).toBeNull();
  });
});
