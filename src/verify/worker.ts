/**
 * Worker-thread side of parallel exhaustive checks (run by piscina; through
 * tsx from the sources, plain Node from dist/): the model arrives once as
 * workerData, each task is one unit range of the prefix tree, and the answer
 * is that range's counts and the input of its first disagreement (the main
 * thread rebuilds the full report, so nothing that does not survive
 * structured cloning crosses back).
 */
import { workerData } from "node:worker_threads";
import type { CompiledModel } from "../compiler/compile.ts";
import { checkUnitRange } from "./check.ts";
import { checkClassRange, type ClassSplit, classSplit } from "./classes.ts";
import type { RangeTask, RangeTaskResult, WorkerModel } from "./parallel.ts";

const data = workerData as { model: WorkerModel };
// The layout arrives without its Space (a class instance); checking only reads
// layout.blocks, program, scales and weights (see toWorkerModel).
const model = data.model as unknown as CompiledModel;

// The class tree's split is rebuilt here (deterministic, small) rather than cloned into every task.
const classSplits = new Map<string, ClassSplit>();

export default function runRange(task: RangeTask): RangeTaskResult {
  if (task.symmetric) {
    const key = `${task.alphabet.length}/${task.split.maxLength}`;
    let cs = classSplits.get(key);
    if (!cs) classSplits.set(key, (cs = classSplit(task.alphabet.length, task.split.maxLength)));
    const r = checkClassRange(model, { maxLength: task.split.maxLength, alphabet: task.alphabet, precision: task.precision }, cs, task.lo, task.hi);
    return { sequences: r.sequences, disagreements: r.disagreements, firstInput: r.first ? [...r.first.tokens] : null, classes: r.classes, tie: r.tie };
  }
  const r = checkUnitRange(
    model,
    { maxLength: task.split.maxLength, alphabet: task.alphabet, precision: task.precision },
    task.split,
    task.lo,
    task.hi,
  );
  return { sequences: r.sequences, disagreements: r.disagreements, firstInput: r.first ? [...r.first.tokens] : null };
}
