/** Turning input text into vocabulary indices, with located errors. */
import type { Program } from "./program.ts";
import { CircuitsError } from "../errors.ts";

/** Raised for an input the program cannot run (unknown token, too long). */
export class InputError extends CircuitsError {
  override name = "InputError";
  readonly kind = "input";
}

/** Split whitespace-separated token names into vocabulary indices. */
export function encodeInput(program: Program, text: string): number[] {
  const words = text.trim() === "" ? [] : text.trim().split(/\s+/);
  const index = new Map(program.vocab.map((t, k) => [t, k]));
  const out = words.map((w, k) => {
    const t = index.get(w);
    if (t === undefined) {
      const shown = program.vocab.length > 12 ? `${program.vocab.slice(0, 12).join(" ")} …` : program.vocab.join(" ");
      throw new InputError(`input token ${k + 1} '${w}' is not in the vocabulary (${shown})`);
    }
    return t;
  });
  if (out.length > program.context - 1) {
    throw new InputError(
      `input has ${out.length} tokens but context ${program.context} holds at most ${program.context - 1} (position 0 is BOS)`,
    );
  }
  return out;
}

/** Vocabulary indices back to token names. */
export function decodeTokens(program: Program, tokens: readonly number[]): string[] {
  return tokens.map((t) => program.vocab[t]!);
}
