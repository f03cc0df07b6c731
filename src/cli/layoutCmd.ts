/** `circuits layout`: the residual stream's named blocks. */
import { checkedToLayout, layoutToJson } from "../compiler/layout.ts";
import { table } from "../report/table.ts";
import { type Command, loadProgramFile, printJson } from "./command.ts";
import { EXIT } from "./exitCodes.ts";

export const layoutCommand: Command = {
  name: "layout",
  summary: "print the residual-stream layout: blocks, dimensions, writers and readers",
  help: "usage: circuits layout PROGRAM [--json]\n\n  --json   the layout as structured JSON (blocks with offsets, labels, writers, readers)",
  options: { json: { type: "boolean" } },
  run(args) {
    const program = loadProgramFile(args.positionals[0], "layout");
    const layout = checkedToLayout(program);
    if (args.values.json) {
      printJson(layoutToJson(layout));
      return EXIT.ok;
    }
    const rows = layout.blocks.map((b) => [
      b.name,
      b.size === 1 ? String(b.offset) : `${b.offset}–${b.offset + b.size - 1}`,
      String(b.size),
      b.writtenBy ? `layer ${b.layer} (${b.writtenBy})` : b.kind === "bos" || b.kind === "token" ? "W_E" : "W_pos",
      b.readBy.map((r) => `${r.head}:${r.side}`).join(", ") || (b.name === program.output ? "W_U" : "—"),
    ]);
    console.log(table([["block", "dims", "size", "written by", "read by"], ...rows]));
    console.log(`d_model = ${layout.dModel}`);
    return EXIT.ok;
  },
};
