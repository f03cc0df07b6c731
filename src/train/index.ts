/** Training attention-only transformers: the public surface of src/train. */
export { train, trainThroughput, TRAIN_LOG_FORMAT, type TrainLog, type TrainOptions, type TrainProgress, type TrainResult } from "./loop.ts";
export { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "./config.ts";
export { type DataSpec, type DataSource, DataError, openSource, repeatSource, programSource, textSource, repeatLength } from "./data.ts";
export { type Checkpoint, CheckpointError, encodeCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export { type EvalRecord, iclTokens, Probe, PROBE_SEQUENCES } from "./metrics.ts";
export { detectPhase, steepestWindow, type PhaseReport, type Window } from "./phase.ts";
export { AdamW, DEFAULT_ADAMW, type AdamWConfig } from "./adamw.ts";
export { TrainEngine } from "./backward.ts";
export { initParams, initStd } from "./init.ts";
export { paramLayout, paramsFromWeights, paramsToWeights, zeroParams, type Params, type TrainShape, type TrainPrecision } from "./params.ts";
