/** `circuits run`: predictions (and with --trace every feature) for one input. */
import { encodeInput } from "../lang/tokens.ts";
import { interpret } from "../semantics/interpret.ts";
import { formatValue, valueToJson } from "../semantics/values.ts";
import { table } from "../report/table.ts";
import { type Command, loadProgramFile, printJson, str, UsageError } from "./command.ts";

export const runCommand: Command = {
  name: "run",
  summary: "run a program on an input and print its predictions",
  help: [
    "usage: circuits run PROGRAM --input \"a b c a\" [--trace] [--json]",
    "",
    "  --input TEXT   whitespace-separated tokens (BOS is implicit)",
    "  --trace        also print every feature at every position",
    "  --json         machine-readable output: {tokens, predictions[, trace]}",
    "                 (null for ⊥, {token: p} for a distribution)",
  ].join("\n"),
  options: { input: { type: "string", short: "i" }, trace: { type: "boolean" }, json: { type: "boolean" } },
  run(args) {
    const program = loadProgramFile(args.positionals[0], "run");
    const input = str(args, "input");
    if (input === undefined) throw new UsageError("run: --input is required");
    const tokens = encodeInput(program, input);
    const run = interpret(program, tokens);
    const positions = tokens.map((_, k) => k + 1);
    const features = [...program.features.values()].filter((f) => f.layer > 0);
    if (args.values.json) {
      const out: Record<string, unknown> = {
        tokens: tokens.map((t) => program.vocab[t]),
        predictions: positions.map((p) => valueToJson(program, "token", run.prediction(p))),
      };
      if (args.values.trace) {
        out.trace = Object.fromEntries(
          features.map((f) => [f.name, positions.map((p) => valueToJson(program, f.domain, run.value(f.name, p)))]),
        );
      }
      printJson(out);
      return 0;
    }
    const header = ["pos", "token", ...(args.values.trace ? features.map((f) => `${f.name} (L${f.layer})`) : []), "prediction"];
    const rows = positions.map((p) => [
      String(p),
      program.vocab[tokens[p - 1]!]!,
      ...(args.values.trace ? features.map((f) => formatValue(program, f.domain, run.value(f.name, p))) : []),
      formatValue(program, "token", run.prediction(p)),
    ]);
    console.log(table([header, ...rows]));
    return 0;
  },
};
