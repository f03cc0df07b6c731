/**
 * The one rule that maps a program's vocabulary onto a model's token ids:
 * BOS is id 0 and sits at position 0; vocabulary index v is id v + 1. Compiled
 * models are built this way, trained models learn on it, and every stage that
 * crosses between vocabulary indices (the semantics, programs, probes) and
 * model ids (weights, the simulator, logits) goes through these functions, so
 * the rule can be read — and changed — here alone.
 */

/** Token id of BOS, the model's input at position 0. */
export const BOS_ID = 0;

/** Model token id of vocabulary index v. */
export const tokenId = (v: number): number => v + 1;

/** Vocabulary index of model token id `id`; -1 for BOS (not a vocabulary token). */
export const vocabIndex = (id: number): number => id - 1;

/** d_vocab of a model for a vocabulary of V tokens: BOS plus one id per token. */
export const modelVocabSize = (V: number): number => V + 1;

/** Vocabulary size a model with d_vocab ids holds under this rule. */
export const vocabSizeOf = (dVocab: number): number => dVocab - 1;

/** The model's input for a sequence of vocabulary indices: BOS, then each token's id. */
export function modelInput(tokens: readonly number[]): number[] {
  const ids = new Array<number>(tokens.length + 1);
  ids[0] = BOS_ID;
  for (let k = 0; k < tokens.length; k++) ids[k + 1] = tokenId(tokens[k]!);
  return ids;
}

/** Vocabulary indices of model ids (BOS must not be among them). */
export function vocabIndices(ids: readonly number[]): number[] {
  return ids.map(vocabIndex);
}
