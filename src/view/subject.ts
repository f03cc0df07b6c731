/**
 * What a report is about: a program (compiled here) or a weights file —
 * compiled, trained or from elsewhere — with whatever came with it (program,
 * layout, token names), and the input text turned into token ids for it.
 * Loading one from a path is the CLI's (src/cli/reportSubject.ts).
 */
import type { CompiledModel } from "../compiler/compile.ts";
import type { Program } from "../lang/program.ts";
import { encodeInput, InputError } from "../lang/tokens.ts";
import type { NamedLayout } from "../analysis/named.ts";
import type { Weights } from "../model/weights.ts";
import { modelInput } from "../model/tokenIds.ts";

/** A model to report on. */
export interface ReportSubject {
  readonly path: string;
  readonly weights: Weights;
  /** The program: the argument itself, or the source a compiled file stores; null for trained and foreign models. */
  readonly program: Program | null;
  /** Set when the argument was a program compiled here: its layout has readers, its scales decode features. */
  readonly compiled: CompiledModel | null;
  readonly layout: NamedLayout | null;
  /** Token name of every id (id 0 is "<bos>" when the model has a BOS token). */
  readonly tokenNames: readonly string[];
  readonly bos: number | null;
  readonly notes: readonly string[];
  /** Why the simulator cannot run this model (LayerNorm, MLP): no attention, predictions or generation then. */
  readonly notRunnable: string | null;
}

/** Whitespace-separated token names → model token ids, BOS first when the model has one; InputError in one line. */
export function encodeSubjectInput(subject: ReportSubject, text: string): number[] {
  const C = subject.weights.config.n_ctx;
  if (subject.program) {
    const ids = modelInput(encodeInput(subject.program, text));
    // A compiled file's context is the program's, so encodeInput's bound is the model's.
    if (ids.length > C) throw new InputError(`input has ${ids.length - 1} tokens but the model's context ${C} holds at most ${C - 1} (position 0 is BOS)`);
    return ids;
  }
  const words = text.trim() === "" ? [] : text.trim().split(/\s+/);
  const index = new Map<string, number>();
  subject.tokenNames.forEach((t, id) => {
    if (id !== subject.bos && !index.has(t)) index.set(t, id);
  });
  const ids = words.map((w, k) => {
    const id = index.get(w);
    if (id === undefined) {
      const shown = subject.tokenNames.filter((_, id) => id !== subject.bos).slice(0, 12).join(" ");
      throw new InputError(`input token ${k + 1} '${w}' is not in the model's vocabulary (${shown}${subject.tokenNames.length > 13 ? " …" : ""})`);
    }
    return id;
  });
  const all = subject.bos === null ? ids : [subject.bos, ...ids];
  if (all.length > C) {
    throw new InputError(`input has ${ids.length} tokens but the model's context ${C} holds at most ${C - (subject.bos === null ? 0 : 1)}${subject.bos === null ? "" : " (position 0 is BOS)"}`);
  }
  if (all.length === 0) throw new InputError("input is empty and the model has no BOS token: nothing to run");
  return all;
}
