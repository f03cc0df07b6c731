/**
 * What every CLI command shares: its declaration (name, usage, options), the
 * one error type that maps to exit code 2, and loading a program file.
 */
import { readFileSync } from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { load } from "../lang/check.ts";
import type { Program } from "../lang/program.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Usage line(s) and option descriptions, printed by --help. */
  readonly help: string;
  readonly options: Options;
  run(args: ParsedArgs): Promise<number> | number;
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/** A user error: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Parse argv for a command, turning parseArgs' errors into UsageErrors. */
export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see 'circuits ${cmd.name} --help')`);
  }
}

/** Read and check a program file; a missing file is a UsageError. */
export function loadProgramFile(path: string | undefined, cmd: string): Program {
  if (!path) throw new UsageError(`${cmd}: missing PROGRAM argument (see 'circuits ${cmd} --help')`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new UsageError(`${cmd}: cannot read program file '${path}'`);
  }
  return load({ path, text });
}

/** A string option, or undefined. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

/** An integer option within [min, max], or the default. */
export function int(args: ParsedArgs, name: string, dflt: number, min: number, max: number): number {
  const v = str(args, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer between ${min} and ${max}, got '${v}'`);
  }
  return n;
}

/** Print JSON to stdout, one document. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
