/**
 * One place that seeds every fast-check property, so any run can be
 * replayed. Each `fc.assert` passes its parameters through `fcParams`:
 *
 * - FC_SEED unset: the property's own seed, or 1 where it names none — every
 *   run the same;
 * - FC_SEED=<integer>: that seed for every property (replay, or explore);
 * - FC_SEED=random: one seed drawn per test file and printed, to search
 *   further; a failure prints it, and FC_SEED=<it> replays the run.
 *
 * When FC_SEED is set, the seed in use is printed once per test file.
 */
import type { Parameters } from "fast-check";

const DEFAULT_SEED = 1;

/** The seed FC_SEED asks for, or null when it is unset. */
function seedFromEnv(): number | null {
  const raw = process.env.FC_SEED;
  if (raw === undefined || raw === "") return null;
  if (raw === "random") return Math.floor(Math.random() * 0x7fffffff);
  if (!/^-?[0-9]+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new Error(`FC_SEED must be an integer or 'random', got '${raw}'`);
  return Number(raw);
}

/** FC_SEED's seed for this test file, or null. */
export const FC_SEED = seedFromEnv();
let announced = false;

/** fast-check parameters with the run's seed: FC_SEED's if set, else `params.seed`, else 1. */
export function fcParams<T>(params: Parameters<T> = {}): Parameters<T> {
  if (FC_SEED === null) return { ...params, seed: params.seed ?? DEFAULT_SEED };
  if (!announced) {
    announced = true;
    process.stderr.write(`fast-check: FC_SEED=${FC_SEED} for every property of this file\n`);
  }
  return { ...params, seed: FC_SEED };
}
