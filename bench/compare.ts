/**
 * Interleaved timing rounds: every contender (our paths, the numpy peer, the
 * PyTorch peers) runs one short round in turn, the order rotating each round,
 * so a burst of load from other work on the machine lands on all of them
 * rather than on whoever ran during it. A contender's figure is the median of
 * its per-round mean call time, with the min–max over rounds, and the
 * machine's 1-minute load average before and after the comparison.
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
  readonly error?: string;
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
  const perRound = new Map<Contender, number[]>(contenders.map((c) => [c, []]));
  const live = contenders.filter((c) => calls.has(c));
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < live.length; k++) {
      const c = live[(k + r) % live.length]!;
      if (errors.has(c)) continue;
      try {
        const xs = await c.round(calls.get(c)!);
        perRound.get(c)!.push(xs.reduce((a, b) => a + b, 0) / xs.length);
      } catch (e) {
        errors.set(c, (e as Error).message.split("\n")[0]!);
      }
    }
  }
  const out: Record<string, RoundFigure> = {};
  for (const c of contenders) {
    const xs = [...perRound.get(c)!].sort((a, b) => a - b);
    const err = errors.get(c);
    if (err !== undefined || xs.length === 0) {
      out[c.name] = { median: NaN, min: NaN, max: NaN, rounds: xs.length, callsPerRound: calls.get(c) ?? 0, error: err ?? "no rounds" };
      continue;
    }
    const n = xs.length;
    const median = n % 2 ? xs[(n - 1) / 2]! : (xs[n / 2 - 1]! + xs[n / 2]!) / 2;
    out[c.name] = { median, min: xs[0]!, max: xs[n - 1]!, rounds: n, callsPerRound: calls.get(c)! };
  }
  return out;
}
