/**
 * Worker-thread side of proofs/run.ts's exhaustive runs (run by piscina,
 * loaded through tsx): one task = one prefix subtree, answered with its
 * ExhaustiveSummary (plain data, survives structured cloning).
 */
import { type ExhaustiveSummary, exhaustiveIk } from "./exhaustive.ts";

export interface IkTask {
  readonly V: number;
  readonly k: number;
  readonly maxLen: number;
  readonly prefix: readonly number[];
  readonly extra?: number;
}

export default function runTask(t: IkTask): ExhaustiveSummary {
  return exhaustiveIk(t.V, t.k, t.maxLen, { prefix: t.prefix, extra: t.extra });
}
