/**
 * Eventual cycles of token sequences: the pre-period μ and period p with
 * s[t] = s[t + p] for every t ≥ μ. From a finite run this can only be
 * *observed*, so a cycle counts only when its periodic tail shows at least
 * two full periods; otherwise the answer is honestly "none within N steps".
 */

export interface Cycle {
  /** Steps before the periodic part starts. */
  readonly prePeriod: number;
  readonly period: number;
}

export interface ObservedCycle extends Cycle {
  /** How many full periods the run shows after the pre-period. */
  readonly repetitions: number;
}

/**
 * The observed eventual cycle of a sequence, or null. Among periods whose
 * periodic tail shows ≥ minRepeats full periods, the one whose tail starts
 * earliest explains the most of the run (a short spurious repeat near the
 * end, like "… 1 1", starts late); ties go to the smallest period.
 */
export function findCycle(seq: readonly number[], minRepeats = 2): ObservedCycle | null {
  const n = seq.length;
  let best: ObservedCycle | null = null;
  for (let p = 1; p * minRepeats <= n; p++) {
    let m = n - p;
    while (m > 0 && seq[m - 1] === seq[m - 1 + p]) m--;
    if (n - m >= minRepeats * p && (best === null || m < best.prePeriod)) {
      best = { prePeriod: m, period: p, repetitions: Math.floor((n - m) / p) };
    }
  }
  return best;
}

/**
 * The exact minimal (μ, p) of an infinite sequence known to repeat with
 * period P from index s (so seq must hold at least s + P entries).
 */
export function minimalCycle(seq: readonly number[], s: number, P: number): Cycle {
  let p = P;
  for (let d = 1; d <= P; d++) {
    if (P % d !== 0) continue;
    let ok = true;
    for (let t = s; t < s + P && ok; t++) ok = seq[t] === seq[s + ((t - s + d) % P)];
    if (ok) {
      p = d;
      break;
    }
  }
  let mu = s;
  while (mu > 0 && seq[mu - 1] === seq[mu - 1 + p]) mu--;
  return { prePeriod: mu, period: p };
}
