/**
 * The vocabulary a weights file speaks: token id 0 is BOS and vocabulary
 * token v has id v + 1 (as compiled models do). Names come from the file's
 * `tokens` metadata when they can be written in the language; otherwise the
 * tokens are numbered 0 … V−1.
 */
import type { Weights } from "../model/weights.ts";
import { modelVocabSize, vocabSizeOf } from "../model/tokenIds.ts";

/** Token names and, when they are not the file's own, why. */
export interface ModelVocabulary {
  readonly names: readonly string[];
  readonly note: string | null;
}

const KEYWORDS = new Set(["vocab", "context", "layer", "head", "select", "latest", "earliest", "every", "count", "where", "and", "copy", "as", "output"]);
const TOKEN_NAME = /^[A-Za-z0-9_']+$/;

/** The model's vocabulary (V = d_vocab − 1 tokens); throws on a token list that does not fit the model. */
export function modelVocabulary(weights: Weights, tokens?: readonly string[]): ModelVocabulary {
  const V = vocabSizeOf(weights.config.d_vocab);
  if (V < 1) throw new Error(`the model has ${weights.config.d_vocab} token id(s): no room for BOS and a token`);
  const numbered = Array.from({ length: V }, (_, v) => String(v));
  if (!tokens) return { names: numbered, note: "the file has no token names: tokens are numbered 0 … V−1 (id v + 1)" };
  if (tokens.length !== modelVocabSize(V)) throw new Error(`the file's ${tokens.length} token names do not fit the model's ${modelVocabSize(V)} token ids`);
  const names = tokens.slice(1);
  const bad = names.find((t) => !TOKEN_NAME.test(t) || KEYWORDS.has(t));
  if (bad !== undefined || new Set(names).size !== names.length) {
    return { names: numbered, note: `token ${JSON.stringify(bad ?? "names repeat")} cannot be written in a program: tokens are numbered 0 … V−1 (id v + 1)` };
  }
  return { names, note: null };
}
