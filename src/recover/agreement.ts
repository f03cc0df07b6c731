/**
 * Tallies of "does the program's prediction equal the model's greedy
 * prediction", overall and per position class. Positions where the program
 * predicts ⊥ are counted apart: nothing is claimed there. So are positions
 * where it predicts a distribution whose mode is tied: the semantics breaks
 * the tie toward the smaller index by convention, which is no claim about
 * which of the tied tokens a model should prefer.
 */
import type { Fraction, Value } from "../semantics/values.ts";

/** Agreement within one class of positions. */
export interface ClassAgreement {
  readonly class: string;
  /** Positions where the program predicts a token and the model predicts the same. */
  readonly agree: number;
  /** Positions where the program predicts a token. */
  readonly defined: number;
  /** Positions where the program predicts ⊥. */
  readonly none: number;
  /** Positions where the program predicts a tied distribution (not scored). */
  readonly ties: number;
  /** agree / defined; null when never defined. */
  readonly fraction: number | null;
}

/** Agreement over all probes, and by class. */
export interface PredictionAgreement extends Omit<ClassAgreement, "class"> {
  /** All positions (defined + none + ties). */
  readonly total: number;
  /** agree / total: the share of all the model's predictions the program explains. */
  readonly explained: number;
  readonly classes: readonly ClassAgreement[];
}

/** Counts per class, filled position by position. */
export class PredictionTally {
  private readonly agree: Int32Array;
  private readonly defined: Int32Array;
  private readonly none: Int32Array;
  private readonly ties: Int32Array;
  constructor(private readonly classNames: readonly string[]) {
    this.ties = new Int32Array(classNames.length);
    this.agree = new Int32Array(classNames.length);
    this.defined = new Int32Array(classNames.length);
    this.none = new Int32Array(classNames.length);
  }

  /** Count one position: the program's value (−1 = ⊥; `tied`: a tied mode) against the model's prediction. */
  add(cls: number, program: number, model: number, tied = false): void {
    if (program < 0) this.none[cls]!++;
    else if (tied) this.ties[cls]!++;
    else {
      this.defined[cls]!++;
      if (program === model) this.agree[cls]!++;
    }
  }

  /** Agreement of the positions counted so far. */
  result(): PredictionAgreement {
    const sum = (a: Int32Array) => a.reduce((x, y) => x + y, 0);
    const agree = sum(this.agree);
    const defined = sum(this.defined);
    const none = sum(this.none);
    const ties = sum(this.ties);
    const classes = this.classNames.map((name, k) => ({
      class: name,
      agree: this.agree[k]!,
      defined: this.defined[k]!,
      none: this.none[k]!,
      ties: this.ties[k]!,
      fraction: this.defined[k] ? this.agree[k]! / this.defined[k]! : null,
    }));
    const total = defined + none + ties;
    return { agree, defined, none, ties, fraction: defined ? agree / defined : null, total, explained: total ? agree / total : 0, classes };
  }
}

/** Whether a value is a distribution with more than one most likely value. */
export function isTied(v: Value): boolean {
  if (v === null || typeof v === "number") return false;
  let top: Fraction | null = null;
  let count = 0;
  for (const p of v.values()) {
    if (p.n === 0n) continue;
    const c = top === null ? 1 : p.compare(top);
    if (c > 0) {
      top = p;
      count = 1;
    } else if (c === 0) count++;
  }
  return count > 1;
}

