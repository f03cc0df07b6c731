/**
 * The CLI as real processes, each under a memory cap
 * (--max-old-space-size=1024) with its peak resident set measured by
 * /usr/bin/time and a wall-clock limit: every CLI case of issue 8 (each
 * tagged with its defect and judged for a silent accept), and a sample of
 * fuzzed programs and corrupt files through `check-syntax`/`run`/`analyze`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { type Finding, LIMITS, shorten } from "./outcome.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export interface CliResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** User + system CPU seconds ×1000: unlike wall time, not inflated by other work on a shared machine. */
  readonly cpuMs: number;
  readonly rssBytes: number;
  readonly killed: boolean;
}

/** Run `circuits ARGV…` as a child process with the memory cap; kill it after `killMs`. */
export function runCli(argv: readonly string[], killMs: number): Promise<CliResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn("/usr/bin/time", ["-f", "__RSS_KB %M %U %S", process.execPath, "--max-old-space-size=1024", "bin/circuits.js", ...argv], {
      cwd: ROOT,
      env: { ...process.env, CIRCUITS_DEBUG: "" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    const cap = 1 << 20; // keep at most 1 MB of each stream; the length is what matters past that
    let outLen = 0;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      outLen += d.length;
      if (stdout.length < cap) stdout += d;
    });
    child.stderr.on("data", (d: string) => {
      if (stderr.length < cap) stderr += d;
    });
    let killed = false;
    // /usr/bin/time and node share a new process group, so a kill reaches both.
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, killMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const m = /__RSS_KB (\d+) ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      const rssBytes = m ? Number(m[1]) * 1024 : 0;
      const cpuMs = m ? (Number(m[2]) + Number(m[3])) * 1000 : 0;
      const sig = /Command terminated by signal (\d+)/.exec(stderr);
      stderr = stderr.replace(/(Command (terminated by signal \d+|exited with non-zero status \d+)\n)?__RSS_KB [\d. ]+\s*$/, "");
      resolve({
        code: killed ? null : sig ? 128 + Number(sig[1]) : code,
        signal,
        stdout: outLen > cap ? `${stdout}…(${outLen} bytes)` : stdout,
        stderr,
        ms: performance.now() - t0,
        cpuMs,
        rssBytes,
        killed,
      });
    });
  });
}

/** One CLI case: its argv, the defect it probes and how to tell a silent accept (null: fine). */
export interface CliCase {
  readonly name: string;
  readonly defect?: number;
  readonly argv: readonly string[];
  readonly judge?: (r: CliResult) => string | null;
}

const exit2 = (r: CliResult): string | null => (r.code === 2 ? null : `exit code ${r.code}, expected 2`);
const oneLine = (r: CliResult): string | null => exit2(r) ?? (r.stderr.trim().split("\n").length === 1 && r.stderr.length < 1000 ? null : `error is ${r.stderr.length} chars / ${r.stderr.trim().split("\n").length} lines`);
const jsonError = (r: CliResult): string | null => {
  if (r.code !== 2) return `exit code ${r.code}`;
  try {
    return (JSON.parse(r.stdout) as { error?: unknown }).error ? null : "no error object";
  } catch {
    return `stdout is not a JSON error object: ${shorten(r.stdout, 60)}`;
  }
};
/** Most characters an error report may take: at most 50 diagnostics of a few short lines each are printed. */
const MAX_REPORT = 64 * 1024;
const noRaw = (r: CliResult): string | null =>
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.stdout + r.stderr) ? "control bytes echoed raw" : r.stderr.length > MAX_REPORT ? `${r.stderr.length} chars of error` : null;

/** Build the files the cases need under a fresh directory and return every CLI case of issue 8. */
export function issueCases(): { cases: CliCase[]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "circuits-fuzz-cli-"));
  const f = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const P = `${ROOT}/programs/induction.circ`;
  const shard = (over: Record<string, unknown>, shardOver: Record<string, unknown> = {}) => JSON.stringify({
    program: "p.circ", mode: "exhaustive", precision: "float64", sequences: 10, disagreements: 0, first: null, seconds: 1,
    bound: {}, shard: { index: 1, count: 1, ...shardOver }, maxLength: 4, alphabet: ["a"], ...over,
  });
  const induction = (c: number) => `vocab a b c d e f g h\ncontext ${c}\nlayer 1\n  head previous: select j = i - 1; copy token[j] as prev\nlayer 2\n  head induction: select latest j < i where prev[j] == token[i]; copy token[j] as next\noutput next\n`;
  const big3g = join(dir, "big3g.circ");
  writeFileSync(big3g, "");
  truncateSync(big3g, 3 * 2 ** 30); // sparse: 3 GB as far as stat and read are concerned
  const fifo = join(dir, "fifo.circ");
  execFileSync("mkfifo", [fifo]);
  const heads64 = Array.from({ length: 64 }, (_, l) => `layer ${l + 1}\n${Array.from({ length: 64 }, (_, h) => ` head h${l}_${h}: select j = i - 1; copy token[j] as f${l}_${h}`).join("\n")}`).join("\n");
  const outDir = join(dir, "out");
  mkdirSync(outDir);
  mkdirSync(join(outDir, "m.json"));
  const vocabA = f("one-token.circ", "vocab a\ncontext 8\nlayer 1\n  head h: select j = i - 1; copy token[j] as p\noutput p\n");
  const prev2048 = f("prev2048.circ", "vocab a b c d e f g h\ncontext 2048\nlayer 1\n  head previous: select j = i - 1; copy token[j] as prev\noutput prev\n");
  const cases: CliCase[] = [
    // defect 3: merge
    ...([["count 1e9", {}, { count: 1e9 }], ["count 2^53", {}, { count: 2 ** 53 }], ["count 5e6", {}, { count: 5e6 }], ["count -1", {}, { count: -1 }],
      ["count 1.5", {}, { count: 1.5 }], ["disagreements NaN", { disagreements: "NaN" }, {}], ["sequences 1e300", { sequences: 1e300 }, {}]] as const)
      .map(([n, o, s]) => ({ name: `merge ${n}`, defect: 3, argv: ["merge", f(`shard-${n.replace(/\W/g, "_")}.json`, shard(o, s))], judge: oneLine })),
    // defect 4: sizes and non-regular files
    { name: "1 MB comment", defect: 4, argv: ["check-syntax", f("comment.circ", `# ${"x".repeat(1_000_000)}\n${induction(64)}`)], judge: (r) => (r.code === 0 ? null : `exit ${r.code}`) },
    { name: "10 MB whitespace", defect: 4, argv: ["check-syntax", f("ws.circ", `${" ".repeat(10_000_000)}${induction(64)}`)], judge: oneLine },
    { name: "2 MB one-line syntax error", defect: 4, argv: ["check-syntax", f("syntax.circ", `vocab ${"a".repeat(2_000_000)} %`)], judge: oneLine },
    { name: "30 kB one-line syntax error", defect: 4, argv: ["check-syntax", f("syntax30k.circ", `vocab ${"a".repeat(30_000)} %`)], judge: (r) => exit2(r) ?? noRaw(r) },
    { name: "20,000 duplicate head names", defect: 4, argv: ["check-syntax", f("dups.circ", `vocab a\ncontext 4\nlayer 1\n${" head h: select j = i - 1; copy token[j] as p\n".repeat(20_000)}output p\n`)], judge: (r) => exit2(r) ?? noRaw(r) },
    { name: "650 duplicate head names (under the size limit)", defect: 4, argv: ["check-syntax", f("dups2.circ", `vocab a\ncontext 4\nlayer 1\n${Array.from({ length: 650 }, (_, k) => ` head h: select j = i - 1; copy token[j] as p${k}\n`).join("")}output p0\n`)], judge: (r) => exit2(r) ?? noRaw(r) },
    { name: "5,000 unknown features", defect: 4, argv: ["check-syntax", f("unknown.circ", `vocab a\ncontext 4\nlayer 1\n${Array.from({ length: 5000 }, (_, k) => `head u${k}: select j=i-1; copy n${k}[j] as g${k}`).join("\n")}\noutput g0\n`)], judge: (r) => exit2(r) ?? noRaw(r) },
    { name: "600 unknown features (under the size limit)", defect: 4, argv: ["check-syntax", f("unknown2.circ", `vocab a\ncontext 4\nlayer 1\n${Array.from({ length: 50 }, (_, k) => `head d${k}: select j=i-1; copy token[j] as f${k}`).join("\n")}\nlayer 2\n${Array.from({ length: 600 }, (_, k) => `head u${k}: select j=i-1; copy n${k}[j] as g${k}`).join("\n")}\noutput g0\n`)], judge: (r) => exit2(r) ?? (r.stderr.length < 64_000 ? null : `${r.stderr.length} chars`) },
    { name: "/dev/zero as a program", defect: 4, argv: ["check-syntax", "/dev/zero"], judge: oneLine },
    { name: "3 GB program file", defect: 4, argv: ["check-syntax", big3g], judge: oneLine },
    { name: "FIFO as a program", defect: 4, argv: ["check-syntax", fifo], judge: oneLine },
    { name: "directory as a program", defect: 4, argv: ["check-syntax", dir], judge: oneLine },
    { name: "/dev/zero as a model", defect: 4, argv: ["analyze", "/dev/zero.safetensors"], judge: oneLine },
    // defect 5: resources
    { name: "--workers 256", defect: 5, argv: ["check", P, "--exhaustive", "--max-length", "3", "--workers", "256"], judge: oneLine },
    { name: "64×64 heads", defect: 5, argv: ["compile", f("heads64.circ", `vocab a b\ncontext 8\n${heads64}\noutput f0_0\n`), "-o", join(dir, "h64.safetensors")], judge: (r) => exit2(r) ?? noRaw(r) ?? (existsSync(join(dir, "h64.safetensors")) ? "file written" : null) },
    { name: "context 8192 induction", defect: 5, argv: ["compile", f("ind8192.circ", induction(8192)), "-o", join(dir, "i8192.safetensors")], judge: (r) => oneLine(r) ?? (existsSync(join(dir, "i8192.safetensors")) ? "file written" : null) },
    { name: "context 4096 induction", defect: 5, argv: ["compile", f("ind4096.circ", induction(4096)), "-o", join(dir, "i4096.safetensors")], judge: (r) => oneLine(r) ?? (existsSync(join(dir, "i4096.safetensors")) ? "file written" : null) },
    // defect 8: the pair
    { name: "sidecar path is a directory", defect: 8, argv: ["compile", P, "-o", join(outDir, "m.safetensors")], judge: (r) => oneLine(r) ?? (readdirSync(outDir).join(",") === "m.json" ? null : `left ${readdirSync(outDir).join(",")}`) },
    // defect 9: smaller
    { name: "--power Infinity", defect: 9, argv: ["generate", P, "--prompt", "a", "--steps", "3", "--power", "Infinity"], judge: oneLine },
    { name: "--power 1e309", defect: 9, argv: ["generate", P, "--prompt", "a", "--steps", "3", "--power", "1e309"], judge: oneLine },
    { name: "huge shift literal", defect: 9, argv: ["check-syntax", f("shift.circ", "vocab 0..3\ncontext 8\nlayer 1\n  head h: select latest j < i where pos[j] == pos[i] + 99999999999999999999999; copy token[j] as p\noutput p\n")], judge: (r) => exit2(r) ?? (/E050/.test(r.stderr) ? null : "no E050") },
    { name: "UTF-8 BOM", defect: 9, argv: ["check-syntax", f("bom.circ", `\uFEFF${induction(64)}`)], judge: (r) => (r.code === 0 ? null : `exit ${r.code}: ${shorten(r.stderr, 80)}`) },
    { name: "NUL byte", defect: 9, argv: ["check-syntax", f("nul.circ", induction(64).replace("context 64", "context 64\u0000"))], judge: (r) => exit2(r) ?? (/:2:11: error E002/.test(r.stderr) ? null : "no located E002") },
    { name: "ANSI bytes", defect: 9, argv: ["check-syntax", f("ansi.circ", induction(64).replace("as next", "as next \u001b[31mRED\u001b[0m"))], judge: (r) => exit2(r) ?? noRaw(r) },
    { name: "ELF file", defect: 9, argv: ["check-syntax", f("elf.circ", Buffer.concat([Buffer.from("\u007fELF\u0002\u0001\u0001\u0000", "latin1"), Buffer.alloc(6000, 0)]))], judge: (r) => exit2(r) ?? noRaw(r) },
    { name: "--steps ''", defect: 9, argv: ["generate", P, "--prompt", "a", "--steps", ""], judge: oneLine },
    { name: "--steps 0x10", defect: 9, argv: ["generate", P, "--prompt", "a", "--steps", "0x10"], judge: oneLine },
    { name: "run with extra positional", defect: 9, argv: ["run", P, "extra", "--input", "a"], judge: oneLine },
    { name: "--json error (usage)", defect: 9, argv: ["run", P, "--json"], judge: jsonError },
    { name: "--json error (program)", defect: 9, argv: ["check-syntax", f("bad.circ", "vocab a\ncontext 4\nlayer 1\n  head h: select j = i - 1; copy tok[j] as p\noutput p\n"), "--json"], judge: jsonError },
    { name: "--json error (merge)", defect: 9, argv: ["merge", f("shard-json.json", shard({ disagreements: "NaN" })), "--json"], judge: jsonError },
    // the other branches' defects, expected until they merge
    { name: "one-token vocabulary", defect: 2, argv: ["check", vocabA, "--samples", "20"], judge: (r) => (r.code === 0 ? null : `exit ${r.code}: ${shorten(r.stdout, 120)}`) },
    { name: "float32 at context 2048", defect: 1, argv: ["check", prev2048, "--precision", "float32", "--samples", "3"], judge: (r) => (r.code === 0 || r.code === 2 ? null : `exit ${r.code}: ${shorten(r.stdout, 120)}`) },
  ];
  return { cases, dir };
}

/**
 * Judge one finished CLI run: crash, hang, oom, or the case's silent accept.
 * A hang is CPU time over `hangCpuMs` (start-up baseline + 2 s) or a run
 * killed at the wall-clock limit (which also catches blocking on a FIFO).
 */
export function judgeCli(family: string, c: CliCase, r: CliResult, hangCpuMs: number): Finding[] {
  const out: Finding[] = [];
  const input = `circuits ${c.argv.map((a) => shorten(a, 60)).join(" ")}`;
  const tag = c.defect === undefined ? {} : { defect: c.defect };
  if (r.rssBytes > LIMITS.rssBytes || r.code === 134 || /heap out of memory/.test(r.stderr)) out.push({ family, kind: "oom", ...tag, detail: `${c.name}: ${(r.rssBytes / 2 ** 20).toFixed(0)} MB`, input });
  else if (r.killed || r.cpuMs > hangCpuMs) out.push({ family, kind: "hang", ...tag, detail: `${c.name}: ${r.killed ? "killed at the wall-clock limit" : `${r.cpuMs.toFixed(0)} ms CPU`}`, input });
  else if (![0, 1, 2].includes(r.code ?? -1) || /internal error|\n\s+at .+:\d+:\d+\)?\n/.test(r.stderr + r.stdout)) {
    out.push({ family, kind: "crash", ...tag, detail: `${c.name}: exit ${r.code}: ${shorten(r.stderr, 160)}`, input });
  } else {
    const why = c.judge?.(r) ?? null;
    if (why) out.push({ family, kind: "silent", ...tag, detail: `${c.name}: ${why}`, input });
  }
  return out;
}

/** Kill `compile -o` at a random moment, then check the pair: old pair, new pair, or a mismatch that readers refuse. */
export async function killCompileCase(dir: string, program: string, delayMs: number, k: number): Promise<Finding[]> {
  const family = "cli:kill-compile";
  const out = join(dir, `kill${k % 3}.safetensors`);
  const side = out.replace(/\.safetensors$/, ".json");
  const before = existsSync(out) ? readFileSync(out) : null;
  const child = spawn(process.execPath, ["bin/circuits.js", "compile", program, "-o", out], { cwd: ROOT, stdio: "ignore" });
  const timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
  await new Promise((r) => child.on("close", r));
  clearTimeout(timer);
  const findings: Finding[] = [];
  if (!existsSync(out) || !existsSync(side)) return findings; // nothing in place yet, or only the new sidecar: nothing to load
  const digestOf = (b: Buffer) => {
    const n = Number(b.readBigUInt64LE(0));
    return JSON.parse(JSON.parse(b.subarray(8, 8 + n).toString("utf8")).__metadata__.digest);
  };
  const weights = readFileSync(out);
  const sideDigest = JSON.parse(readFileSync(side, "utf8")).digest;
  if (digestOf(weights) !== sideDigest) {
    const r = await runCli(["analyze", out], 60_000);
    if (r.code !== 2 || !/does not belong/.test(r.stderr)) {
      findings.push({ family, kind: "silent", defect: 8, detail: `mismatched pair accepted by analyze (exit ${r.code})`, input: `kill after ${delayMs} ms` });
    }
  } else if (before && !weights.equals(before) && digestOf(before) === sideDigest) {
    findings.push({ family, kind: "silent", defect: 8, detail: "weights changed but digest not", input: `kill after ${delayMs} ms` });
  }
  return findings;
}
