/**
 * Predicting the loop of greedy generation without running the model.
 *
 * For a k-gram induction program I_k — one `latest` or `earliest` head whose
 * conjuncts say "the k tokens ending at j−1 equal the k tokens ending at i"
 * and which copies token[j] — the next token is a function of the last k
 * tokens and a *successor table* (k-gram → token after its latest / first
 * occurrence). We iterate that table map directly: a few dictionary look-ups
 * per step, no attention, no interpreter. When the pair (current k-gram,
 * table) repeats, the emitted stream is periodic from then on, so the cycle
 * is proved, not just observed; `minimalCycle` then reads off the exact μ, p.
 */
import type { Head, Program } from "../lang/program.ts";
import { type Cycle, minimalCycle } from "./cycles.ts";
import { FALLBACK_TOKEN, type NoneRule } from "./symbolic.ts";

export interface InductionShape {
  readonly k: number;
  readonly rule: "latest" | "earliest";
  /** `j < i` (strict) excludes the occurrence that ends right before i. */
  readonly strict: boolean;
  readonly head: string;
}

/** How far back (in positions) each token-valued feature copies the token stream, if it does. */
function tokenLags(program: Program): Map<string, number> {
  const lag = new Map<string, number>([["token", 0]]);
  for (const h of program.layers.flat()) {
    if (h.select.kind !== "offset") continue;
    for (const c of h.copies) {
      const l = lag.get(c.from);
      if (l !== undefined) lag.set(c.to, l + h.select.k);
    }
  }
  return lag;
}

/** Recognise a program as k-gram induction I_k, or null. */
export function asInduction(program: Program): InductionShape | null {
  const out = program.features.get(program.output);
  const head: Head | undefined = program.layers.flat().find((h) => h.name === out?.head);
  if (!head || head.select.kind !== "match" || head.select.rule === "every" || head.select.rule === "count") return null;
  if (head.copies.find((c) => c.to === program.output)?.from !== "token") return null;
  const lag = tokenLags(program);
  const conds = head.select.conditions;
  if (conds.length === 0) return null;
  const queryLags = new Set<number>();
  for (const c of conds) {
    const kl = lag.get(c.key);
    const ql = lag.get(c.query);
    if (kl === undefined || ql === undefined || c.shift !== 0 || kl !== ql + 1) return null;
    queryLags.add(ql);
  }
  const k = conds.length;
  for (let d = 0; d < k; d++) if (!queryLags.has(d)) return null;
  return { k, rule: head.select.rule, strict: head.select.strict, head: head.name };
}

export interface CyclePrediction {
  /** The proved eventual cycle of the emitted tokens; null when generation stops first. */
  readonly cycle: Cycle | null;
  /** The emitted tokens the table map predicts, up to the proof of the cycle. */
  readonly emitted: readonly number[];
  /** Steps emitted by the fallback rule (no match). */
  readonly fallbackSteps: number;
  /** Step of the first match (−1 if none before the cycle closed). */
  readonly firstMatch: number;
  /** Null unless generation stops on ⊥ ("stop" rule) before any cycle. */
  readonly stopsAt: number | null;
}

/** Predict greedy generation's cycle for I_k from a prompt (vocabulary indices). */
export function predictInductionCycle(shape: InductionShape, prompt: readonly number[], onNone: NoneRule = "fallback"): CyclePrediction {
  const { k, rule, strict } = shape;
  const seq = [...prompt];
  // table: k-gram ending at m → token at m + 1, over occurrences m whose successor exists.
  const table = new Map<string, number>();
  const gramAt = (m: number) => (m + 1 >= k ? seq.slice(m - k + 1, m + 1).join(",") : null);
  const record = (m: number) => {
    const g = gramAt(m);
    if (g === null || (rule === "earliest" && table.has(g))) return false;
    const before = table.get(g);
    table.set(g, seq[m + 1]!);
    return before !== seq[m + 1];
  };
  // The newest occurrence (ending at t−1) only becomes visible to a strict head one step late.
  const lagBehind = strict ? 2 : 1;
  const t0 = seq.length - 1;
  for (let m = 0; m <= t0 - lagBehind; m++) record(m);

  const emitted: number[] = [];
  const seen = new Map<string, number>();
  let fallbackSteps = 0;
  let firstMatch = -1;
  for (let step = 0; step < 1_000_000; step++) {
    const t = seq.length - 1;
    const g = t >= 0 ? gramAt(t) : null;
    // State = current k-gram (+ the pending occurrence a strict head cannot see yet) + table.
    // Before k tokens exist the k-gram is undefined; the length itself is then the state.
    const key = `${g ?? `short:${t}`}|${strict && t >= 1 ? gramAt(t - 1) : ""}`;
    const hit = g === null ? undefined : table.get(g);
    if (hit === undefined && onNone === "stop") {
      return { cycle: null, emitted, fallbackSteps, firstMatch, stopsAt: step };
    }
    const next = hit ?? FALLBACK_TOKEN;
    if (hit === undefined) fallbackSteps++;
    else if (firstMatch < 0) firstMatch = step;
    const prev = seen.get(key);
    if (prev !== undefined) {
      emitted.push(next);
      return { cycle: minimalCycle(emitted, prev, step - prev), emitted, fallbackSteps, firstMatch, stopsAt: null };
    }
    seen.set(key, step);
    emitted.push(next);
    seq.push(next);
    if (record(t + 1 - lagBehind)) seen.clear(); // the table changed: earlier states are not this state
  }
  throw new Error("predictInductionCycle: no cycle within 10⁶ steps (the theorem says this cannot happen)");
}
