/**
 * Tag systems as prompts for programs/tag/interpreter.circ (Theorem 7, escape half).
 *
 * The interpreter runs *state-tag* tables: in state s, read the letter under
 * the pointer (consuming it), append the row's production, enter the row's
 * next state. A 2-tag system is two states, one that appends P(x) and one
 * that only consumes the second letter; a cyclic tag system with k
 * productions is k states, one per production in turn, appending nothing
 * after a 0. These encodings are part of the construction; the tests check
 * them against direct simulators of the tag systems that know nothing of
 * states.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compile } from "../../src/compiler/compile.ts";
import { generateCompiled } from "../../src/generate/compiled.ts";
import { load } from "../../src/lang/check.ts";
import type { Program } from "../../src/lang/program.ts";
import { SymbolicRun } from "../../src/semantics/interpret.ts";
import { mode } from "../../src/semantics/values.ts";

/** One row: in `state`, reading `letter`, append `production` and go to `next`. */
export interface StateTagRow {
  readonly letter: string;
  readonly state: string;
  readonly production: readonly string[];
  readonly next: string;
}

export interface StateTagSystem {
  readonly states: readonly string[];
  readonly letters: readonly string[];
  readonly rows: readonly StateTagRow[];
}

/** The interpreter program, as checked. */
export function tagInterpreter(): Program {
  const path = fileURLToPath(new URL("../../programs/tag/interpreter.circ", import.meta.url));
  return load({ path: "programs/tag/interpreter.circ", text: readFileSync(path, "utf8") });
}

/**
 * A 2-tag system: state `emit` reads x and appends P(x), then state `skip`
 * reads (deletes) the next letter and appends nothing.
 */
export function twoTagAsStates(productions: Readonly<Record<string, string>>, emit = "v", skip = "u"): StateTagSystem {
  const letters = Object.keys(productions);
  const rows: StateTagRow[] = [];
  for (const x of letters) rows.push({ letter: x, state: emit, production: [...productions[x]!], next: skip });
  for (const x of letters) rows.push({ letter: x, state: skip, production: [], next: emit });
  return { states: [skip, emit], letters, rows };
}

/** A cyclic tag system over 0/1: state k reads x, appends production k if x = 1, and hands over to state k + 1 (mod the count). */
export function cyclicTagAsStates(productions: readonly string[], states = ["x", "y", "z"]): StateTagSystem {
  if (productions.length > states.length) throw new Error(`cyclic tag: ${productions.length} productions, only ${states.length} state tokens`);
  const rows: StateTagRow[] = [];
  productions.forEach((p, k) => {
    const next = states[(k + 1) % productions.length]!;
    rows.push({ letter: "1", state: states[k]!, production: [...p], next });
    rows.push({ letter: "0", state: states[k]!, production: [], next });
  });
  return { states: states.slice(0, productions.length), letters: ["0", "1"], rows };
}

/** The prompt (token names): header, one row per (letter, state), then the queue `H word… state`. */
export function tagPrompt(sys: StateTagSystem, word: readonly string[], initial: string): string[] {
  const header = ["H", "S", "L", "R", ...sys.states.flatMap((s) => [s, "S"]), ...sys.letters.flatMap((x) => [x, "L"])];
  const table = sys.rows.flatMap((r) => ["R", r.letter, r.state, ...r.production, r.next]);
  return [...header, ...table, "H", ...word, initial];
}

/**
 * Greedy generation under the reference semantics for `steps` tokens, with
 * the context raised to fit (the checker's 8192 limits source text and
 * compiled models, not the semantics). Returns the run and the names emitted.
 */
export function runInterpreter(program: Program, prompt: readonly string[], steps: number): { run: SymbolicRun; emitted: string[] } {
  const id = new Map(program.vocab.map((t, k) => [t, k] as const));
  const run = new SymbolicRun({ ...program, context: prompt.length + steps + 1 });
  for (const t of prompt) {
    const k = id.get(t);
    if (k === undefined) throw new Error(`token '${t}' is not in the interpreter's vocabulary`);
    run.push(k);
  }
  const emitted: string[] = [];
  for (let s = 0; s < steps; s++) {
    const next = mode(run.prediction(run.length - 1)) ?? 0;
    emitted.push(program.vocab[next]!);
    run.push(next);
  }
  return { run, emitted };
}

/**
 * Greedy generation from the interpreter's compiled weights (float64), at the
 * smallest context that holds the prompt and `steps` tokens. The model grows
 * like C² (seven position-valued blocks of C directions, conjuncts over
 * them), so the size limits are raised here: these are trusted programs.
 */
export function runCompiledInterpreter(program: Program, prompt: readonly string[], steps: number): { emitted: string[]; context: number; parameters: number; epsilon: number } {
  const context = prompt.length + steps + 1;
  const model = compile({ ...program, context }, { precision: "float64", limits: { dModel: 1e6, dHead: 1e6, parameters: 2e9 } });
  const ids = prompt.map((t) => program.vocab.indexOf(t));
  const g = generateCompiled(model, ids, { steps });
  const { d_model: D, d_head: E, n_heads: H, n_layers: L } = model.weights.config;
  return { emitted: g.generated.map((k) => program.vocab[k]!), context, parameters: L * H * D * E * 4, epsilon: model.scales.headEpsilon };
}
