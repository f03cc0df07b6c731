/**
 * Interleaved timing rounds: every contender (our paths, the numpy peer, the
 * PyTorch peers) runs one short round in turn, the order rotating each round,
 * so a burst of load from other work on the machine lands on all of them
 * rather than on whoever ran during it. A contender's figure is the median of
 * its per-round mean call time, with the min–max over rounds, and the
 * machine's 1-minute load average before and after the comparison; a ratio
 * of two contenders is taken round by round (pairedRatio).
 */
import { loadavg } from "node:os";
import type { Peer } from "./peers.ts";

/** Something timed in rounds: warm() returns the seconds of one warm call. */
export interface Contender {
  readonly name: string;
  warm(): Promise<number>;
  /** Seconds of each of n calls. */
  round(n: number): Promise<number[]>;
}

/** Per-call seconds over rounds (each round's value: mean of its calls), or why there is none. */
export interface RoundFigure {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly rounds: number;
  readonly callsPerRound: number;
  /** The per-round values in round order (NaN for a round it did not finish): for ratios paired by round. */
  readonly byRound: readonly number[];
  readonly error?: string;
}

/** A paired ratio: over the rounds both contenders finished, the median of (theirs ÷ ours) and its quartiles. */
export interface PairedRatio {
  readonly median: number;
  readonly q1: number;
  readonly q3: number;
  readonly rounds: number;
}

/**
 * How many times faster `ours` is than `theirs`, round by round: each round's
 * ratio compares two figures taken within about a second of each other, so a
 * slow spell of the machine longer than that cancels out of it, where it
 * need not cancel out of a ratio of two medians. Null without common rounds.
 */
export function pairedRatio(ours: RoundFigure, theirs: RoundFigure): PairedRatio | null {
  const xs: number[] = [];
  const n = Math.min(ours.byRound.length, theirs.byRound.length);
  for (let r = 0; r < n; r++) {
    const x = theirs.byRound[r]! / ours.byRound[r]!;
    if (Number.isFinite(x)) xs.push(x);
  }
  if (xs.length === 0) return null;
  xs.sort((a, b) => a - b);
  return { median: quantile(xs, 0.5), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75), rounds: xs.length };
}

/** The q-quantile of sorted xs, interpolating between neighbours. */
function quantile(xs: readonly number[], q: number): number {
  const at = q * (xs.length - 1), i = Math.floor(at);
  return i + 1 < xs.length ? xs[i]! + (at - i) * (xs[i + 1]! - xs[i]!) : xs[i]!;
}

/** Load average (1 minute) around a measurement. */
export interface Load {
  readonly before: number;
  readonly after: number;
}

/** The machine's 1-minute load average now. */
export const load1 = (): number => loadavg()[0]!;

/** Run fn and record the 1-minute load before and after it. */
export async function withLoad<T>(fn: () => Promise<T> | T): Promise<{ value: T; load: Load }> {
  const before = load1();
  const value = await fn();
  return { value, load: { before, after: load1() } };
}

/** Our own code as a contender: warm-up calls (≥ 0.1 s, ≥ 2), then timed rounds. */
export function ours(name: string, fn: () => void): Contender {
  const time = (n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      fn();
      out.push((performance.now() - t0) / 1000);
    }
    return out;
  };
  return {
    name,
    async warm() {
      const w0 = performance.now();
      for (let i = 0; i < 200 && (i < 2 || performance.now() - w0 < 100); i++) fn();
      return Math.min(...time(2));
    },
    async round(n) {
      return time(n);
    },
  };
}

/** A case loaded into a peer process (weights file + token batch under `id`). */
export function peerCase(name: string, peer: Peer, id: string, load: { weights: string; dtype: string; tokens: readonly (readonly number[])[] }): Contender {
  return {
    name,
    async warm() {
      const r = await peer.request<{ warm_seconds: number[] }>({ op: "load", id, ...load });
      if (r.error !== undefined) throw new Error(r.error);
      return Math.min(...r.warm_seconds);
    },
    async round(n) {
      const r = await peer.request<{ seconds: number[] }>({ op: "round", id, n });
      if (r.error !== undefined) throw new Error(r.error);
      return r.seconds;
    },
  };
}

export interface InterleaveOptions {
  readonly rounds: number;
  /** Aim for rounds of about this many seconds per contender (at least one call). */
  readonly roundSeconds: number;
}

/** Time every contender in interleaved rounds; a contender that fails gets an error instead of times. */
export async function interleave(contenders: readonly Contender[], opts: InterleaveOptions): Promise<Record<string, RoundFigure>> {
  const calls = new Map<Contender, number>();
  const errors = new Map<Contender, string>();
  for (const c of contenders) {
    try {
      const t = await c.warm();
      calls.set(c, Math.max(1, Math.min(2000, Math.round(opts.roundSeconds / Math.max(t, 1e-7)))));
    } catch (e) {
      errors.set(c, (e as Error).message.split("\n")[0]!);
    }
  }
  const perRound = new Map<Contender, number[]>(contenders.map((c) => [c, Array<number>(opts.rounds).fill(NaN)]));
  const live = contenders.filter((c) => calls.has(c));
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < live.length; k++) {
      const c = live[(k + r) % live.length]!;
      if (errors.has(c)) continue;
      try {
        const xs = await c.round(calls.get(c)!);
        perRound.get(c)![r] = xs.reduce((a, b) => a + b, 0) / xs.length;
      } catch (e) {
        errors.set(c, (e as Error).message.split("\n")[0]!);
      }
    }
  }
  const out: Record<string, RoundFigure> = {};
  for (const c of contenders) {
    const byRound = perRound.get(c)!;
    const xs = byRound.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    const err = errors.get(c);
    if (err !== undefined || xs.length === 0) {
      out[c.name] = { median: NaN, min: NaN, max: NaN, rounds: xs.length, callsPerRound: calls.get(c) ?? 0, byRound, error: err ?? "no rounds" };
      continue;
    }
    const n = xs.length;
    out[c.name] = { median: quantile(xs, 0.5), min: xs[0]!, max: xs[n - 1]!, rounds: n, callsPerRound: calls.get(c)!, byRound };
  }
  return out;
}
