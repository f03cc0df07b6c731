/** Options and summaries shared by the commands that compile. */
import type { CompiledModel } from "../compiler/compile.ts";
import type { TargetPrecision } from "../compiler/scales.ts";
import { num, type ParsedArgs, str, UsageError } from "./command.ts";

/** The --epsilon option, validated. */
export function epsilonOption(args: ParsedArgs): number | undefined {
  const e = str(args, "epsilon");
  if (e === undefined) return undefined;
  const x = num(args, "epsilon")!;
  if (!(x > 0 && x < 0.5)) throw new UsageError(`--epsilon must be a number in (0, 0.5), got '${e}'`);
  return x;
}

/** The --precision option (the float format a bound is promised for / a simulation runs in), validated. */
export function precisionOption(args: ParsedArgs, dflt: TargetPrecision): TargetPrecision {
  const p = str(args, "precision") ?? dflt;
  if (p !== "float32" && p !== "float64") throw new UsageError(`--precision must be float32 or float64, got '${p}'`);
  return p;
}

/** The numbers a user wants to see about a compiled model. */
export function scalesSummary(model: CompiledModel) {
  const s = model.scales;
  return {
    config: model.weights.config,
    bound: {
      statement: `every attention puts ≥ 1 − ε on the symbolic choice for every input of up to ${s.context - 1} tokens, run in ${s.precision}`,
      precision: s.precision,
      roundingError: s.roundingError,
      epsilon: s.epsilon,
      headEpsilon: s.headEpsilon,
      distTolerance: s.distTolerance,
    },
    scales: { beta: s.beta, gamma: s.gamma, penalty: s.penalty, clockAmplitude: s.clockAmplitude, lambda: s.lambda, logitScale: s.logitScale },
  };
}
