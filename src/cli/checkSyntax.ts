/** `circuits check-syntax`: parse and check a program, report errors only. */
import { type Command, loadProgramFile, printJson } from "./command.ts";

export const checkSyntaxCommand: Command = {
  name: "check-syntax",
  summary: "parse and type-check a program; print nothing but errors",
  help: "usage: circuits check-syntax PROGRAM [--json]\n\n  --json   print {ok, layers, heads, features, composition} on success",
  options: { json: { type: "boolean" } },
  run(args) {
    const program = loadProgramFile(args.positionals[0], "check-syntax");
    if (args.values.json) {
      printJson({
        ok: true,
        layers: program.layers.length,
        heads: program.layers.flat().map((h) => ({ name: h.name, layer: h.layer })),
        features: [...program.features.values()].map((f) => ({
          name: f.name, domain: f.domain, distribution: f.distribution, layer: f.layer, head: f.head,
        })),
        composition: program.composition,
        beyondInduction: program.beyondInduction,
      });
    }
    return 0;
  },
};
