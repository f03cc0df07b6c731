/** `circuits compile`: write a program's weights as TransformerLens safetensors. */
import { compile } from "../compiler/compile.ts";
import { layoutToJson } from "../compiler/layout.ts";
import { saveWeightsAsync, sidecarPath } from "../model/weightsFile.ts";
import { type Command, loadProgramFile, printJson, str, UsageError } from "./command.ts";
import { epsilonOption, precisionOption, scalesSummary } from "./compileOptions.ts";
import { EXIT } from "./exitCodes.ts";

export const compileCommand: Command = {
  name: "compile",
  summary: "compile a program to safetensors weights (TransformerLens names) plus a JSON sidecar",
  help: [
    "usage: circuits compile PROGRAM -o MODEL.safetensors [--epsilon E] [--precision P] [--json]",
    "",
    "  -o, --output FILE  where to write; MODEL.json (config, tokens, layout) is written beside it",
    "  --epsilon E        bound on attention mass off the symbolic choice (default 1e-3)",
    "  --precision P      float32 (default, TransformerLens's default dtype) or float64: the",
    "                     format the bound is promised for, written as the config's dtype;",
    "                     long contexts with match heads need float64 (the error says the limit)",
    "  --json             print the model summary as JSON",
    "",
    "Both files are written in full before either replaces anything, the sidecar renamed into",
    "place first; both carry the same digest (SHA-256 of the tensor data), which 'analyze' and",
    "'decompile' check, so a pair left inconsistent by a kill between the renames is refused.",
    "On an error, SIGINT or SIGTERM no temporary file is left behind and the targets are unchanged.",
    "Programs are sized before compiling: over 40M parameters (a 320 MB file) is refused.",
  ].join("\n"),
  options: { output: { type: "string", short: "o" }, epsilon: { type: "string" }, precision: { type: "string" }, json: { type: "boolean" } },
  async run(args) {
    const program = loadProgramFile(args.positionals[0], "compile");
    const out = str(args, "output");
    if (!out) throw new UsageError("compile: -o MODEL.safetensors is required");
    if (/\.json$/i.test(out)) throw new UsageError(`compile: -o '${out}' must not end in .json (that name is the sidecar's)`);
    const model = compile(program, { epsilon: epsilonOption(args), precision: precisionOption(args, "float32") });
    const summary = scalesSummary(model);
    let written: { paths: string[]; digest: string };
    try {
      written = await saveWeightsAsync(out, model.weights, {
        tokens: model.tokens,
        layout: layoutToJson(model.layout),
        program: program.source.text,
        scales: model.scales,
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "its directory does not exist" : code === "EACCES" ? "permission denied" : (e as Error).message;
      throw new UsageError(`compile: cannot write '${out}' and '${sidecarPath(out)}': ${why} (nothing was written)`);
    }
    if (args.values.json) printJson({ output: out, files: written.paths, digest: written.digest, ...summary });
    else {
      const c = model.weights.config;
      console.log(`wrote ${written.paths.join(" and ")}`);
      console.log(`  d_model ${c.d_model}, d_head ${c.d_head}, n_heads ${c.n_heads}, n_layers ${c.n_layers}, n_ctx ${c.n_ctx}, d_vocab ${c.d_vocab}`);
      console.log(`  bound: every attention puts ≥ 1 − ${model.scales.epsilon} on the symbolic choice, for every input up to ${c.n_ctx - 1} tokens, run in ${model.scales.precision}`);
      console.log(`  β = ${model.scales.beta.toFixed(1)}, γ = ${model.scales.gamma.toFixed(1)}, per-head leakage ≤ ${model.scales.headEpsilon.toExponential(2)}`);
    }
    return EXIT.ok;
  },
};
