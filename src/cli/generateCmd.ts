/**
 * `circuits generate`: greedy or sampled generation from the compiled weights
 * and under the semantics, token for token, with the loop it falls into and —
 * for k-gram induction programs — the loop predicted from the successor table.
 */
import { compile } from "../compiler/compile.ts";
import { findCycle } from "../generate/cycles.ts";
import { generateCompiled } from "../generate/compiled.ts";
import { finiteStateLoop } from "../generate/finiteState.ts";
import { asInduction, predictInductionCycle } from "../generate/predict.ts";
import { finiteStateObstacle } from "../semantics/interpret.ts";
import type { Strategy } from "../generate/strategy.ts";
import { generateSymbolic, type NoneRule } from "../generate/symbolic.ts";
import { encodeInput } from "../lang/tokens.ts";
import { type Command, int, loadProgramFile, num, printJson, str, UsageError } from "./command.ts";
import { epsilonOption } from "./compileOptions.ts";
import { EXIT } from "./exitCodes.ts";

export const generateCommand: Command = {
  name: "generate",
  summary: "generate tokens (compiled weights and semantics side by side) and find the loop",
  help: [
    "usage: circuits generate PROGRAM --prompt \"a b c a\" --steps N [options] [--json]",
    "",
    "  -p, --prompt TEXT   prompt tokens (BOS is implicit; may be empty)",
    "  -n, --steps N       tokens to generate (capped by the context)",
    "  --on-none RULE      what ⊥ emits: 'fallback' (default: the first vocabulary token,",
    "                      which greedy argmax of a compiled model's flat logits picks) or 'stop'",
    "  --temperature T     sample from softmax(logits / T) instead of greedy (seeded)",
    "  --top-k K           with --temperature: sample among the K best tokens",
    "  --power G           sample ∝ p^G from the output distribution (the urn model of loops;",
    "                      the semantics samples with the same seed, so both sides are compared)",
    "  --seed S            seed for sampling (default 1)",
    "  --no-cache          recompute the whole prefix each step (the KV-cache baseline)",
    "  --epsilon E         compile with this attention bound (default 1e-3)",
    "  --json              {prompt, tokens, symbolic, agree, cycle, predicted, predictionMatches}",
    "",
    "The cycle is observed (needs two full periods in the run); 'predicted' is proved without the",
    "model: from the successor table for k-gram induction programs, or from the first repeated",
    "state for any program whose heads are positional or latest/earliest matches on finite values.",
  ].join("\n"),
  options: {
    prompt: { type: "string", short: "p" },
    steps: { type: "string", short: "n" },
    "on-none": { type: "string" },
    temperature: { type: "string" },
    power: { type: "string" },
    "top-k": { type: "string" },
    seed: { type: "string" },
    "no-cache": { type: "boolean" },
    epsilon: { type: "string" },
    json: { type: "boolean" },
  },
  run(args) {
    const program = loadProgramFile(args.positionals[0], "generate");
    const prompt = encodeInput(program, str(args, "prompt") ?? "");
    if (str(args, "steps") === undefined) throw new UsageError("generate: --steps N is required");
    const steps = int(args, "steps", 0, 0, program.context);
    const onNone = (str(args, "on-none") ?? "fallback") as NoneRule;
    if (onNone !== "fallback" && onNone !== "stop") throw new UsageError("--on-none must be 'fallback' or 'stop'");
    let strategy: Strategy | undefined;
    const temp = str(args, "temperature");
    const power = str(args, "power");
    const seed = int(args, "seed", 1, 0, 2 ** 32 - 1);
    if (temp !== undefined && power !== undefined) throw new UsageError("generate: choose --temperature or --power, not both");
    if (str(args, "top-k") !== undefined && temp === undefined) throw new UsageError("generate: --top-k needs --temperature");
    if (temp !== undefined) {
      const temperature = num(args, "temperature")!;
      if (!(temperature > 0)) throw new UsageError(`--temperature must be > 0, got '${temp}'`);
      const topK = str(args, "top-k") === undefined ? undefined : int(args, "top-k", 1, 1, program.vocab.length);
      strategy = { kind: "sample", temperature, seed, ...(topK ? { topK } : {}) };
    }
    const gamma = num(args, "power");
    if (gamma !== undefined) {
      if (!(gamma > 0)) throw new UsageError(`--power must be > 0, got '${power}'`);
      strategy = { kind: "power", gamma, seed };
    }
    const model = compile(program, { epsilon: epsilonOption(args), precision: "float64" });
    const compiled = generateCompiled(model, prompt, { steps, onNone, strategy, kvCache: !args.values["no-cache"] });
    // Greedy and power sampling have a symbolic counterpart; softmax sampling of logits does not.
    const symbolic = strategy?.kind === "sample" ? null : generateSymbolic(program, prompt, { steps, onNone, ...(gamma ? { power: { gamma, seed } } : {}) });
    const agree = symbolic ? symbolic.generated.join() === compiled.generated.join() && symbolic.stopped === compiled.stopped : null;
    const cycle = findCycle(compiled.generated);
    // The loop predicted without the model: the I_k successor table when the
    // program is k-gram induction, else the state walk of any finite-state program.
    const shape = asInduction(program);
    const obstacle = finiteStateObstacle(program);
    const prediction = strategy
      ? null
      : shape
        ? { ...predictInductionCycle(shape, prompt, onNone), method: `successor table of I_${shape.k} (${shape.rule})` }
        : obstacle === null
          ? { ...finiteStateLoop(program, prompt, onNone), method: "first repeated state of the finite-state program" }
          : null;
    const predicted = prediction?.cycle ?? null;
    const predictionMatches =
      prediction === null ? null : predicted === null ? compiled.stopped : cycle === null
        ? null // too few steps to observe two periods: nothing to compare yet
        : cycle.prePeriod === predicted.prePeriod && cycle.period === predicted.period;
    const names = (ts: readonly number[]) => ts.map((t) => program.vocab[t]!);

    if (args.values.json) {
      printJson({
        prompt: names(prompt),
        tokens: names(compiled.generated),
        symbolic: symbolic ? names(symbolic.generated) : null,
        agree,
        stopped: compiled.stopped,
        cycle,
        predicted: predicted ? { ...predicted, method: prediction!.method } : null,
        notPredicted: prediction === null && !strategy ? obstacle : undefined,
        predictionMatches,
        seconds: Number(compiled.seconds.toFixed(4)),
      });
      return EXIT.ok;
    }
    console.log(`prompt     ${names(prompt).join(" ")}`);
    console.log(`compiled   ${names(compiled.generated).join(" ")}${compiled.stopped ? "  (stopped on ⊥)" : ""}`);
    if (symbolic) console.log(`symbolic   ${names(symbolic.generated).join(" ")}${agree ? "  (agrees)" : "  (DISAGREES)"}`);
    console.log(
      cycle
        ? `cycle      pre-period ${cycle.prePeriod}, period ${cycle.period} (${cycle.repetitions} periods observed)`
        : `cycle      none observed within ${compiled.generated.length} steps`,
    );
    if (prediction) {
      console.log(
        predicted
          ? `predicted  pre-period ${predicted.prePeriod}, period ${predicted.period} (${prediction.method})` +
              (predictionMatches === null ? " — generate more steps to observe it" : predictionMatches ? " — matches" : " — DOES NOT MATCH")
          : `predicted  generation stops at step ${prediction.stopsAt}`,
      );
    } else if (!strategy && obstacle) {
      console.log(`predicted  — not a finite-state program: ${obstacle}`);
    }
    return EXIT.ok;
  },
};
