/** Many `circuits` invocations in one process (test/cli/driver.ts), in order. */
import { node, type Outcome } from "./spawn.ts";

/** One result per argv: exit code, stdout and stderr, as a user would see them. */
export async function driver(argvs: readonly (readonly string[])[]): Promise<(Outcome & { argv: string[] })[]> {
  const out = await node(["--import", "tsx", "test/cli/driver.ts", JSON.stringify(argvs)]);
  if (out.code !== 0) throw new Error(`driver failed (${out.code}): ${out.stderr}`);
  return JSON.parse(out.stdout) as (Outcome & { argv: string[] })[];
}
