/**
 * Probe sequences for reading a program out of weights, and the position
 * classes agreement is broken down by.
 *
 * Two kinds, both seeded: `[BOS] r r` (a random segment r repeated once, the
 * sequences that make induction visible: first copy vs second copy) and
 * uniform random sequences (where every head's selection is
 * exercised without repetition structure; classes are position ranges).
 * Tokens are vocabulary indices 0 … V−1; the model sees id v + 1 and BOS = 0.
 *
 * r holds distinct tokens whenever the vocabulary has enough of them: a token
 * that occurs twice in r has two earlier occurrences in the second copy, so
 * "the token after its earlier occurrence" is ambiguous there and no rule
 * (latest, earliest, every) is the right answer — with 31 uniform draws from
 * 64 tokens about 40 % of second-copy positions would be such positions.
 */
import { mulberry32 } from "../sim/random.ts";

/** One probe: vocabulary indices (BOS implicit) and the class of each position. */
export interface Probe {
  readonly kind: "repeat" | "uniform" | "given";
  readonly tokens: readonly number[];
  /** classes[p] for positions p = 0 … tokens.length (0 is BOS, never scored): an index into the class names. */
  readonly classes: Int32Array;
}

/** A probe set with the names its class indices refer to. */
export interface ProbeSet {
  readonly probes: readonly Probe[];
  readonly classNames: readonly string[];
}

/** How many probes of each kind, how long, over how many tokens. */
export interface ProbeOptions {
  /** Vocabulary size V (tokens 0 … V−1). */
  readonly vocab: number;
  /** Longest probe in tokens, BOS excluded (≤ context − 1). */
  readonly maxLength: number;
  /** `[BOS] r r` probes (default 32). */
  readonly repeats?: number;
  /** Uniform random probes (default 32). */
  readonly uniform?: number;
  readonly seed?: number;
}

export const FIRST_COPY = "first copy";
export const SECOND_COPY = "second copy";

/** Position ranges of uniform probes: 1, 2–3, 4–7, 8–15 … (powers of two). */
export function positionRangeName(p: number): string {
  let lo = 1;
  while (lo * 2 <= p) lo *= 2;
  const hi = lo * 2 - 1;
  return lo === hi ? `position ${lo}` : `positions ${lo}–${hi}`;
}

/** Collects class names in order of first use. */
export class ClassNames {
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  /** The index of a class name, adding it when new. */
  of(name: string): number {
    let k = this.index.get(name);
    if (k === undefined) {
      k = this.names.length;
      this.names.push(name);
      this.index.set(name, k);
    }
    return k;
  }
}

/** Seeded `[BOS] r r` and uniform probes (repeats first). */
export function makeProbes(o: ProbeOptions): ProbeSet {
  if (!(o.vocab >= 1)) throw new Error(`probes: the vocabulary is empty`);
  if (!(o.maxLength >= 1)) throw new Error(`probes: the context leaves no room for a token after BOS`);
  const rand = mulberry32(o.seed ?? 1);
  const draw = () => Math.floor(rand() * o.vocab);
  const names = new ClassNames();
  const probes: Probe[] = [];
  const half = Math.floor(o.maxLength / 2);
  for (let s = 0; s < (o.repeats ?? 32) && half >= 1; s++) {
    const r = half <= o.vocab ? distinct(half, o.vocab, rand) : Array.from({ length: half }, draw);
    const classes = new Int32Array(2 * half + 1).fill(-1);
    for (let p = 1; p <= 2 * half; p++) classes[p] = names.of(p <= half ? FIRST_COPY : SECOND_COPY);
    probes.push({ kind: "repeat", tokens: [...r, ...r], classes });
  }
  for (let s = 0; s < (o.uniform ?? 32); s++) {
    const tokens = Array.from({ length: o.maxLength }, draw);
    probes.push({ kind: "uniform", tokens, classes: uniformClasses(tokens.length, names) });
  }
  return { probes, classNames: names.names };
}

/** n distinct tokens of 0 … V−1 in random order (a partial Fisher–Yates shuffle). */
function distinct(n: number, V: number, rand: () => number): number[] {
  const pool = Array.from({ length: V }, (_, v) => v);
  for (let k = 0; k < n; k++) {
    const j = k + Math.floor(rand() * (V - k));
    [pool[k], pool[j]] = [pool[j]!, pool[k]!];
  }
  return pool.slice(0, n);
}

/** Class indices for a sequence classed by position range only. */
export function uniformClasses(length: number, names: ClassNames): Int32Array {
  const classes = new Int32Array(length + 1).fill(-1);
  for (let p = 1; p <= length; p++) classes[p] = names.of(positionRangeName(p));
  return classes;
}

/** Probes from given sequences (e.g. every sequence of a length), classed by exact position. */
export function givenProbes(sequences: readonly (readonly number[])[]): ProbeSet {
  const names = new ClassNames();
  const probes = sequences.map((tokens): Probe => {
    const classes = new Int32Array(tokens.length + 1).fill(-1);
    for (let p = 1; p <= tokens.length; p++) classes[p] = names.of(`position ${p}`);
    return { kind: "given", tokens, classes };
  });
  return { probes, classNames: names.names };
}
