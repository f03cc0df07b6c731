/** Spawning the real `circuits` command from tests. */
import { spawn } from "node:child_process";
import { REPO_ROOT } from "./programs.ts";

export interface Outcome {
  readonly code: number | string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Spawn `node ARGS…` in the repository root (with extra environment variables); resolves when it exits. */
export function node(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, CIRCUITS_DEBUG: "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += String(d)));
    child.stderr.on("data", (d) => (stderr += String(d)));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Run `circuits ARGV…` as a user would (node bin/circuits.js). */
export const cli = (...argv: string[]): Promise<Outcome> => node(["bin/circuits.js", ...argv]);
