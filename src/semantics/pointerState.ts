/**
 * The pointer half of the finite-state collapse (Theorem 7 in proofs/).
 *
 * A *pointer program* may hold positions, but only in a restricted way:
 * position-valued features are rebuilt at every position by copying the
 * built-in `pos` (never copied from another position's pointer), and a
 * position is compared only as `pos[j] == f[i] + c`, at most once per head.
 * Then every pointer at i is a table entry of a finite-key head (latest or
 * earliest of a token key), or i itself, plus an offset of at most R (the
 * *reach*), and a head reads only token values within R of such a base. So
 * the future of greedy generation is fixed by finitely much: the last W
 * positions' token features, and per head and key the features at
 * entry + d for |d| ≤ R (or, for an entry fewer than R positions back, just
 * that distance — the window holds the rest). `pointerStateKey` serialises
 * exactly that; proofs/07-pointers.md proves it is a state.
 */
import type { Head, Program } from "../lang/program.ts";
import type { SymbolicRun } from "./interpret.ts";

/** The reach R and window W of a pointer program (see the module comment). */
export interface PointerShape {
  /** Largest |offset| from a base (table entry or i) at which any head reads a position. */
  readonly reach: number;
  /** Positions of token features the state keeps: max(k_max, 2R + 1, 1). */
  readonly window: number;
  /** Heads with finite keys whose tables are state: latest/earliest matches with no position condition. */
  readonly tables: readonly string[];
}

const isPos = (program: Program, f: string): boolean => program.features.get(f)!.domain === "pos";

/** Why a program is not a pointer program (class P of Theorem 7), or null if it is. */
export function pointerObstacle(program: Program): string | null {
  for (const h of program.layers.flat()) {
    if (h.select.kind === "match" && h.select.rule !== "latest" && h.select.rule !== "earliest") {
      return `head '${h.name}' uses ${h.select.rule}: its counts grow without bound`;
    }
    const rebuilt = h.copies.find((c) => isPos(program, c.from) && c.from !== "pos");
    if (rebuilt) return `head '${h.name}' copies pointer '${rebuilt.from}' from another position (only pos[j] may be copied)`;
    if (h.select.kind !== "match") continue;
    const posConds = h.select.conditions.filter((c) => isPos(program, c.key));
    const keyed = posConds.find((c) => c.key !== "pos");
    if (keyed) return `head '${h.name}' compares pointer '${keyed.key}' on the key side (only pos[j] may be)`;
    if (posConds.length > 1) return `head '${h.name}' compares positions twice (two pointers against each other)`;
  }
  return null;
}

/** The position condition `pos[j] == f[i] + c` of a head, if it has one. */
function positionCondition(program: Program, h: Head) {
  return h.select.kind === "match" ? h.select.conditions.find((c) => isPos(program, c.key)) : undefined;
}

/** Reach, window and table heads of a pointer program (callers check `pointerObstacle` first). */
export function pointerShape(program: Program): PointerShape {
  // off(f): how far pointer f may lie from its base. pos itself is its own base (i).
  const off = new Map<string, number>([["pos", 0]]);
  let reach = 0;
  let kMax = 0;
  const tables: string[] = [];
  for (const h of program.layers.flat()) {
    const cond = positionCondition(program, h);
    let at: number;
    if (h.select.kind === "offset") {
      at = h.select.k;
      kMax = Math.max(kMax, h.select.k);
    } else if (cond) {
      at = off.get(cond.query)! + Math.abs(cond.shift);
      reach = Math.max(reach, at);
    } else {
      at = 0;
      tables.push(h.name);
    }
    for (const c of h.copies) if (c.from === "pos") off.set(c.to, at);
  }
  return { reach, window: Math.max(kMax, 2 * reach + 1, 1), tables };
}

/**
 * The state after the run's last position: token features of the last W
 * positions, and per table head its entries, each as `near` plus its distance
 * when fewer than R positions back, else `far` plus the token features at
 * entry − R … entry + R. Equal keys, equal futures (Theorem 7).
 */
export function pointerStateKey(run: SymbolicRun, shape: PointerShape): string {
  const program = run.program;
  const feats = [...program.features.values()].filter((f) => f.domain !== "pos").map((f) => f.name);
  const t = run.length - 1;
  const at = (q: number): string => (q >= 1 && q <= t ? feats.map((f) => run.value(f, q) ?? "_").join(",") : "~");
  const parts: string[] = [];
  for (let q = t - shape.window + 1; q <= t; q++) parts.push(at(q));
  for (const head of shape.tables) {
    const rows: string[] = [];
    for (const [key, e] of run.table(head)) {
      const o = t - e;
      if (o < shape.reach) rows.push(`${key}:n${o}`);
      else {
        const around: string[] = [];
        for (let d = -shape.reach; d <= shape.reach; d++) around.push(at(e + d));
        rows.push(`${key}:f${around.join("/")}`);
      }
    }
    parts.push(rows.sort().join(";"));
  }
  return parts.join("|");
}
