/**
 * The whole compiler, one call per stage:
 * checked Program → Layout → scale constants → head circuits → dense weights.
 */
import type { Program } from "../lang/program.ts";
import type { Weights } from "../model/weights.ts";
import { headsToWeights } from "./assemble.ts";
import { type HeadCircuit, layoutToHeads } from "./heads.ts";
import { checkedToLayout, clockPeriods, countHeads, type Layout } from "./layout.ts";
import { chooseScales, clockRoundingError, maxContext, ROUNDINGS, type Scales, ScaleError, type TargetPrecision, UNIT_ROUNDOFF } from "./scales.ts";
import { type CompileLimits, sizeProblem } from "./size.ts";
import { CircuitsError } from "../errors.ts";

export { COMPILE_LIMITS } from "./size.ts";

export interface CompileOptions {
  /** Bound on attention mass off the symbolic choice (default 1e-3). */
  readonly epsilon?: number;
  /** The float format the bound is promised for (default float32, TransformerLens's default dtype). */
  readonly precision?: TargetPrecision;
  /**
   * Size limits in place of COMPILE_LIMITS, for trusted programs whose models are knowingly large
   * (the tag interpreter of proofs/07 at the context its runs need); the CLI never sets them.
   */
  readonly limits?: CompileLimits;
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
export class CompileError extends CircuitsError {
  override name = "CompileError";
  readonly kind = "compile";
}

/** Compile a checked program to the weights of an attention-only transformer. */
export function compile(program: Program, options: CompileOptions = {}): CompiledModel {
  // Sized from the program before anything is allocated: refusing late cost seconds and GBs.
  const tooLarge = sizeProblem(program, undefined, options.limits);
  if (tooLarge) throw new CompileError(tooLarge);
  const layout = checkedToLayout(program);
  const maxConditions = Math.max(
    1,
    ...program.layers.flat().map((h) => (h.select.kind === "match" ? h.select.conditions.length : 0)),
  );
  const precision = options.precision ?? "float32";
  let scales: Scales;
  try {
    scales = chooseScales(program.context, program.layers.length, maxConditions, options.epsilon, precision, countHeads(program).length > 0);
  } catch (e) {
    if (e instanceof ScaleError) throw new CompileError(`${program.source.path}: ${e.message}`);
    throw e;
  }
  checkPrecision(program, scales, maxConditions);
  const circuits = layoutToHeads(program, layout, scales);
  const weights = headsToWeights(program, layout, circuits, scales);
  return { program, layout, scales, circuits, weights, tokens: ["<bos>", ...program.vocab] };
}

/** Refuse a context whose scores the target precision cannot resolve to the stated bound (see scales.ts). */
function checkPrecision(program: Program, scales: Scales, maxConditions: number): void {
  const heads = program.layers.flat();
  const { context: C, precision } = scales;
  if (heads.some((h) => h.select.kind === "match") && scales.roundingError > 0.5) {
    const limit = maxContext(program.layers.length, maxConditions, scales.epsilon, precision);
    throw new CompileError(
      `${program.source.path}: match heads at context ${C} need scores up to ${scales.scoreMagnitude.toExponential(2)}, too large for ${precision} to keep the stated bound ` +
        `(rounding ${scales.roundingError.toFixed(2)} nat > 0.5); lower 'context' to at most ${limit}${precision === "float32" ? " or compile with --precision float64" : ""}`,
    );
  }
  const counts = countHeads(program);
  const countRounding = ROUNDINGS * UNIT_ROUNDOFF[precision] * scales.countMagnitude;
  if (counts.length && countRounding > 0.5) {
    throw new CompileError(
      `${program.source.path}: count head '${counts[0]!.name}' at context ${C} needs scores up to ${scales.countMagnitude.toExponential(2)}, too large for ${precision} to keep the stated bound ` +
        `(rounding ${countRounding.toFixed(2)} nat > 0.5)${precision === "float32" ? "; compile with --precision float64" : ""}`,
    );
  }
  // The clock's scores do not grow with the context; checked rather than assumed.
  const clock = clockRoundingError(scales, clockPeriods(program).length);
  if (clock > 0.5) {
    throw new CompileError(`${program.source.path}: positional heads at context ${C} exceed ${precision}'s rounding allowance (${clock.toFixed(2)} nat > 0.5)`);
  }
}
