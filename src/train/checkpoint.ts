/**
 * Training checkpoints: one safetensors file that is also an ordinary model
 * file (TransformerLens names, `loadWeights`, `circuits run/analyze` read it
 * unchanged) and holds what a resumed run needs to continue bit for bit.
 *
 * Tensors: the model's, plus
 *   train.adam_m, train.adam_v   AdamW's moments, flat, in the model tensors' order
 * (`loadWeights` skips every "train." tensor). Metadata (JSON values):
 *   format, config, tokens       as src/model/weightsFile.ts writes them
 *   training                     the TrainConfig
 *   step                         optimiser steps taken
 *   train_state                  { adamSteps, dataRng }: AdamW's step count, the data RNG's state word
 *   train_curves                 { loss: training loss per step, evals: EvalRecord[] }
 * Nothing in it depends on timing, so equal runs write equal bytes. A
 * sidecar `X.json` holds the same metadata but the curves, for people.
 */
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../model/atomicWrite.ts";
import { decodeSafetensors, encodeSafetensors } from "../model/safetensors.ts";
import type { Tensor } from "../model/weights.ts";
import { sidecarPath, WEIGHTS_FORMAT, weightsFromStateDict } from "../model/weightsFile.ts";
import type { TrainConfig } from "./config.ts";
import type { EvalRecord } from "./metrics.ts";
import { type Params, paramsFromWeights, paramsToWeights } from "./params.ts";
import { CircuitsError } from "../errors.ts";

/** Everything a checkpoint holds. */
export interface Checkpoint {
  readonly config: TrainConfig;
  readonly tokens: readonly string[];
  readonly params: Params;
  readonly adam: { readonly m: Params["data"]; readonly v: Params["data"]; readonly t: number };
  readonly step: number;
  readonly dataRng: number;
  readonly loss: readonly number[];
  readonly evals: readonly EvalRecord[];
}

/** A file that is not a usable checkpoint: one line. */
export class CheckpointError extends CircuitsError {
  override name = "CheckpointError";
  readonly kind = "data";
}

/** The safetensors bytes and sidecar of a checkpoint. */
export function encodeCheckpoint(c: Checkpoint): { bytes: Uint8Array; sidecar: Record<string, unknown> } {
  const weights = paramsToWeights(c.params);
  const tensors: [string, Tensor][] = c.params.entries.map((e) => [e.name, { shape: [...e.shape], data: c.params.data.subarray(e.offset, e.offset + e.size) }]);
  tensors.push(["train.adam_m", { shape: [c.adam.m.length], data: c.adam.m }], ["train.adam_v", { shape: [c.adam.v.length], data: c.adam.v }]);
  const state = { adamSteps: c.adam.t, dataRng: c.dataRng };
  const metadata: Record<string, string> = {
    format: WEIGHTS_FORMAT,
    config: JSON.stringify(weights.config),
    tokens: JSON.stringify(c.tokens),
    training: JSON.stringify(c.config),
    step: JSON.stringify(c.step),
    train_state: JSON.stringify(state),
    train_curves: JSON.stringify({ loss: c.loss, evals: c.evals }),
  };
  const sidecar = {
    format: WEIGHTS_FORMAT,
    config: weights.config,
    tokens: c.tokens,
    training: c.config,
    step: c.step,
    train_state: state,
    tensors: Object.fromEntries(tensors.map(([n, t]) => [n, [...t.shape]])),
  };
  return { bytes: encodeSafetensors(tensors, metadata), sidecar };
}

/** Write a checkpoint and its sidecar, each atomically. */
export function saveCheckpoint(path: string, c: Checkpoint): void {
  const side = sidecarPath(path);
  const { bytes, sidecar } = encodeCheckpoint(c);
  writeFileAtomic(path, bytes);
  writeFileAtomic(side, `${JSON.stringify(sidecar, null, 2)}\n`);
}

/** Read a checkpoint written by saveCheckpoint; CheckpointError for anything else. */
export function loadCheckpoint(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new CheckpointError(`cannot read checkpoint '${path}'`);
  }
  const where = `${path}`;
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (e) {
    throw new CheckpointError(`${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const { tensors, metadata } = decoded;
  for (const key of ["training", "step", "train_state", "train_curves", "tokens"]) {
    if (metadata[key] === undefined) throw new CheckpointError(`${where}: not a training checkpoint (no "${key}" metadata)`);
  }
  const parse = <T>(key: string): T => {
    try {
      return JSON.parse(metadata[key]) as T;
    } catch {
      throw new CheckpointError(`${where}: metadata "${key}" is not valid JSON`);
    }
  };
  const config = parse<TrainConfig>("training");
  const state = parse<{ adamSteps: number; dataRng: number }>("train_state");
  const curves = parse<{ loss: number[]; evals: EvalRecord[] }>("train_curves");
  const model = new Map([...tensors].filter(([n]) => !n.startsWith("train.")));
  let params: Params;
  try {
    const weights = weightsFromStateDict(model, parse<object>("config"), where);
    const data = tensors.get("embed.W_E")!.data;
    params = paramsFromWeights(weights, config.bias, data instanceof Float32Array ? "float32" : "float64");
  } catch (e) {
    throw new CheckpointError(e instanceof Error ? e.message : String(e));
  }
  const m = tensors.get("train.adam_m");
  const v = tensors.get("train.adam_v");
  const n = params.data.length;
  if (!m || !v || m.data.length !== n || v.data.length !== n || m.data.constructor !== params.data.constructor || v.data.constructor !== params.data.constructor) {
    throw new CheckpointError(`${where}: optimiser state train.adam_m / train.adam_v missing or not ${n} values of the model's precision`);
  }
  return {
    config,
    tokens: parse<string[]>("tokens"),
    params,
    adam: { m: m.data, v: v.data, t: state.adamSteps },
    step: parse<number>("step"),
    dataRng: state.dataRng,
    loss: curves.loss,
    evals: curves.evals.map(withBlockField),
  };
}

/** Checkpoints written before heads were placed by `block` (0-based) named the field `layer`; read both. */
function withBlockField(e: EvalRecord): EvalRecord {
  type Head = EvalRecord["heads"][number];
  const heads = e.heads.map((h): Head => {
    const old = h as Head & { readonly layer?: number };
    if (old.block !== undefined || old.layer === undefined) return h;
    const { layer, ...rest } = old;
    return { ...rest, block: layer };
  });
  return { ...e, heads };
}
