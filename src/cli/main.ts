/**
 * `circuits` entry point: dispatch to a command, print errors as located
 * one-liners (exit 2 for bad programs, inputs and usage), never a stack trace.
 */
import { ProgramError } from "../lang/diagnostics.ts";
import { InputError } from "../lang/tokens.ts";
import { CompileError } from "../compiler/compile.ts";
import { type Command, parseCommandArgs, UsageError } from "./command.ts";
import { commands } from "./commands.ts";

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "circuits — write attention-head programs, compile them to transformer weights, run and analyse them",
    "",
    "usage: circuits COMMAND [options]   (circuits COMMAND --help for details)",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(topHelp());
    return name ? 0 : 2;
  }
  const cmd: Command | undefined = commands.find((c) => c.name === name);
  if (!cmd) throw new UsageError(`unknown command '${name}' (commands: ${commands.map((c) => c.name).join(", ")})`);
  const args = parseCommandArgs(cmd, rest);
  if (args.values.help) {
    console.log(`circuits ${cmd.name} — ${cmd.summary}\n\n${cmd.help}`);
    return 0;
  }
  return cmd.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ProgramError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 2;
    } else if (e instanceof UsageError || e instanceof InputError || e instanceof CompileError) {
      process.stderr.write(`circuits: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      const msg = e instanceof Error ? e.message : String(e);
      process.stderr.write(`circuits: internal error: ${msg}\n`);
      if (process.env.CIRCUITS_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 1;
    }
  },
);
