/** Running a CLI command in-process as main.ts would (exit 2 for a UsageError), capturing stdout. */
import { vi } from "vitest";
import { type Command, parseCommandArgs, UsageError } from "../../src/cli/command.ts";

/** What one in-process run gave. */
export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly error?: string;
}

/** Run `cmd` on argv; a UsageError becomes exit code 2 with its message, anything else propagates. */
export async function runInProcess(cmd: Command, ...argv: string[]): Promise<Outcome> {
  let stdout = "";
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void (stdout += `${a.join(" ")}\n`));
  const write = vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  try {
    return { code: await cmd.run(parseCommandArgs(cmd, argv)), stdout };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return { code: 2, stdout, error: e.message };
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
}
