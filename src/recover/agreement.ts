/**
 * Tallies of "does the program's prediction equal the model's greedy
 * prediction", overall and per position class. Positions where the program
 * predicts ⊥ are counted apart: nothing is claimed there.
 */

/** Agreement within one class of positions. */
export interface ClassAgreement {
  readonly class: string;
  /** Positions where the program predicts a token and the model predicts the same. */
  readonly agree: number;
  /** Positions where the program predicts a token. */
  readonly defined: number;
  /** Positions where the program predicts ⊥. */
  readonly none: number;
  /** agree / defined; null when never defined. */
  readonly fraction: number | null;
}

/** Agreement over all probes, and by class. */
export interface PredictionAgreement extends Omit<ClassAgreement, "class"> {
  /** All scored positions (defined + none). */
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
  constructor(private readonly classNames: readonly string[]) {
    this.agree = new Int32Array(classNames.length);
    this.defined = new Int32Array(classNames.length);
    this.none = new Int32Array(classNames.length);
  }

  /** Count one position: the program's value (−1 = ⊥) against the model's prediction. */
  add(cls: number, program: number, model: number): void {
    if (program < 0) this.none[cls]!++;
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
    const classes = this.classNames.map((name, k) => ({
      class: name,
      agree: this.agree[k]!,
      defined: this.defined[k]!,
      none: this.none[k]!,
      fraction: this.defined[k] ? this.agree[k]! / this.defined[k]! : null,
    }));
    const total = defined + none;
    return { agree, defined, none, fraction: defined ? agree / defined : null, total, explained: total ? agree / total : 0, classes };
  }
}
