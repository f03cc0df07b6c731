/**
 * Where training batches come from. Every source fills B sequences of T
 * token ids (id 0 = BOS at position 0, vocabulary token v = id v + 1, as
 * compiled models) and, per position, the id the model should predict there
 * (−1: that position is not trained), drawing only from the run's data RNG.
 *
 *   repeat   with probability repeatFraction a repeated random segment r
 *            (tokens uniform), else 2R uniform tokens after BOS
 *            (R = ⌊(n_ctx−1)/2⌋); targets are the next tokens (the last position
 *            is not trained). |r| = L is R ("fixed") or uniform in 2 … R per
 *            sequence ("random"); layout "tiled" repeats r until the context is
 *            full ([BOS] r r r …, so token i = token i − L everywhere after the
 *            first copy), "once" writes [BOS] r r and fills the rest uniformly.
 *            With a fixed L the two layouts are the same [BOS] r r, and the
 *            second copy is always R positions after the first: attending to
 *            position i − R + 1 by position alone solves it, and a trained
 *            model learns that lookup instead of an induction circuit. With a
 *            random L only a content-based (induction) lookup predicts the
 *            repeats; "once" puts them only in the first 2L positions, so late
 *            positions almost never repeat and a model learns to switch
 *            induction off there, which "tiled" (circuits train's default) avoids.
 *   program  T − 1 uniform tokens over the program's vocabulary, labelled by
 *            its reference semantics: the target at position i is the
 *            program's prediction at i (the mode, for a distribution-valued
 *            output); positions where it is ⊥ are not trained
 *   text     windows of T − 1 consecutive tokens of a file (characters or
 *            whitespace-separated words) after BOS; targets the next tokens
 */
import { readFileSync } from "node:fs";
import { lineAndColumn } from "../lang/diagnostics.ts";
import type { Program } from "../lang/program.ts";
import { interpret } from "../semantics/interpret.ts";
import { mode } from "../semantics/values.ts";
import type { Rng } from "./rng.ts";
import { BOS_ID, tokenId } from "../model/tokenIds.ts";
import { CircuitsError } from "../errors.ts";

/** What to train on, as stored in a checkpoint's training config. */
export type DataSpec =
  | { readonly kind: "repeat"; readonly vocab: number; readonly repeatFraction: number; readonly repeatLength?: RepeatLengths; readonly layout?: RepeatLayout }
  | { readonly kind: "program"; readonly path: string }
  | { readonly kind: "text"; readonly path: string; readonly tokenize: "char" | "word" };

/** How |r| is drawn: always R, or uniform in 2 … R per sequence. */
export type RepeatLengths = "fixed" | "random";
/** Where the copies go: r repeated to fill the context, or [BOS] r r then uniform tokens. */
export type RepeatLayout = "tiled" | "once";

/** A batch generator. */
export interface DataSource {
  /** Token strings by id: ["<bos>", …names]. */
  readonly tokens: readonly string[];
  /** Length T of every sequence (BOS included). */
  readonly seqLength: number;
  /** Fill tokens[b·T + i] and targets[b·T + i] for b < B. */
  fill(rng: Rng, B: number, tokens: Int32Array, targets: Int32Array): void;
}

/** A bad data file or a data/model mismatch: one line, says what and where. */
export class DataError extends CircuitsError {
  override name = "DataError";
  readonly kind = "data";
}

/** The repeated length R for a context: [BOS] r r fits. */
export function repeatLength(n_ctx: number): number {
  return Math.floor((n_ctx - 1) / 2);
}

/** Repeated random segments mixed with plain random sequences. */
export function repeatSource(vocab: number, n_ctx: number, repeatFraction: number, lengths: RepeatLengths = "fixed", layout: RepeatLayout = "once"): DataSource {
  const R = repeatLength(n_ctx);
  if (R < 1) throw new DataError(`context ${n_ctx} is too short for [BOS] r r (needs at least 3)`);
  if (vocab < 1) throw new DataError(`vocabulary of ${vocab} tokens is too small`);
  const T = 1 + 2 * R;
  return {
    tokens: ["<bos>", ...Array.from({ length: vocab }, (_, v) => String(v))],
    seqLength: T,
    fill(rng, B, tokens, targets) {
      for (let b = 0; b < B; b++) {
        const s = b * T;
        const repeated = rng.next() < repeatFraction;
        const L = lengths === "random" && R >= 2 ? 2 + rng.int(R - 1) : R;
        const end = layout === "tiled" ? T : 1 + 2 * L;
        tokens[s] = BOS_ID;
        for (let i = 1; i <= L; i++) tokens[s + i] = tokenId(rng.int(vocab));
        for (let i = L + 1; i < end; i++) tokens[s + i] = repeated ? tokens[s + i - L] : tokenId(rng.int(vocab));
        for (let i = end; i < T; i++) tokens[s + i] = tokenId(rng.int(vocab));
        for (let i = 0; i < T - 1; i++) targets[s + i] = tokens[s + i + 1];
        targets[s + T - 1] = -1;
      }
    },
  };
}

/** Random inputs labelled by a program's reference semantics. */
export function programSource(program: Program, n_ctx: number): DataSource {
  if (n_ctx > program.context) throw new DataError(`context ${n_ctx} exceeds the program's context ${program.context}`);
  if (n_ctx < 2) throw new DataError(`context ${n_ctx} is too short (needs at least 2)`);
  const V = program.vocab.length;
  const T = n_ctx;
  const input = new Array<number>(T - 1);
  return {
    tokens: ["<bos>", ...program.vocab],
    seqLength: T,
    fill(rng, B, tokens, targets) {
      for (let b = 0; b < B; b++) {
        const s = b * T;
        for (let i = 0; i < T - 1; i++) input[i] = rng.int(V);
        const run = interpret(program, input);
        tokens[s] = BOS_ID;
        for (let i = 1; i < T; i++) tokens[s + i] = tokenId(input[i - 1]);
        for (let i = 0; i < T; i++) {
          const m = mode(run.prediction(i));
          targets[s + i] = m === null ? -1 : tokenId(m);
        }
      }
    },
  };
}

/** A text split into tokens, each with its character offset. */
function tokenizeText(text: string, how: "char" | "word"): { names: string[]; offsets: number[] } {
  const names: string[] = [];
  const offsets: number[] = [];
  if (how === "char") {
    let k = 0;
    for (const ch of text) {
      names.push(ch);
      offsets.push(k);
      k += ch.length;
    }
  } else {
    for (const m of text.matchAll(/\S+/g)) {
      names.push(m[0]);
      offsets.push(m.index);
    }
  }
  return { names, offsets };
}

/**
 * Windows of a text file. `vocabulary` (the token strings of a model being
 * resumed, BOS first) fixes the ids; without it the vocabulary is the file's
 * distinct tokens, sorted. n_ctx caps T; a shorter text gives shorter sequences.
 */
export function textSource(path: string, how: "char" | "word", n_ctx: number, vocabulary?: readonly string[]): DataSource {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new DataError(`cannot read text file '${path}'`);
  }
  const { names, offsets } = tokenizeText(text, how);
  if (names.length < 2) throw new DataError(`${path}: the text has ${names.length} ${how === "char" ? "characters" : "words"}; training needs at least 2`);
  const tokens = vocabulary ? [...vocabulary] : ["<bos>", ...[...new Set(names)].sort()];
  const id = new Map(tokens.map((t, k) => [t, k]));
  const ids = new Int32Array(names.length);
  names.forEach((n, k) => {
    const t = id.get(n);
    if (t === undefined || t === 0) {
      const { line, column } = lineAndColumn(text, offsets[k]);
      throw new DataError(`${path}:${line}:${column}: ${how === "char" ? "character" : "word"} ${JSON.stringify(n)} is not in the model's vocabulary of ${tokens.length - 1} tokens`);
    }
    ids[k] = t;
  });
  const T = Math.min(n_ctx, names.length + 1);
  return {
    tokens,
    seqLength: T,
    fill(rng, B, tok, targets) {
      for (let b = 0; b < B; b++) {
        const s = b * T;
        const start = rng.int(names.length - (T - 1) + 1);
        tok[s] = BOS_ID;
        for (let i = 1; i < T; i++) tok[s + i] = ids[start + i - 1];
        for (let i = 0; i < T - 1; i++) targets[s + i] = tok[s + i + 1];
        targets[s + T - 1] = -1;
      }
    },
  };
}

/**
 * The source a spec names. `vocabulary`: the token strings of a model being
 * continued (its ids are kept; a source that cannot use them is a DataError).
 */
export function openSource(spec: DataSpec, n_ctx: number, loadProgram: (path: string) => Program, vocabulary?: readonly string[]): DataSource {
  let source: DataSource;
  switch (spec.kind) {
    case "repeat":
      source = repeatSource(spec.vocab, n_ctx, spec.repeatFraction, spec.repeatLength ?? "fixed", spec.layout ?? "once");
      break;
    case "program":
      source = programSource(loadProgram(spec.path), n_ctx);
      break;
    case "text":
      return textSource(spec.path, spec.tokenize, n_ctx, vocabulary);
    default: {
      const never: never = spec;
      throw new DataError(`unknown data source ${JSON.stringify(never)}`);
    }
  }
  if (vocabulary && (vocabulary.length !== source.tokens.length || vocabulary.some((t, k) => t !== source.tokens[k]))) {
    throw new DataError(`the model's vocabulary (${vocabulary.length - 1} tokens: ${preview(vocabulary.slice(1))}) does not fit the data's (${source.tokens.length - 1} tokens: ${preview(source.tokens.slice(1))})`);
  }
  return source;
}

function preview(tokens: readonly string[]): string {
  return tokens.length > 6 ? `${tokens.slice(0, 6).join(" ")} …` : tokens.join(" ");
}
