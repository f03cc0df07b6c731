/**
 * The reference semantics: the value of every feature at every position.
 *
 * The run is incremental — `push` appends one token and computes only the new
 * position, using per-head indexes from key value-tuple to the latest /
 * earliest position, the number of matches (`count`) or running sums
 * (`every`). So a whole sequence costs O(n · heads) map operations, not O(n²), and `pop` undoes a push
 * exactly, which lets exhaustive checks walk a prefix tree and generation
 * extend a run without recomputation.
 */
import type { Fraction } from "fraction.js";
import type { Head, Program } from "../lang/program.ts";
import { domainSize } from "../lang/program.ts";
import { type Dist, frac, type Value } from "./values.ts";

const NONE = -1;

interface Slot {
  readonly name: string;
  readonly distribution: boolean;
  readonly cat: Int32Array; // [C] domain index or NONE
  readonly dist: (Dist | null)[]; // [C]
}

interface EveryEntry {
  n: number;
  /** per copy: value → summed probability (a count, for categorical sources) */
  readonly sums: Map<number, Fraction>[];
}

interface HeadPlan {
  readonly head: Head;
  readonly keys: readonly Slot[];
  readonly queries: readonly Slot[];
  readonly shifts: readonly number[];
  readonly sizes: readonly number[];
  readonly srcs: readonly Slot[];
  readonly dsts: readonly Slot[];
  readonly index: Map<number | string, number | EveryEntry>;
}

/** Incremental symbolic run of a program; position 0 (BOS) exists from the start. */
export class SymbolicRun {
  private readonly slots = new Map<string, Slot>();
  private readonly plans: HeadPlan[] = [];
  private readonly undo: (() => void)[][] = [];
  private readonly tokens: number[] = [NONE];

  constructor(readonly program: Program) {
    const n = program.context;
    for (const f of program.features.values()) {
      this.slots.set(f.name, {
        name: f.name,
        distribution: f.distribution,
        cat: new Int32Array(n).fill(NONE),
        dist: f.distribution ? new Array<Dist | null>(n).fill(null) : [],
      });
    }
    for (const head of program.layers.flat()) {
      const conds = head.select.kind === "match" ? head.select.conditions : [];
      this.plans.push({
        head,
        keys: conds.map((c) => this.slot(c.key)),
        queries: conds.map((c) => this.slot(c.query)),
        shifts: conds.map((c) => c.shift),
        sizes: conds.map((c) => domainSize(program, program.features.get(c.key)!.domain)),
        srcs: head.copies.map((c) => this.slot(c.from)),
        dsts: head.copies.map((c) => this.slot(c.to)),
        index: new Map(),
      });
    }
  }

  private slot(name: string): Slot {
    return this.slots.get(name)!;
  }

  /** Number of positions, BOS included. */
  get length(): number {
    return this.tokens.length;
  }

  /** Token index at a position (null at BOS). */
  token(position: number): number | null {
    const t = this.tokens[position];
    return t === undefined || t === NONE ? null : t;
  }

  /** Append a token (a vocabulary index) and compute every feature at the new position. */
  push(token: number): void {
    const p = this.tokens.length;
    if (p >= this.program.context) {
      throw new Error(`sequence longer than the context: position ${p} ≥ context ${this.program.context}`);
    }
    if (!Number.isInteger(token) || token < 0 || token >= this.program.vocab.length) {
      throw new Error(`token index ${token} outside the vocabulary of ${this.program.vocab.length}`);
    }
    this.tokens.push(token);
    const log: (() => void)[] = [];
    this.undo.push(log);
    this.slot("token").cat[p] = token;
    this.slot("pos").cat[p] = p;
    for (const plan of this.plans) this.runHead(plan, p, log);
  }

  /** Remove the last pushed position, restoring every index to its earlier state. */
  pop(): void {
    if (this.tokens.length <= 1) throw new Error("pop: nothing to pop (only BOS left)");
    const log = this.undo.pop()!;
    for (let k = log.length - 1; k >= 0; k--) log[k]!();
    const p = this.tokens.length - 1;
    for (const s of this.slots.values()) {
      s.cat[p] = NONE;
      if (s.distribution) s.dist[p] = null;
    }
    this.tokens.pop();
  }

  /** A feature's value at a position. */
  value(feature: string, position: number): Value {
    const s = this.slots.get(feature);
    if (!s) throw new Error(`unknown feature '${feature}'`);
    if (s.distribution) return s.dist[position] ?? null;
    const v = s.cat[position]!;
    return v === NONE ? null : v;
  }

  /** The output feature at a position: the prediction for the next token. */
  prediction(position: number): Value {
    return this.value(this.program.output, position);
  }

  /** See the exported `stateKey`; callers must check `finiteStateObstacle` first. */
  stateKey(window: number): string {
    const p = this.tokens.length - 1;
    const feats = [...this.slots.values()].filter((s) => s.name !== "pos");
    const parts: string[] = [];
    for (let q = p - Math.max(1, window) + 1; q <= p; q++) {
      parts.push(feats.map((s) => (q >= 1 ? s.cat[q] : NONE)).join(","));
    }
    for (const plan of this.plans) {
      if (plan.head.select.kind !== "match") continue;
      const rows = [...plan.index].map(([k, j]) => `${k}:${plan.srcs.map((s) => s.cat[j as number]).join(",")}`);
      parts.push(rows.sort().join(";"));
    }
    return parts.join("|");
  }

  /**
   * A `latest`/`earliest` head's index as it stands: key value-tuple → the position it selects.
   * Keys are the run's own encoding (a mixed-radix number or a string), comparable between runs of one program.
   */
  table(head: string): ReadonlyMap<number | string, number> {
    const plan = this.plans.find((p) => p.head.name === head);
    if (!plan || plan.head.select.kind !== "match" || plan.head.select.rule === "every" || plan.head.select.rule === "count") {
      throw new Error(`table: '${head}' is not a latest/earliest head`);
    }
    return plan.index as ReadonlyMap<number | string, number>;
  }

  private keyAt(plan: HeadPlan, slots: readonly Slot[], p: number, shift: boolean): number | string | null {
    let key = 0;
    let parts: string | null = null;
    for (let c = 0; c < slots.length; c++) {
      let v = slots[c]!.cat[p]!;
      if (v === NONE) return null;
      if (shift) {
        v += plan.shifts[c]!;
        if (v < 0 || v >= plan.sizes[c]!) return null;
      }
      // Mixed-radix number while it stays exact; a string beyond that.
      if (parts === null && key * plan.sizes[c]! + v < Number.MAX_SAFE_INTEGER) key = key * plan.sizes[c]! + v;
      else parts = `${parts ?? key}|${v}`;
    }
    return parts ?? key;
  }

  private insertKey(plan: HeadPlan, j: number, log: (() => void)[]): void {
    const key = this.keyAt(plan, plan.keys, j, false);
    if (key === null || plan.head.select.kind !== "match") return;
    const idx = plan.index;
    const rule = plan.head.select.rule;
    if (rule === "latest") {
      const before = idx.get(key);
      idx.set(key, j);
      log.push(before === undefined ? () => idx.delete(key) : () => idx.set(key, before));
    } else if (rule === "earliest") {
      if (!idx.has(key)) {
        idx.set(key, j);
        log.push(() => idx.delete(key));
      }
    } else if (rule === "count") {
      const before = (idx.get(key) as number | undefined) ?? 0;
      idx.set(key, before + 1);
      log.push(before === 0 ? () => idx.delete(key) : () => idx.set(key, before));
    } else {
      let e = idx.get(key) as EveryEntry | undefined;
      if (!e) {
        e = { n: 0, sums: plan.srcs.map(() => new Map()) };
        idx.set(key, e);
      }
      const entry = e;
      entry.n++;
      const added = plan.srcs.map((src, c) => addInto(entry.sums[c]!, this.valueOf(src, j)));
      log.push(() => {
        entry.n--;
        added.forEach((undoAdd) => undoAdd());
        if (entry.n === 0) idx.delete(key);
      });
    }
  }

  private valueOf(s: Slot, p: number): Value {
    if (s.distribution) return s.dist[p] ?? null;
    const v = s.cat[p]!;
    return v === NONE ? null : v;
  }

  private write(s: Slot, p: number, v: Value): void {
    if (s.distribution) s.dist[p] = v === null ? null : typeof v === "number" ? new Map([[v, frac(1)]]) : v;
    else s.cat[p] = v === null ? NONE : (v as number);
  }

  private runHead(plan: HeadPlan, p: number, log: (() => void)[]): void {
    const sel = plan.head.select;
    if (sel.kind === "offset") {
      const j = p - sel.k;
      plan.srcs.forEach((src, c) => this.write(plan.dsts[c]!, p, j >= 1 ? this.valueOf(src, j) : null));
      return;
    }
    if (!sel.strict) this.insertKey(plan, p, log);
    const q = this.keyAt(plan, plan.queries, p, true);
    // latest/earliest index a position; a count's index holds m ≥ 1, the number of matching
    // candidates, and selects position m (1 ≤ m ≤ i) the same way. No entry: no match.
    const hit = q === null ? undefined : plan.index.get(q);
    if (hit === undefined) {
      for (const d of plan.dsts) this.write(d, p, null);
    } else if (typeof hit === "number") {
      plan.srcs.forEach((src, c) => this.write(plan.dsts[c]!, p, this.valueOf(src, hit)));
    } else {
      plan.dsts.forEach((d, c) => {
        const m = new Map<number, Fraction>();
        for (const [k, s] of hit.sums[c]!) if (s.n !== 0n) m.set(k, s.div(hit.n));
        this.write(d, p, m.size ? m : null);
      });
    }
    if (sel.strict) this.insertKey(plan, p, log);
  }
}

/** Add a value's mass into running sums; returns the exact inverse. */
function addInto(sums: Map<number, Fraction>, v: Value): () => void {
  if (v === null) return () => {};
  const items: [number, Fraction][] = typeof v === "number" ? [[v, frac(1)]] : [...v];
  for (const [k, p] of items) sums.set(k, (sums.get(k) ?? frac(0)).add(p));
  return () => {
    for (const [k, p] of items) {
      const left = sums.get(k)!.sub(p);
      if (left.n === 0n) sums.delete(k);
      else sums.set(k, left);
    }
  };
}

/** Run a program on a sequence of vocabulary indices (BOS is implicit). */
export function interpret(program: Program, tokens: readonly number[]): SymbolicRun {
  const run = new SymbolicRun(program);
  for (const t of tokens) run.push(t);
  return run;
}

/** Why a program is not finite-state under generation, or null if it is. */
export function finiteStateObstacle(program: Program): string | null {
  for (const h of program.layers.flat()) {
    if (h.select.kind === "match" && h.select.rule === "every") return `head '${h.name}' averages (every): its counts grow without bound`;
    if (h.select.kind === "match" && h.select.rule === "count") return `head '${h.name}' counts: its counts grow without bound`;
    const reads = [...h.copies.map((c) => c.from), ...(h.select.kind === "match" ? h.select.conditions.flatMap((c) => [c.key, c.query]) : [])];
    const pos = reads.find((f) => program.features.get(f)!.domain === "pos");
    if (pos) return `head '${h.name}' reads position-valued '${pos}': positions grow without bound`;
  }
  return null;
}

/**
 * A canonical key of everything that determines a run's future, for programs
 * whose heads are all positional or `latest`/`earliest` matches over finite
 * domains (Theorem 6 in proofs/): the features of the last w positions (w = the
 * longest offset, at least 1) and, per match head, the table "key tuple →
 * values copied at the position it selects". Positions themselves are not in
 * it: no head reads them. Two runs with equal keys continue identically.
 */
export function stateKey(run: SymbolicRun, window: number): string {
  return run.stateKey(window);
}
