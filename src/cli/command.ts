/**
 * What every CLI command shares: its declaration (name, usage, options), the
 * one error type that maps to exit code 2, and loading a program file.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { load } from "../lang/check.ts";
import type { Program } from "../lang/program.ts";
import { PROGRAM_FILE_LIMIT, readTextFile } from "./readInput.ts";
import { CircuitsError } from "../errors.ts";
import { UsageError } from "./usageError.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Usage line(s) and option descriptions, printed by --help. */
  readonly help: string;
  readonly options: Options;
  /** Most positional arguments accepted (default 1); more is a usage error. */
  readonly maxPositionals?: number;
  run(args: ParsedArgs): Promise<number> | number;
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

export { UsageError };

/** Parse argv for a command, turning parseArgs' errors into UsageErrors. */
export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    const max = cmd.maxPositionals ?? 1;
    if (positionals.length > max) {
      throw new UsageError(`${cmd.name}: unexpected argument '${positionals[max]}' (see 'circuits ${cmd.name} --help')`);
    }
    return { values: values as ParsedArgs["values"], positionals };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${(e as Error).message} (see 'circuits ${cmd.name} --help')`);
  }
}

/**
 * Run `f`; a CircuitsError of class `only` escaping it is prefixed with where
 * it happened ("check: m.safetensors") and rethrown, keeping its kind and
 * fields. UsageErrors already name their command and pass unchanged, and so
 * does anything else (a bug). Works for async `f` too.
 */
export function inContext<T>(context: string, f: () => T, only: abstract new (...args: never[]) => CircuitsError = CircuitsError): T {
  const prefix = (e: unknown): never => {
    if (e instanceof only && !(e instanceof UsageError)) throw e.within(context);
    throw e;
  };
  try {
    const out = f();
    return (out instanceof Promise ? out.catch(prefix) : out) as T;
  } catch (e) {
    return prefix(e);
  }
}

/** Read and check a program file; a missing file is a UsageError. */
export function loadProgramFile(path: string | undefined, cmd: string): Program {
  if (!path) throw new UsageError(`${cmd}: missing PROGRAM argument (see 'circuits ${cmd} --help')`);
  let text: string;
  try {
    text = readTextFile(path, PROGRAM_FILE_LIMIT, "program file");
  } catch (e) {
    throw new UsageError(`${cmd}: ${(e as Error).message}`);
  }
  return load({ path, text });
}

/** A string option, or undefined. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

/** An integer option within [min, max], or the default. Only plain decimal digits (optionally signed) are integers: not '', '0x10', '1e3' or ' 5'. */
export function int(args: ParsedArgs, name: string, dflt: number, min: number, max: number): number {
  const v = str(args, name);
  if (v === undefined) return dflt;
  const n = /^[+-]?[0-9]{1,16}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer between ${min} and ${max}, got '${v}'`);
  }
  return n;
}

/** A finite number option (plain decimal notation, e.g. 0.5, 1e-3), or undefined; never Infinity or NaN. */
export function num(args: ParsedArgs, name: string): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  const n = finiteNumber(v);
  if (Number.isNaN(n)) throw new UsageError(`--${name} must be a finite number, got '${v}'`);
  return n;
}

/** A string in plain decimal notation as a finite number, else NaN (never ±Infinity, hex or ''). */
export function finiteNumber(v: string): number {
  const n = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(v) ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : Number.NaN;
}

/** Print JSON to stdout, one document. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
