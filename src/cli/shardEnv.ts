/**
 * `--shard auto`: which shard this process is, read from the job scheduler
 * that started it. A Kubernetes Indexed Job sets JOB_COMPLETION_INDEX
 * (0-based) but does not export the completion count, so the count comes
 * from CIRCUITS_SHARDS, which the manifest sets to the same number as
 * `completions`. A Slurm job array sets SLURM_ARRAY_TASK_ID, _COUNT, _MIN
 * (and _MAX, _STEP); the shard is ID − MIN, so `--array=1-8` works as well
 * as `--array=0-7`, and only contiguous arrays (step 1) are accepted: with
 * gaps, IDs would not number the shards 0 … COUNT−1.
 */
import type { ShardSpec } from "../verify/check.ts";
import { UsageError } from "./command.ts";

/** Largest shard count --shard auto accepts (the same as `circuits merge`). */
const MAX_AUTO_SHARDS = 1_000_000;

function whole(env: NodeJS.ProcessEnv, name: string, required: boolean): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") {
    if (required) throw new UsageError(`--shard auto: ${name} is not set`);
    return undefined;
  }
  if (!/^\d{1,9}$/.test(raw.trim())) throw new UsageError(`--shard auto: ${name} must be a whole number, got '${raw.slice(0, 40)}'`);
  return Number(raw.trim());
}

/** The shard (0-based) this process is, from a Kubernetes Indexed Job's or a Slurm job array's environment. */
export function shardFromEnv(env: NodeJS.ProcessEnv): ShardSpec {
  const k8s = env.JOB_COMPLETION_INDEX !== undefined;
  const slurm = env.SLURM_ARRAY_TASK_ID !== undefined;
  if (k8s && slurm) throw new UsageError("--shard auto: both JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID are set; give --shard i/N");
  let index: number;
  let count: number;
  if (k8s) {
    index = whole(env, "JOB_COMPLETION_INDEX", true)!;
    if (env.CIRCUITS_SHARDS === undefined || env.CIRCUITS_SHARDS === "") {
      throw new UsageError("--shard auto: JOB_COMPLETION_INDEX is set but CIRCUITS_SHARDS is not (an Indexed Job does not export its completions; set CIRCUITS_SHARDS to the same number)");
    }
    count = whole(env, "CIRCUITS_SHARDS", true)!;
  } else if (slurm) {
    const id = whole(env, "SLURM_ARRAY_TASK_ID", true)!;
    count = whole(env, "SLURM_ARRAY_TASK_COUNT", true)!;
    const min = whole(env, "SLURM_ARRAY_TASK_MIN", true)!;
    const max = whole(env, "SLURM_ARRAY_TASK_MAX", false);
    const step = whole(env, "SLURM_ARRAY_TASK_STEP", false);
    if ((step !== undefined && step !== 1) || (max !== undefined && max - min + 1 !== count)) {
      throw new UsageError(`--shard auto: the Slurm array must be contiguous (e.g. --array=0-${count - 1}); got ${count} tasks from ${min} to ${max ?? "?"}${step !== undefined ? ` step ${step}` : ""}`);
    }
    index = id - min;
  } else {
    throw new UsageError("--shard auto: set JOB_COMPLETION_INDEX and CIRCUITS_SHARDS (Kubernetes Indexed Job) or run in a Slurm job array (SLURM_ARRAY_TASK_ID, _COUNT, _MIN)");
  }
  if (!(count >= 1 && count <= MAX_AUTO_SHARDS)) throw new UsageError(`--shard auto: the shard count must be from 1 to ${MAX_AUTO_SHARDS}, got ${count}`);
  if (!(index >= 0 && index < count)) throw new UsageError(`--shard auto: shard index ${index} is outside 0 … ${count - 1}`);
  return { index, count };
}
