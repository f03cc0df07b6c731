/**
 * Start-up of the `circuits` command: wall time of whole processes, against
 * `node -e 0` measured in the same interleaved rounds, so the load of a shared
 * machine hits every contender alike. The built JavaScript (dist/, what the
 * published package runs) is measured through the bin, as a clone runs it
 * (the bin first checks that dist/ is newer than src/) and as the installed
 * package's bin does (dist/cli/main.js directly); the tsx path from the
 * sources is measured beside it for scale.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { summarize, type Timing } from "./lib.ts";

export interface StartupCase {
  readonly name: string;
  readonly argv: readonly string[];
}

export interface StartupResult {
  readonly name: string;
  readonly command: string;
  readonly wall: Timing;
  /** User + system CPU seconds of the process (from /usr/bin/time), steadier than wall on a loaded machine; null without it. */
  readonly cpu: Timing | null;
  /** Median of (this run − the same round's `node -e 0`), seconds. */
  readonly overNode: number;
}

/** The cases: the baseline, --help, --version and a short run, from dist/ and from the sources. */
export function startupCases(root: string): StartupCase[] {
  const run = ["run", "programs/induction.circ", "--input", "a b c a"];
  const tsx = ["--import", "tsx", join(root, "src/cli/main.ts")];
  return [
    { name: "node -e 0", argv: ["-e", "0"] },
    { name: "--help (bin, dist)", argv: ["bin/circuits.js", "--help"] },
    { name: "--help (dist/cli/main.js)", argv: ["dist/cli/main.js", "--help"] },
    { name: "--version (bin, dist)", argv: ["bin/circuits.js", "--version"] },
    { name: "run (bin, dist)", argv: ["bin/circuits.js", ...run] },
    { name: "run (dist/cli/main.js)", argv: ["dist/cli/main.js", ...run] },
    { name: "--help (tsx, sources)", argv: [...tsx, "--help"] },
    { name: "run (tsx, sources)", argv: [...tsx, ...run] },
  ];
}

/** True when dist/ was built after the last change under src/ (what bin/circuits.js checks before running it). */
export function distIsFresh(root: string): boolean {
  const stamp = join(root, "dist/BUILD_STAMP");
  if (!existsSync(stamp)) return false;
  const since = statSync(stamp).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? newer(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs > since));
  return !newer(join(root, "src"));
}

const TIME = "/usr/bin/time";

/** Build dist/ (npm run build): what `node bin/circuits.js` then runs. */
export function buildDist(root: string): void {
  const build = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: root, encoding: "utf8" });
  if (build.status !== 0 || !distIsFresh(root)) throw new Error(`bench: npm run build failed or left dist/ stale:\n${build.stderr}`);
}

/** buildDist unless dist/ is newer than every source. */
export function ensureDist(root: string): void {
  if (!distIsFresh(root)) buildDist(root);
}

/** One run of `node argv` (wall seconds, and user + system CPU seconds from /usr/bin/time where it is installed); it must exit 0. */
export function timeProcess(root: string, argv: readonly string[]): { wall: number; cpu: number | null; stdout: string } {
  const withTime = existsSync(TIME);
  const t0 = performance.now();
  const p = withTime
    ? spawnSync(TIME, ["-f", "cpu %U %S", process.execPath, ...argv], { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 })
    : spawnSync(process.execPath, argv, { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 });
  const wall = (performance.now() - t0) / 1000;
  if (p.status !== 0) throw new Error(`bench: node ${argv.join(" ")} exited ${p.status}: ${p.stderr.slice(0, 400)}`);
  const m = /cpu ([0-9.]+) ([0-9.]+)\s*$/.exec(p.stderr);
  return { wall, cpu: m ? Number(m[1]) + Number(m[2]) : null, stdout: p.stdout };
}

/** Run every case once per round, in rotating order, `rounds` times (after one warm-up round); each must exit 0. */
export function measureStartup(root: string, cases: readonly StartupCase[], rounds: number): StartupResult[] {
  const times = cases.map(() => [] as number[]);
  const cpu = cases.map(() => [] as number[]);
  // /usr/bin/time adds a fork+exec of its own to the wall time, the same for every case, so "over node" cancels it.
  for (let r = -1; r < rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + Math.max(r, 0)) % cases.length;
      const t = timeProcess(root, cases[i]!.argv);
      if (r < 0) continue;
      times[i]!.push(t.wall);
      if (t.cpu !== null) cpu[i]!.push(t.cpu);
    }
  }
  const base = times[0]!;
  return cases.map((c, i) => ({
    name: c.name,
    command: `node ${c.argv.join(" ")}`,
    wall: summarize(times[i]!),
    cpu: cpu[i]!.length === rounds ? summarize(cpu[i]!) : null,
    overNode: summarize(times[i]!.map((t, r) => t - base[r]!)).median,
  }));
}
