/**
 * `circuits run`: the reference semantics and the compiled weights side by
 * side on one input, with whether they agree and, if not, where first.
 */
import { BOS_ID } from "../compiler/assemble.ts";
import { CompileError, compile } from "../compiler/compile.ts";
import { type Decoded, decodeFeature } from "../compiler/decode.ts";
import { encodeInput } from "../lang/tokens.ts";
import { decodedToJson, disagreementToJson, formatDecoded, formatDisagreement } from "../report/format.ts";
import { table } from "../report/table.ts";
import { interpret } from "../semantics/interpret.ts";
import { formatValue, valueToJson } from "../semantics/values.ts";
import { IncrementalRun } from "../sim/kvcache.ts";
import { comparePosition, type Disagreement } from "../verify/compare.ts";
import { type Command, loadProgramFile, printJson, str, UsageError } from "./command.ts";
import { epsilonOption } from "./compileOptions.ts";

export const runCommand: Command = {
  name: "run",
  summary: "run a program on an input: symbolic and compiled predictions side by side",
  help: [
    "usage: circuits run PROGRAM --input \"a b c a\" [--trace] [--symbolic-only] [--json]",
    "",
    "  -i, --input TEXT  whitespace-separated tokens (BOS is implicit)",
    "  --trace           also print every feature at every position",
    "  --symbolic-only   skip compiling and simulating",
    "  --epsilon E       compile with this attention bound (default 1e-3)",
    "  --json            {tokens, predictions, compiled, agree, firstDisagreement[, trace]}",
    "                    (null for ⊥, {token: p} for a distribution)",
  ].join("\n"),
  options: {
    input: { type: "string", short: "i" },
    trace: { type: "boolean" },
    "symbolic-only": { type: "boolean" },
    epsilon: { type: "string" },
    json: { type: "boolean" },
  },
  run(args) {
    const program = loadProgramFile(args.positionals[0], "run");
    const input = str(args, "input");
    if (input === undefined) throw new UsageError("run: --input is required");
    const tokens = encodeInput(program, input);
    const sym = interpret(program, tokens);
    const positions = tokens.map((_, k) => k + 1);
    const features = [...program.features.values()].filter((f) => f.layer > 0);
    const outDomain = program.features.get(program.output)!.domain;

    // Compiled side: decoded output per position and the first disagreement.
    let compiled: Decoded[] | null = null;
    let first: Disagreement | null = null;
    let compileNote: string | null = null;
    if (!args.values["symbolic-only"]) {
      try {
        const model = compile(program, { epsilon: epsilonOption(args) });
        const sim = new IncrementalRun(model.weights);
        sim.push(BOS_ID);
        const outFeature = program.features.get(program.output)!;
        compiled = positions.map((p) => {
          sim.push(tokens[p - 1]! + 1);
          const resid = sim.residual(program.layers.length);
          const d = comparePosition(model, sym, p, resid, sim.logits());
          if (d && !first) first = { tokens, ...d };
          return outFeature.layer === 0 ? null : decodeFeature(model.layout, outFeature, resid, model.scales.distTolerance);
        });
        if (outFeature.layer === 0) compiled = positions.map((p) => tokens[p - 1]!);
      } catch (e) {
        if (!(e instanceof CompileError)) throw e;
        compileNote = e.message;
      }
    }

    if (args.values.json) {
      const out: Record<string, unknown> = {
        tokens: tokens.map((t) => program.vocab[t]),
        predictions: positions.map((p) => valueToJson(program, outDomain, sym.prediction(p))),
      };
      if (compiled) {
        out.compiled = compiled.map((d) => decodedToJson(program, outDomain, d));
        out.agree = first === null;
        out.firstDisagreement = first ? disagreementToJson(program, first) : null;
      }
      if (compileNote) out.compileError = compileNote;
      if (args.values.trace) {
        out.trace = Object.fromEntries(
          features.map((f) => [f.name, positions.map((p) => valueToJson(program, f.domain, sym.value(f.name, p)))]),
        );
      }
      printJson(out);
      return 0;
    }
    const header = [
      "pos",
      "token",
      ...(args.values.trace ? features.map((f) => `${f.name} (L${f.layer})`) : []),
      "symbolic",
      ...(compiled ? ["compiled"] : []),
    ];
    const rows = positions.map((p, k) => [
      String(p),
      program.vocab[tokens[p - 1]!]!,
      ...(args.values.trace ? features.map((f) => formatValue(program, f.domain, sym.value(f.name, p))) : []),
      formatValue(program, outDomain, sym.prediction(p)),
      ...(compiled ? [formatDecoded(program, outDomain, compiled[k]!)] : []),
    ]);
    console.log(table([header, ...rows]));
    if (compiled) {
      console.log(first ? formatDisagreement(program, first) : "compiled weights agree with the semantics at every layer and position");
    }
    if (compileNote) console.log(`not compiled: ${compileNote}`);
    return 0;
  },
};
