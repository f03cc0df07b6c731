/**
 * Runs several `circuits` invocations in ONE node process, because each fresh
 * process costs seconds (tsx + the mathjs import) and the CLI tests must stay
 * fast. For each argv it evaluates a fresh instance of src/cli/main.ts (a
 * cache-busting query makes ESM evaluate it again, exactly as bin/circuits.js
 * does once), captures what it writes, and waits for the exit code it sets.
 * Prints a JSON array of {argv, code, stdout, stderr}.
 *
 * usage: node --import tsx test/cli/driver.ts '[["run", "p.circ", "--input", "a"], …]'
 * An argv ["<each-command>", …rest] expands to [name, …rest] for each command.
 */
const mainUrl = new URL("../../src/cli/main.ts", import.meta.url).href;

interface Result {
  readonly argv: readonly string[];
  readonly code: number | string | null;
  readonly stdout: string;
  readonly stderr: string;
}

// ["<each-command>", …rest] stands for [name, …rest] for every command the CLI has.
const { commands } = await import("../../src/cli/commands.ts");
const runs = (JSON.parse(process.argv[2] ?? "[]") as string[][]).flatMap((argv) =>
  argv[0] === "<each-command>" ? commands.map((c) => [c.name, ...argv.slice(1)]) : [argv],
);
const results: Result[] = [];
const realOut = process.stdout.write.bind(process.stdout);
const realErr = process.stderr.write.bind(process.stderr);
const nodeArgv0 = process.argv[0]!;

for (const [k, argv] of runs.entries()) {
  let stdout = "";
  let stderr = "";
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  process.argv = [nodeArgv0, "bin/circuits.js", ...argv];
  process.exitCode = undefined;
  let code: number | string | null;
  try {
    await import(`${mainUrl}?invocation=${k}`);
    // main() settles asynchronously and always sets process.exitCode.
    const deadline = Date.now() + 30_000;
    while (process.exitCode === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    code = process.exitCode ?? "timeout";
  } catch (e) {
    code = `threw: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  results.push({ argv, code: code === undefined ? null : code, stdout, stderr });
}

process.exitCode = 0;
process.stdout.write(`${JSON.stringify(results)}\n`);
