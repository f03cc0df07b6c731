/**
 * `circuits decompile`: weights back to program text. A compiled file's
 * layout names the residual directions, and every head is read from its QK
 * and OV circuits; without a layout the command says what cannot be
 * recovered and prints what the weights alone show instead.
 */
import { formatAnalysis } from "../analysis/analyze.ts";
import { DecompileError, decompile, noLayoutExplanation } from "../analysis/decompile.ts";
import { analyzeOrRefuse, loadAnalysisInput } from "./analyzeCmd.ts";
import { type Command, printJson, UsageError } from "./command.ts";

export const decompileCommand: Command = {
  name: "decompile",
  summary: "recover the program a compiled model implements, from its weights",
  help: [
    "usage: circuits decompile MODEL.safetensors [--json]",
    "       circuits decompile PROGRAM [--json]     (compile, then decompile: a round trip)",
    "",
    "  --json   {program: text, heads: [{name, layer, index, select, copies, constants}]}",
    "",
    "Needs the layout (named residual directions) that 'circuits compile' stores in the file;",
    "the program text stored beside it is never read. Each head's selection and copies are read",
    "from W_QK and W_OV in named directions, and the result is re-checked by the checker.",
    "Without a layout no program text can be recovered honestly: the command explains why,",
    "prints the per-head detection, copying scores and head-level composition graph, and exits 1.",
  ].join("\n"),
  options: { json: { type: "boolean" } },
  run(args) {
    const path = args.positionals[0];
    const input = loadAnalysisInput(path, "decompile");
    if (args.positionals.length > 1) throw new UsageError(`decompile: unexpected argument '${args.positionals[1]}'`);
    if (!input.layout) {
      const partial = analyzeOrRefuse(path!, "decompile", input.weights, { detect: { bos: input.bos }, notes: input.notes, skipDetection: input.notRunnable });
      if (args.values.json) printJson({ program: null, reason: noLayoutExplanation().join(" "), analysis: partial });
      else console.log([...noLayoutExplanation().map((l) => `# ${l}`), "", formatAnalysis(partial)].join("\n"));
      return 1;
    }
    let result: ReturnType<typeof decompile>;
    try {
      result = decompile(input.weights, { layout: input.layout, tokens: input.tokens, path: `${path} (decompiled)` });
    } catch (e) {
      if (e instanceof DecompileError) throw new UsageError(`decompile: ${path}: ${e.message.replace(/^decompile: /, "")}`);
      throw e;
    }
    if (args.values.json) {
      printJson({
        program: result.text,
        heads: result.heads.map((h) => ({ name: h.name, layer: h.layer, index: h.index, select: h.select, copies: h.copies, constants: h.constants })),
      });
    } else process.stdout.write(result.text);
    return 0;
  },
};
