/**
 * Counterexample search for the lock-time bound beyond exhaustive reach
 * (proofs/03): seeded hill climbing on prompts to maximise the lock time,
 * and a greedy shrinker for any prompt that breaks a predicate (delete
 * tokens, then lower tokens, while the predicate still fails).
 */
import { mulberry32 } from "../../src/sim/random.ts";
import { analyse, IkMachine } from "./ik.ts";

/** Lock time of greedy I_k from a prompt. */
export function lockTimeOf(V: number, k: number, prompt: readonly number[]): number {
  return analyse(new IkMachine(V, k, prompt.length + 8 * (prompt.length + k + 2) + 64).pushAll(prompt), 0).lockTime;
}

export interface ClimbResult {
  readonly V: number;
  readonly k: number;
  readonly best: number[];
  readonly lockTime: number;
  readonly evaluations: number;
  /** Shrunk prompt with lock time > V^k − 1, if one was found. */
  readonly counterexample: number[] | null;
}

/**
 * Hill climbing: `restarts` random starts of length ≤ maxLen, each improved
 * by `iters` random mutations (change / insert / delete a token), keeping
 * a mutation when the lock time does not drop.
 */
export function climbLockTime(V: number, k: number, opts: { seed: number; restarts: number; iters: number; maxLen: number }): ClimbResult {
  const rand = mulberry32(opts.seed);
  const tok = () => Math.floor(rand() * V);
  let best: number[] = [];
  let bestLock = -1;
  let evaluations = 0;
  const bound = V ** k - 1;
  let counterexample: number[] | null = null;
  for (let s = 0; s < opts.restarts && !counterexample; s++) {
    let cur = Array.from({ length: 1 + Math.floor(rand() * opts.maxLen) }, tok);
    let curLock = lockTimeOf(V, k, cur);
    evaluations++;
    for (let it = 0; it < opts.iters; it++) {
      const next = [...cur];
      const op = rand();
      const at = Math.floor(rand() * (next.length + 1));
      if (op < 0.5 && next.length > 0) next[Math.min(at, next.length - 1)] = tok();
      else if (op < 0.75 && next.length < opts.maxLen) next.splice(at, 0, tok());
      else if (next.length > 1) next.splice(Math.min(at, next.length - 1), 1);
      const l = lockTimeOf(V, k, next);
      evaluations++;
      if (l >= curLock) {
        cur = next;
        curLock = l;
      }
      if (curLock > bestLock) {
        bestLock = curLock;
        best = [...cur];
      }
      if (curLock > bound) {
        counterexample = shrinkPrompt(cur, (p) => lockTimeOf(V, k, p) > bound);
        break;
      }
    }
  }
  return { V, k, best, lockTime: bestLock, evaluations, counterexample };
}

/** Greedy shrinking: delete tokens, then lower tokens, while `fails` still holds; returns a local minimum. */
export function shrinkPrompt(prompt: readonly number[], fails: (p: readonly number[]) => boolean): number[] {
  let cur = [...prompt];
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < cur.length; i++) {
      const del = [...cur.slice(0, i), ...cur.slice(i + 1)];
      if (fails(del)) {
        cur = del;
        changed = true;
        i--;
      }
    }
    for (let i = 0; i < cur.length; i++) {
      for (let t = 0; t < cur[i]!; t++) {
        const low = [...cur];
        low[i] = t;
        if (fails(low)) {
          cur = low;
          changed = true;
          break;
        }
      }
    }
  }
  return cur;
}
