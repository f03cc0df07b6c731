/**
 * `circuits run`: the reference semantics and the compiled weights side by
 * side on one input — predictions, optionally every feature (--trace) and
 * where each head attends (--attention) — with whether they agree and, if
 * not, where first.
 */
import { BOS_ID, tokenId } from "../model/tokenIds.ts";
import { type CompiledModel, CompileError, compile } from "../compiler/compile.ts";
import { type Decoded, decodedAgrees, decodeFeature } from "../compiler/decode.ts";
import type { Program } from "../lang/program.ts";
import { encodeInput } from "../lang/tokens.ts";
import { decodedToJson, disagreementToJson, formatDecoded, formatDisagreement } from "../report/format.ts";
import { table } from "../report/table.ts";
import { interpret, type SymbolicRun } from "../semantics/interpret.ts";
import { formatValue, valueToJson } from "../semantics/values.ts";
import { IncrementalRun } from "../sim/kvcache.ts";
import { comparePosition, type Disagreement } from "../verify/compare.ts";
import { type Command, loadProgramFile, printJson, str, UsageError } from "./command.ts";
import { epsilonOption } from "./compileOptions.ts";
import { EXIT } from "./exitCodes.ts";

interface CompiledSide {
  readonly model: CompiledModel;
  /** decoded[p-1][feature] for every written feature. */
  readonly decoded: Map<string, Decoded>[];
  /** attention[p-1][head] = [key position, weight] of the strongest key. */
  readonly attention: Map<string, [number, number]>[];
  readonly first: Disagreement | null;
}

/** Run the compiled weights position by position, decoding and comparing as we go. */
function runCompiled(program: Program, model: CompiledModel, tokens: readonly number[], sym: SymbolicRun): CompiledSide {
  const sim = new IncrementalRun(model.weights);
  sim.push(BOS_ID);
  const features = [...program.features.values()].filter((f) => f.layer > 0 || f.name === program.output);
  const decoded: Map<string, Decoded>[] = [];
  const attention: Map<string, [number, number]>[] = [];
  let first: Disagreement | null = null;
  tokens.forEach((t, k) => {
    sim.push(tokenId(t));
    const resid = sim.residual(program.layers.length);
    first ??= ((d) => (d ? { tokens, ...d } : null))(comparePosition(model, sym, k + 1, resid, sim.logits()));
    decoded.push(new Map(features.map((f) => [f.name, decodeFeature(model.layout, f, resid, model.scales.distTolerance)])));
    attention.push(new Map(model.circuits.map((c) => {
      const row = sim.pattern(c.block, c.index);
      let j = 0;
      for (let x = 1; x < row.length; x++) if (row[x]! > row[j]!) j = x;
      return [c.head.name, [j, row[j]!]];
    })));
  });
  return { model, decoded, attention, first };
}

export const runCommand: Command = {
  name: "run",
  summary: "run a program on an input: symbolic and compiled predictions side by side",
  help: [
    "usage: circuits run PROGRAM --input \"a b c a\" [--trace] [--attention] [--symbolic-only] [--json]",
    "",
    "  -i, --input TEXT  whitespace-separated tokens (BOS is implicit)",
    "  --trace           every feature at every position (compiled value shown where it differs)",
    "  --attention       where each compiled head attends: strongest key position and its weight",
    "  --symbolic-only   skip compiling and simulating",
    "  --epsilon E       compile with this attention bound (default 1e-3)",
    "  --json            {tokens, predictions, compiled, agree, firstDisagreement[, trace, attention]}",
    "                    (null for ⊥, {token: p} for a distribution)",
  ].join("\n"),
  options: {
    input: { type: "string", short: "i" },
    trace: { type: "boolean" },
    attention: { type: "boolean" },
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
    const out = program.features.get(program.output)!;

    let side: CompiledSide | null = null;
    let compileNote: string | null = null;
    if (!args.values["symbolic-only"]) {
      try {
        side = runCompiled(program, compile(program, { epsilon: epsilonOption(args), precision: "float64" }), tokens, sym);
      } catch (e) {
        if (!(e instanceof CompileError)) throw e;
        compileNote = e.message;
      }
    }
    const compiledOut = side?.decoded.map((m) => m.get(out.name)!) ?? null;
    const attentionJson = () =>
      Object.fromEntries(side!.model.circuits.map((c) => [c.head.name, side!.attention.map((a) => ({ key: a.get(c.head.name)![0], weight: a.get(c.head.name)![1] }))]));

    if (args.values.json) {
      const json: Record<string, unknown> = {
        tokens: tokens.map((t) => program.vocab[t]),
        predictions: positions.map((p) => valueToJson(program, out.domain, sym.prediction(p))),
      };
      if (side && compiledOut) {
        json.compiled = compiledOut.map((d) => decodedToJson(program, out.domain, d));
        json.agree = side.first === null;
        json.firstDisagreement = side.first ? disagreementToJson(program, side.first) : null;
        if (args.values.attention) json.attention = attentionJson();
      }
      if (compileNote) json.compileError = compileNote;
      if (args.values.trace) {
        json.trace = Object.fromEntries(
          features.map((f) => [f.name, positions.map((p) => valueToJson(program, f.domain, sym.value(f.name, p)))]),
        );
        if (side) {
          json.compiledTrace = Object.fromEntries(
            features.map((f) => [f.name, side!.decoded.map((m) => decodedToJson(program, f.domain, m.get(f.name)!))]),
          );
        }
      }
      printJson(json);
      return EXIT.ok;
    }

    // A trace cell shows the symbolic value, and "≠ decoded" where the weights disagree.
    const cell = (name: string, p: number) => {
      const f = program.features.get(name)!;
      const s = formatValue(program, f.domain, sym.value(name, p));
      const d = side?.decoded[p - 1]!.get(name);
      if (d === undefined || decodedAgrees(sym.value(name, p), d, side!.model.scales.distTolerance)) return s;
      return `${s} ≠ ${formatDecoded(program, f.domain, d)}`;
    };
    const showAttention = Boolean(args.values.attention && side);
    const header = [
      "pos",
      "token",
      ...(args.values.trace ? features.map((f) => `${f.name} (L${f.layer})`) : []),
      ...(showAttention ? side!.model.circuits.map((c) => `${c.head.name} → j`) : []),
      "symbolic",
      ...(compiledOut ? ["compiled"] : []),
    ];
    const rows = positions.map((p, k) => [
      String(p),
      program.vocab[tokens[p - 1]!]!,
      ...(args.values.trace ? features.map((f) => cell(f.name, p)) : []),
      ...(showAttention
        ? side!.model.circuits.map((c) => {
            const [j, w] = side!.attention[k]!.get(c.head.name)!;
            return `${j === 0 ? "BOS" : j} (${w.toFixed(3)})`;
          })
        : []),
      formatValue(program, out.domain, sym.prediction(p)),
      ...(compiledOut ? [formatDecoded(program, out.domain, compiledOut[k]!)] : []),
    ]);
    console.log(table([header, ...rows]));
    if (side) {
      console.log(side.first ? formatDisagreement(program, side.first) : "compiled weights agree with the semantics at every layer and position");
    }
    if (compileNote) console.log(`not compiled: ${compileNote}`);
    return EXIT.ok;
  },
};
