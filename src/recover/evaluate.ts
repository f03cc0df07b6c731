/**
 * The reference semantics of the search space's programs, fast: feature
 * values as typed arrays per probe, each head computed once and shared by
 * every candidate built on it (keyed by what it computes, not by its name).
 *
 * It computes what src/semantics/interpret.ts computes for these programs
 * (test/recover/evaluate.test.ts checks every feature against it), with two
 * simplifications the space allows: features hold token indices (−1 = ⊥),
 * and a distribution (written by an `every` head) is kept as its mode —
 * exact, because in the space a distribution is only ever moved (copied by
 * an offset, latest or earliest head) or output, never averaged again, and
 * moving commutes with taking the mode. `every` counts are integers, so the
 * mode (ties to the smaller index, as `mode` does) is exact too, and whether
 * the mode is tied is tracked beside it (a tie is a convention of the
 * semantics, not a prediction a model can be held to).
 */
import { TargetsBuilder, type Targets } from "./attentionMatch.ts";
import type { Candidate, FeatureRef, HeadSpec } from "./space.ts";

const NONE = -1;

/** Per-probe arrays of one feature: values[p] for p = 0 … T−1 (BOS = ⊥). */
export type FeatureValues = readonly Int32Array[];

/** A head's values and its selections on every probe. */
interface HeadRun {
  readonly values: FeatureValues;
  /** ties[s][p] = 1 where the value is a distribution whose mode is tied; null when never. */
  readonly ties: readonly Uint8Array[] | null;
  readonly targets: readonly Targets[];
}

/** Evaluates candidates on fixed probes, memoising heads by what they compute. */
export class SpaceEvaluator {
  private readonly token: Int32Array[];
  private readonly memo = new Map<string, HeadRun>();
  private readonly selMemo = new Map<string, readonly Targets[]>();
  // Scratch tables reused across heads: key tuple → position, or (key tuple, value) → count.
  private table = new Int32Array(0);
  private counts = new Int32Array(0);
  private best = new Int32Array(0);
  private bestCount = new Int32Array(0);
  private tieCount = new Int32Array(0);
  private lists: number[][] = [];

  /** `probes`: token sequences (vocabulary indices, BOS implicit); `vocab`: V. */
  constructor(probes: readonly (readonly number[])[], readonly vocab: number) {
    this.token = probes.map((t) => Int32Array.from([NONE, ...t]));
  }

  /** The signature of feature f of a candidate: equal signatures, equal values. */
  featureSig(c: Candidate, f: FeatureRef): string {
    return f === 0 ? "t" : this.headSig(c, f - 1);
  }

  /** The signature of head k's selection (what it attends to, whatever it copies). */
  selectSig(c: Candidate, k: number): string {
    const s = c.heads[k]!.select;
    if (s.kind === "offset") return `o${s.k}`;
    return `${s.rule}${s.strict ? "<" : "<="}(${s.conds.map(([a, b]) => `${this.featureSig(c, a)}=${this.featureSig(c, b)}`).join("&")})`;
  }

  /** The signature of head k (its selection and the copied feature). */
  headSig(c: Candidate, k: number): string {
    return `${this.selectSig(c, k)}→${this.featureSig(c, c.heads[k]!.source)}`;
  }

  /** Values of feature f on every probe. */
  values(c: Candidate, f: FeatureRef): FeatureValues {
    return f === 0 ? this.token : this.run(c, f - 1).values;
  }

  /** Where feature f's value is a tied mode, per probe; null when it never can be. */
  ties(c: Candidate, f: FeatureRef): readonly Uint8Array[] | null {
    return f === 0 ? null : this.run(c, f - 1).ties;
  }

  /** Head k's selected positions on every probe. */
  targets(c: Candidate, k: number): readonly Targets[] {
    const sig = this.selectSig(c, k);
    const hit = this.selMemo.get(sig);
    if (hit) return hit;
    return this.run(c, k).targets;
  }

  /** Forget heads that are not read by others (keeps memory flat over a long enumeration). */
  forget(c: Candidate, k: number): void {
    this.memo.delete(this.headSig(c, k));
  }

  private run(c: Candidate, k: number): HeadRun {
    const sig = this.headSig(c, k);
    let r = this.memo.get(sig);
    if (!r) {
      r = this.compute(c, c.heads[k]!);
      this.memo.set(sig, r);
      if (!this.selMemo.has(this.selectSig(c, k))) this.selMemo.set(this.selectSig(c, k), r.targets);
    }
    return r;
  }

  private compute(c: Candidate, h: HeadSpec): HeadRun {
    const src = this.values(c, h.source);
    const srcTies = this.ties(c, h.source);
    const conds = h.select.kind === "match" ? h.select.conds : [];
    const keys = conds.map(([key]) => this.values(c, key));
    const queries = conds.map(([, query]) => this.values(c, query));
    const values: Int32Array[] = [];
    const targets: Targets[] = [];
    const every = h.select.kind === "match" && h.select.rule === "every";
    const ties: Uint8Array[] | null = every || srcTies ? [] : null;
    for (let s = 0; s < this.token.length; s++) {
      const r = this.probe(h, src[s]!, srcTies?.[s] ?? null, keys.map((v) => v[s]!), queries.map((v) => v[s]!));
      values.push(r.values);
      targets.push(r.targets);
      ties?.push(r.ties);
    }
    return { values, ties, targets };
  }

  /** Mixed-radix key tuple of position p, or NONE when a component is ⊥. */
  private tuple(cols: readonly Int32Array[], p: number): number {
    let key = 0;
    for (const col of cols) {
      const v = col[p]!;
      if (v === NONE) return NONE;
      key = key * this.vocab + v;
    }
    return key;
  }

  private ensure(size: number, withCounts: boolean): void {
    if (this.table.length < size) {
      this.table = new Int32Array(size).fill(NONE);
      this.best = new Int32Array(size);
      this.bestCount = new Int32Array(size);
      this.tieCount = new Int32Array(size);
      this.lists = Array.from({ length: size }, () => []);
    }
    if (withCounts && this.counts.length < size * this.vocab) this.counts = new Int32Array(size * this.vocab);
  }

  private probe(h: HeadSpec, src: Int32Array, srcTies: Uint8Array | null, keys: readonly Int32Array[], queries: readonly Int32Array[]) {
    const T = src.length;
    const out = new Int32Array(T).fill(NONE);
    const tie = new Uint8Array(T);
    const b = new TargetsBuilder(T);
    b.next();
    const sel = h.select;
    if (sel.kind === "offset") {
      for (let i = 1; i < T; i++) {
        const j = i - sel.k;
        if (j >= 1) {
          out[i] = src[j]!;
          if (srcTies) tie[i] = srcTies[j]!;
          b.add(j);
        }
        b.next();
      }
      return { values: out, ties: tie, targets: b.done() };
    }
    const V = this.vocab;
    const size = V ** keys.length;
    const every = sel.rule === "every";
    this.ensure(size, every);
    const touched: number[] = [];
    const insert = (j: number) => {
      const key = this.tuple(keys, j);
      if (key === NONE) return;
      if (every) {
        if (this.lists[key]!.length === 0) {
          touched.push(key);
          this.best[key] = NONE;
          this.bestCount[key] = 0;
          this.tieCount[key] = 0;
        }
        this.lists[key]!.push(j);
        const v = src[j]!;
        if (v !== NONE) {
          const n = ++this.counts[key * V + v]!;
          // Counts only grow, so the running mode and its multiplicity stay exact.
          if (n > this.bestCount[key]!) {
            this.best[key] = v;
            this.bestCount[key] = n;
            this.tieCount[key] = 1;
          } else if (n === this.bestCount[key]!) {
            this.tieCount[key]!++;
            if (v < this.best[key]!) this.best[key] = v;
          }
        }
      } else if (sel.rule === "latest" || this.table[key] === NONE) {
        if (this.table[key] === NONE) touched.push(key);
        this.table[key] = j;
      }
    };
    for (let i = 1; i < T; i++) {
      if (!sel.strict) insert(i);
      const q = this.tuple(queries, i);
      if (q !== NONE) {
        if (every) {
          const list = this.lists[q]!;
          if (list.length) {
            out[i] = this.best[q]!;
            tie[i] = this.tieCount[q]! > 1 ? 1 : 0;
            for (const j of list) b.add(j);
          }
        } else if (this.table[q] !== NONE) {
          const j = this.table[q]!;
          out[i] = src[j]!;
          if (srcTies) tie[i] = srcTies[j]!;
          b.add(j);
        }
      }
      if (sel.strict) insert(i);
      b.next();
    }
    for (const key of touched) {
      this.table[key] = NONE;
      if (every) {
        for (const j of this.lists[key]!) if (src[j] !== NONE) this.counts[key * V + src[j]!] = 0;
        this.lists[key] = [];
      }
    }
    return { values: out, ties: tie, targets: b.done() };
  }
}
