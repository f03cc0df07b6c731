/**
 * The whole compiler, one call per stage:
 * checked Program → Layout → scale constants → head circuits → dense weights.
 */
import type { Program } from "../lang/program.ts";
import type { Weights } from "../model/weights.ts";
import { headsToWeights } from "./assemble.ts";
import { type HeadCircuit, layoutToHeads } from "./heads.ts";
import { checkedToLayout, type Layout } from "./layout.ts";
import { chooseScales, type Scales } from "./scales.ts";
import { sizeProblem } from "./size.ts";

export { COMPILE_LIMITS } from "./size.ts";

export interface CompileOptions {
  /** Bound on attention mass off the symbolic choice (default 1e-3). */
  readonly epsilon?: number;
}

export interface CompiledModel {
  readonly program: Program;
  readonly layout: Layout;
  readonly scales: Scales;
  readonly circuits: readonly HeadCircuit[];
  readonly weights: Weights;
  /** Token names by id: "<bos>" then the vocabulary. */
  readonly tokens: readonly string[];
}

/** Raised when a program cannot be compiled within the limits. */
export class CompileError extends Error {
  override name = "CompileError";
}

/** Compile a checked program to the weights of an attention-only transformer. */
export function compile(program: Program, options: CompileOptions = {}): CompiledModel {
  // Sized from the program before anything is allocated: refusing late cost seconds and GBs.
  const tooLarge = sizeProblem(program);
  if (tooLarge) throw new CompileError(tooLarge);
  const layout = checkedToLayout(program);
  const maxConditions = Math.max(
    1,
    ...program.layers.flat().map((h) => (h.select.kind === "match" ? h.select.conditions.length : 0)),
  );
  const scales = chooseScales(program.context, program.layers.length, maxConditions, options.epsilon);
  const circuits = layoutToHeads(program, layout, scales);
  const weights = headsToWeights(program, layout, circuits, scales);
  return { program, layout, scales, circuits, weights, tokens: ["<bos>", ...program.vocab] };
}

