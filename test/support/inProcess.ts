/** Running a CLI command in-process as main.ts would (exit codes from exitCodes.ts), capturing stdout. */
import { vi } from "vitest";
import { type Command, parseCommandArgs } from "../../src/cli/command.ts";
import { exitCodeOf } from "../../src/cli/exitCodes.ts";
import { CircuitsError } from "../../src/errors.ts";

/** What one in-process run gave. */
export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly error?: string;
}

/** Run `cmd` on argv; a CircuitsError becomes its exit code (2) with its message, anything else (a bug) propagates. */
export async function runInProcess(cmd: Command, ...argv: string[]): Promise<Outcome> {
  let stdout = "";
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void (stdout += `${a.join(" ")}\n`));
  const write = vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  try {
    return { code: await cmd.run(parseCommandArgs(cmd, argv)), stdout };
  } catch (e) {
    if (!(e instanceof CircuitsError)) throw e;
    return { code: exitCodeOf(e), stdout, error: e.message };
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
}
