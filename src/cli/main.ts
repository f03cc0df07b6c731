/**
 * `circuits` entry point: dispatch to a command, print errors as located
 * one-liners (exit codes in exitCodes.ts), never a stack trace.
 * Under --json an error is instead one JSON object on stdout,
 * {"error": {"kind", "message", …}}, with the same exit code.
 */
import { readFileSync } from "node:fs";
import { escapeControls, lineAndColumn, MAX_PRINTED_DIAGNOSTICS, ProgramError } from "../lang/diagnostics.ts";
import { type CommandEntry, commands } from "./commands.ts";
import { CircuitsError, WeightsFileError } from "../errors.ts";
import { errorKind, EXIT, exitCodeOf } from "./exitCodes.ts";
import { UsageError } from "./usageError.ts";

/** The package's version, from package.json (two levels up from both src/cli and dist/cli). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "circuits — write attention-head programs, compile them to transformer weights, run and analyse them",
    "",
    "usage: circuits COMMAND [options]   (circuits COMMAND --help for details; circuits --version)",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(topHelp());
    return name ? EXIT.ok : EXIT.badInput;
  }
  if (name === "--version" || name === "-V") {
    // The kernel line is a validate of a tiny module (src/kernels/choice.ts), loaded only here.
    const { kernelDescription } = await import("../kernels/choice.ts");
    console.log(`${version()}\nkernel: ${kernelDescription()}`);
    return EXIT.ok;
  }
  const entry: CommandEntry | undefined = commands.find((c) => c.name === name);
  if (!entry) throw new UsageError(`unknown command '${name}' (commands: ${commands.map((c) => c.name).join(", ")})`);
  // Loaded only now: the command's module and what it needs, nothing else.
  const [cmd, { parseCommandArgs }] = await Promise.all([entry.load(), import("./command.ts")]);
  const args = parseCommandArgs(cmd, rest);
  if (args.values.help) {
    console.log(`circuits ${cmd.name} — ${cmd.summary}\n\n${cmd.help}`);
    return EXIT.ok;
  }
  return cmd.run(args);
}

/** --json asked for (before any `--`): errors then go to stdout as one JSON object. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

/** The error object printed under --json: {error: {kind, message, diagnostics?}}. */
function errorJson(kind: string, e: unknown): Record<string, unknown> {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof ProgramError) {
    const diagnostics = [...e.diagnostics]
      .sort((a, b) => a.span.start - b.span.start)
      .slice(0, MAX_PRINTED_DIAGNOSTICS)
      .map((d) => ({ ...lineAndColumn(e.source.text, d.span.start), code: d.code, message: d.message, ...(d.hint ? { hint: d.hint } : {}) }));
    const omitted = e.diagnostics.length - diagnostics.length + e.omitted;
    return { error: { kind, path: e.source.path, message: message.split("\n")[0], diagnostics, ...(omitted > 0 ? { omitted } : {}) } };
  }
  const path = e instanceof CircuitsError && e.path !== undefined ? { path: e.path } : {};
  const reason = e instanceof WeightsFileError ? { reason: e.reason } : {};
  return { error: { kind, message, ...path, ...reason } };
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const kind = errorKind(e);
    if (wantsJson(argv)) {
      process.stdout.write(`${JSON.stringify(errorJson(kind, e))}\n`);
      if (kind === "internal" && process.env.CIRCUITS_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    } else if (e instanceof ProgramError) {
      process.stderr.write(`${e.message}\n`);
    } else if (kind !== "internal") {
      process.stderr.write(`circuits: ${escapeControls((e as Error).message)}\n`);
    } else {
      const msg = e instanceof Error ? e.message : String(e);
      process.stderr.write(`circuits: internal error: ${escapeControls(msg)}\n`);
      if (process.env.CIRCUITS_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    }
    process.exitCode = exitCodeOf(e);
  },
);
