/**
 * Decision lists: the heads of proofs/09 and proofs/10 seen from one query.
 *
 * Fix what a head's *ranking* may depend on (the query's class). Within one
 * class, a hard-attention head is a strict ranking of key values plus an
 * output table: on an input it attends to the highest-ranked key present and
 * outputs out(key, obs), where obs is what the key's value (and whatever
 * else the output may read) shows on that input. So a head is a decision
 * list "first key present decides". An *instance* is the set of inputs of
 * one class that have a defined answer, each with its present keys and their
 * observations.
 *
 * The greedy procedure adds any unused key whose covered remaining inputs are
 * *consistent* (equal obs ⇒ equal answer) and removes them. It is complete:
 * it gets stuck iff no head exists, whatever order it tries keys in (proof in
 * proofs/09-one-layer.md). When stuck, the remaining inputs are a
 * certificate: every key present among them covers two of them with equal
 * obs and different answers, so the first such key of any ranking errs.
 *
 * `bruteForce` decides the same question without the greedy lemma: an
 * exhaustive search over rankings, memoised on the set of keys already
 * ranked (which alone fixes what is still unclaimed).
 */

/** One query class: inputs 0 … items−1 with answers, and for each key the inputs where it is present. */
export interface Instance {
  readonly items: number;
  readonly keys: number;
  readonly answers: Int32Array; // [items]
  /** CSR: inputs with key k present are keyItem[keyStart[k] … keyStart[k+1]). */
  readonly keyStart: Int32Array; // [keys + 1]
  readonly keyItem: Int32Array;
  /** The observation at that key on that input (aligned with keyItem). */
  readonly keyObs: Int32Array;
  /** Observations lie in 0 … obsRange−1. */
  readonly obsRange: number;
}

/** Build an instance from per-input (key, obs) lists. */
export function makeInstance(
  keys: number, answers: readonly number[], present: readonly (readonly [key: number, obs: number][])[], obsRange: number,
): Instance {
  const items = answers.length;
  const count = new Int32Array(keys + 1);
  for (const ps of present) for (const [k] of ps) count[k + 1]!++;
  for (let k = 0; k < keys; k++) count[k + 1]! += count[k]!;
  const keyStart = Int32Array.from(count);
  const fill = Int32Array.from(count);
  const total = keyStart[keys]!;
  const keyItem = new Int32Array(total);
  const keyObs = new Int32Array(total);
  present.forEach((ps, x) => {
    for (const [k, o] of ps) {
      if (!(k >= 0 && k < keys)) throw new Error(`makeInstance: key ${k} out of range 0 … ${keys - 1}`);
      if (!(o >= 0 && o < obsRange)) throw new Error(`makeInstance: obs ${o} out of range 0 … ${obsRange - 1}`);
      const at = fill[k]!++;
      keyItem[at] = x;
      keyObs[at] = o;
    }
  });
  return { items, keys, answers: Int32Array.from(answers), keyStart, keyItem, keyObs, obsRange };
}

/** The instance restricted to some inputs (renumbered 0 … subset.length−1 in the given order). */
export function restrict(inst: Instance, subset: readonly number[]): Instance {
  const index = new Int32Array(inst.items).fill(-1);
  subset.forEach((x, i) => (index[x] = i));
  const present: [number, number][][] = subset.map(() => []);
  for (let k = 0; k < inst.keys; k++) {
    for (let a = inst.keyStart[k]!; a < inst.keyStart[k + 1]!; a++) {
      const i = index[inst.keyItem[a]!]!;
      if (i >= 0) present[i]!.push([k, inst.keyObs[a]!]);
    }
  }
  return makeInstance(inst.keys, subset.map((x) => inst.answers[x]!), present, inst.obsRange);
}

/** One line of a decision list: key → (obs → answer). */
export interface Rule {
  readonly key: number;
  readonly table: ReadonlyMap<number, number>;
}

export type GreedyResult =
  | { readonly solved: true; readonly rules: readonly Rule[] }
  | { readonly solved: false; readonly rules: readonly Rule[]; readonly stuck: readonly number[] };

/**
 * Checks "equal obs ⇒ equal answer" over a key's live inputs. A stamp array
 * indexed by obs when the range is small (no allocation per check), else a Map.
 */
class ConsistencyChecker {
  private readonly stamp: Int32Array | null;
  private readonly value: Int32Array | null;
  private round = 0;
  constructor(readonly inst: Instance) {
    const dense = inst.obsRange <= 1 << 22;
    this.stamp = dense ? new Int32Array(inst.obsRange) : null;
    this.value = dense ? new Int32Array(inst.obsRange) : null;
  }

  /** The rule for key k over the inputs with alive[x], or null if they disagree; covered counts the live inputs. */
  check(k: number, alive: Uint8Array, wantTable: boolean): { table: Map<number, number> | null; covered: number } | null {
    const { keyStart, keyItem, keyObs, answers } = this.inst;
    const lo = keyStart[k]!, hi = keyStart[k + 1]!;
    let covered = 0;
    if (this.stamp && this.value) {
      const r = ++this.round;
      const stamp = this.stamp, value = this.value;
      for (let a = lo; a < hi; a++) {
        const x = keyItem[a]!;
        if (!alive[x]) continue;
        covered++;
        const o = keyObs[a]!, ans = answers[x]!;
        if (stamp[o] !== r) {
          stamp[o] = r;
          value[o] = ans;
        } else if (value[o] !== ans) return null;
      }
    } else {
      const seen = new Map<number, number>();
      for (let a = lo; a < hi; a++) {
        const x = keyItem[a]!;
        if (!alive[x]) continue;
        covered++;
        const o = keyObs[a]!, ans = answers[x]!;
        const v = seen.get(o);
        if (v === undefined) seen.set(o, ans);
        else if (v !== ans) return null;
      }
    }
    if (!wantTable) return { table: null, covered };
    const table = new Map<number, number>();
    for (let a = lo; a < hi; a++) if (alive[keyItem[a]!]) table.set(keyObs[a]!, answers[keyItem[a]!]!);
    return { table, covered };
  }
}

/**
 * The greedy procedure. `order` is the order in which keys are tried each
 * round (default 0 … keys−1); any order gives the same verdict. Keys that
 * cover no live input are never added (they are harmless anywhere).
 */
export function greedy(inst: Instance, order?: readonly number[], initiallyAlive?: Uint8Array): GreedyResult {
  const alive = initiallyAlive ? Uint8Array.from(initiallyAlive) : new Uint8Array(inst.items).fill(1);
  let left = 0;
  for (let x = 0; x < inst.items; x++) left += alive[x]!;
  const used = new Uint8Array(inst.keys);
  const keyOrder = order ?? Array.from({ length: inst.keys }, (_, k) => k);
  const checker = new ConsistencyChecker(inst);
  const rules: Rule[] = [];
  while (left > 0) {
    let progressed = false;
    for (const k of keyOrder) {
      if (used[k]) continue;
      const r = checker.check(k, alive, true);
      if (!r || r.covered === 0) continue;
      used[k] = 1;
      rules.push({ key: k, table: r.table! });
      for (let a = inst.keyStart[k]!; a < inst.keyStart[k + 1]!; a++) {
        const x = inst.keyItem[a]!;
        if (alive[x]) {
          alive[x] = 0;
          left--;
        }
      }
      progressed = true;
      break;
    }
    if (!progressed) {
      const stuck: number[] = [];
      for (let x = 0; x < inst.items; x++) if (alive[x]) stuck.push(x);
      return { solved: false, rules, stuck };
    }
  }
  return { solved: true, rules };
}

/**
 * The certificate condition, checked directly: every key present in some
 * input of `subset` covers two inputs of it with equal obs and different
 * answers. Returns the first key for which that fails, or null (a valid
 * certificate, so no head is right on all of `subset`).
 */
export function certificateFailure(inst: Instance, subset: readonly number[]): { key: number } | null {
  if (subset.length === 0) return { key: -1 };
  const alive = new Uint8Array(inst.items);
  for (const x of subset) alive[x] = 1;
  const checker = new ConsistencyChecker(inst);
  for (let k = 0; k < inst.keys; k++) {
    const r = checker.check(k, alive, false);
    if (r && r.covered > 0) return { key: k };
  }
  return null;
}

/**
 * Shrink a certificate to an irreducible one: drop an input whenever the
 * rest is still unsolvable (then continue from the rest's own stuck set),
 * until dropping any single input makes it solvable. `rank` orders the
 * tries (inputs earlier in it are dropped first).
 */
export function minimiseCertificate(inst: Instance, certificate: readonly number[], rank?: (x: number) => number): number[] {
  let cur = [...certificate];
  const order = (xs: number[]) => (rank ? [...xs].sort((a, b) => rank(a) - rank(b)) : xs);
  let changed = true;
  while (changed) {
    changed = false;
    for (const x of order(cur)) {
      if (!cur.includes(x)) continue;
      const rest = cur.filter((y) => y !== x);
      const alive = new Uint8Array(inst.items);
      for (const y of rest) alive[y] = 1;
      const g = greedy(inst, undefined, alive);
      if (!g.solved) {
        cur = [...g.stuck];
        changed = true;
      }
    }
  }
  return cur;
}

/**
 * Exhaustive search over rankings of the keys present in `subset` (the
 * greedy lemma is not used): a ranking works iff each key's newly claimed
 * inputs are consistent. What is still unclaimed depends only on the set of
 * keys ranked so far, so failures are memoised on that set (≤ 2^present
 * states). Returns a working ranking, or null if none exists.
 */
export function bruteForce(inst: Instance, subset: readonly number[], maxKeys = 24): number[] | null {
  const inSub = new Uint8Array(inst.items);
  for (const x of subset) inSub[x] = 1;
  const present: number[] = [];
  for (let k = 0; k < inst.keys; k++) {
    for (let a = inst.keyStart[k]!; a < inst.keyStart[k + 1]!; a++) {
      if (inSub[inst.keyItem[a]!]) {
        present.push(k);
        break;
      }
    }
  }
  const P = present.length;
  if (P > maxKeys) throw new Error(`bruteForce: ${P} keys present, more than ${maxKeys}`);
  const failed = new Set<number>();
  const claimed = new Int32Array(inst.items); // how many ranked keys cover x (0 = unclaimed)
  let unclaimed = subset.length;
  const ranking: number[] = [];
  const search = (mask: number): boolean => {
    if (unclaimed === 0) return true;
    if (failed.has(mask)) return false;
    for (let i = 0; i < P; i++) {
      if (mask & (1 << i)) continue;
      const k = present[i]!;
      // Newly claimed inputs: in the subset, covered by k, unclaimed so far.
      const seen = new Map<number, number>();
      let ok = true;
      let fresh = 0;
      for (let a = inst.keyStart[k]!; a < inst.keyStart[k + 1]!; a++) {
        const x = inst.keyItem[a]!;
        if (!inSub[x] || claimed[x]) continue;
        fresh++;
        const o = inst.keyObs[a]!, ans = inst.answers[x]!;
        const v = seen.get(o);
        if (v === undefined) seen.set(o, ans);
        else if (v !== ans) ok = false;
      }
      if (!ok || fresh === 0) continue; // a key claiming nothing changes nothing: skip it here
      for (let a = inst.keyStart[k]!; a < inst.keyStart[k + 1]!; a++) {
        const x = inst.keyItem[a]!;
        if (inSub[x] && claimed[x]++ === 0) unclaimed--;
      }
      ranking.push(k);
      if (search(mask | (1 << i))) return true;
      ranking.pop();
      for (let a = inst.keyStart[k]!; a < inst.keyStart[k + 1]!; a++) {
        const x = inst.keyItem[a]!;
        if (inSub[x] && --claimed[x] === 0) unclaimed++;
      }
    }
    failed.add(mask);
    return false;
  };
  return search(0) ? ranking : null;
}
