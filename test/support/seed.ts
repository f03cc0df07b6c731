/**
 * One seed for every fast-check property, so a failing run can be replayed:
 * FC_SEED=<n> npx vitest run … uses seed n everywhere (default 1), and the
 * seed in use is printed once per test file.
 */
const DEFAULT_SEED = 1;

function readSeed(): number {
  const raw = process.env.FC_SEED;
  if (raw === undefined || raw === "") return DEFAULT_SEED;
  const n = Number(raw);
  if (!/^-?[0-9]+$/.test(raw) || !Number.isSafeInteger(n)) throw new Error(`FC_SEED must be an integer, got '${raw}'`);
  return n;
}

/** The fast-check seed of this run: FC_SEED, or 1. */
export const FC_SEED = readSeed();
let announced = false;

/** fast-check parameters `{ seed, numRuns, …extra }` with the run's seed; the first call prints the seed. */
export function fcParams<T extends object>(numRuns: number, extra?: T): { seed: number; numRuns: number } & T {
  if (!announced) {
    announced = true;
    process.stderr.write(`fast-check seed ${FC_SEED} (replay with FC_SEED=${FC_SEED})\n`);
  }
  return { seed: FC_SEED, numRuns, ...(extra ?? ({} as T)) };
}
