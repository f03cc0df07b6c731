/**
 * Greedy/sampled generation from a compiled program's weights, speaking in
 * vocabulary indices like the symbolic generator, with the same ⊥ rule:
 * flat logits emit the first vocabulary token (or stop).
 */
import type { CompiledModel } from "../compiler/compile.ts";
import { BOS_ID, modelInput, modelVocabSize, tokenId, vocabIndices } from "../model/tokenIds.ts";
import { generate, type Generation } from "./generate.ts";
import type { Strategy } from "./strategy.ts";
import type { NoneRule } from "./symbolic.ts";

export interface CompiledGenerateOptions {
  readonly steps: number;
  readonly onNone?: NoneRule;
  /** Default greedy, with ties (within the compiler's decoding tolerance) to the lowest token. */
  readonly strategy?: Strategy;
  readonly kvCache?: boolean;
}

/** Generate from compiled weights; prompt and result are vocabulary indices. */
export function generateCompiled(model: CompiledModel, prompt: readonly number[], opts: CompiledGenerateOptions) {
  const { scales, program } = model;
  const V = program.vocab.length;
  const strategy: Strategy = opts.strategy ?? { kind: "greedy", tieTolerance: 2 * scales.logitScale * scales.distTolerance };
  const g: Generation = generate(model.weights, modelInput(prompt), {
    steps: opts.steps,
    strategy,
    kvCache: opts.kvCache,
    range: [tokenId(0), modelVocabSize(V)],
    // The decoder drops coordinates within the tolerance: below it, the output is ⊥,
    // whatever the strategy (sampling flat logits would draw from leakage noise).
    noneBelow: scales.logitScale * scales.distTolerance,
    onNone: opts.onNone ?? "fallback",
  });
  const generated = vocabIndices(g.generated);
  return { tokens: [...prompt, ...generated], generated, stopped: g.stopped, seconds: g.seconds };
}
