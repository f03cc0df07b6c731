/**
 * `npm run fuzz`: the full hostile-input run (issue 8). Library families in
 * bounded child processes (fuzz/child.ts), then the CLI as real processes
 * under a memory cap: every CLI case of issue 8, a sample of fuzzed programs
 * and corrupt files, and `compile -o` killed at random moments. Prints
 * inputs tried, crashes, hangs, out-of-memory and silent accepts; findings
 * of defects fixed on other branches (1, 2, 6, 7) are listed apart. Exit
 * code 1 when any other finding remains.
 *
 * With --commit it also writes fuzz/RESULTS.md (the run's settings, commit,
 * machine, load and summary), which the README's figures quote.
 *
 * usage: tsx fuzz/run.ts [--programs N] [--files N] [--cli-programs N] [--cli-files N] [--kills N] [--seed S] [--jobs J] [--commit]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CliCase, issueCases, judgeCli, killCompileCase, runCli } from "./cli.ts";
import { type Finding, LIMITS, Tally } from "./outcome.ts";
import { programInput, seedCorpus } from "./programs.ts";
import { baseFile, FILE_FAMILIES, fileInput } from "./safetensors.ts";

const { values } = parseArgs({
  options: {
    programs: { type: "string", default: "100000" },
    files: { type: "string", default: "10000" },
    "cli-programs": { type: "string", default: "30" },
    "cli-files": { type: "string", default: "20" },
    kills: { type: "string", default: "12" },
    seed: { type: "string", default: "1" },
    jobs: { type: "string", default: "2" },
    commit: { type: "boolean", default: false },
  },
});
const loadAtStart = loadavg()[0]!;
const n = (k: keyof typeof values) => Number(values[k]);
const seed = n("seed");
const tally = new Tally();
const t0 = Date.now();
const log = (s: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}\n`);
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Run one chunk in a child; a case silent for STALL_MS is killed, recorded, and the chunk resumes after it. */
const STALL_MS = 15_000;
async function chunk(family: string, from: number, to: number): Promise<void> {
  let next = from;
  while (next < to) {
    const startAt = next;
    const result = await new Promise<{ last: number; done: boolean; code: number | null; stalled: boolean }>((resolve) => {
      const child = spawn(process.execPath, ["--max-old-space-size=1024", "--import", "tsx", "fuzz/child.ts", family, String(seed), String(startAt), String(to)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let last = startAt - 1;
      let done = false;
      let stalled = false;
      let buf = "";
      let timer = setTimeout(() => ((stalled = true), child.kill("SIGKILL")), STALL_MS * 4); // start-up included
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = JSON.parse(buf.slice(0, nl)) as { start?: number; tally?: Parameters<Tally["merge"]>[0] };
          buf = buf.slice(nl + 1);
          if (line.start !== undefined) {
            last = line.start;
            clearTimeout(timer);
            timer = setTimeout(() => ((stalled = true), child.kill("SIGKILL")), STALL_MS);
          }
          if (line.tally) {
            tally.merge(line.tally);
            done = true;
          }
        }
      });
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()).slice(-2000));
      child.on("close", (code) => {
        clearTimeout(timer);
        if (!done && !stalled) log(`${family} child exited ${code} at case ${last}: ${err.slice(-300)}`);
        resolve({ last, done, code, stalled });
      });
    });
    if (result.done) return;
    // The child died on case `last`: record it and go on after it.
    const fam = FILE_FAMILIES.includes(family as never) ? `file:${family}` : family;
    const input = fam.startsWith("file:") ? fileInput(baseFile(), family as never, seed, result.last).what : JSON.stringify(programInput(family as never, seedCorpus(seed, 200), seed, result.last).slice(0, 200));
    tally.add({ family: fam, kind: result.stalled ? "hang" : "oom", detail: result.stalled ? `no progress for ${STALL_MS / 1000} s` : `child died (exit ${result.code}) under a 1 GB heap cap`, input });
    tally.count(fam);
    next = result.last + 1;
  }
}

/** Run tasks `jobs` at a time. */
async function pool<T>(tasks: (() => Promise<T>)[], jobs: number): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (i < tasks.length) await tasks[i++]!();
  }));
}

const jobs = Math.max(1, n("jobs"));
const CHUNK = 5000;
const tasks: (() => Promise<void>)[] = [];
for (const fam of ["mutated", "random"] as const) {
  const total = Math.ceil(n("programs") / 2);
  for (let a = 0; a < total; a += CHUNK) tasks.push(() => chunk(fam, a, Math.min(total, a + CHUNK)));
}
for (const fam of FILE_FAMILIES) {
  const total = Math.ceil(n("files") / FILE_FAMILIES.length);
  for (let a = 0; a < total; a += CHUNK) tasks.push(() => chunk(fam, a, Math.min(total, a + CHUNK)));
}
log(`library families: ${tasks.length} chunks, ${jobs} at a time`);
await pool(tasks, jobs);
log("library families done");

// ── the CLI as real processes ─────────────────────────────────────────────
const baselineRuns: { ms: number; cpuMs: number }[] = [];
for (let k = 0; k < 3; k++) baselineRuns.push(await runCli(["check-syntax", "programs/induction.circ"], 60_000));
const baseline = baselineRuns.map((r) => r.ms).sort((a, b) => a - b)[1]!;
const baselineCpu = baselineRuns.map((r) => r.cpuMs).sort((a, b) => a - b)[1]!;
// A CLI process pays tsx and module start-up first; a hang is more than LIMITS.caseMs of CPU beyond that
// (CPU, not wall time: the machine is shared), or a run still going at the wall-clock limit.
const hangMs = baselineCpu + LIMITS.caseMs;
const wallLimit = Math.max(30_000, baseline * 4);
log(`CLI start-up baseline ${baseline.toFixed(0)} ms wall, ${baselineCpu.toFixed(0)} ms CPU; hang: CPU > ${hangMs.toFixed(0)} ms or wall > ${wallLimit} ms`);

const cliTasks: (() => Promise<void>)[] = [];
const { cases, dir } = issueCases();
const record = (fam: string, fs: Finding[]) => {
  tally.count(fam);
  fs.forEach((f) => tally.add(f));
};
const runCase = (fam: string, c: CliCase) => async () => {
  const r = await runCli(c.argv, wallLimit);
  tally.maxRss = Math.max(tally.maxRss, r.rssBytes);
  record(fam, judgeCli(fam, c, r, c.defect === 1 || c.defect === 2 ? Number.POSITIVE_INFINITY : hangMs));
};
for (const c of cases) cliTasks.push(runCase("cli:issue-8", c));

const progDir = mkdtempSync(join(tmpdir(), "circuits-fuzz-progs-"));
const corpus = seedCorpus(seed, 200);
for (let k = 0; k < n("cli-programs"); k++) {
  const fam = k % 2 ? "random" : "mutated";
  const path = join(progDir, `p${k}.circ`);
  writeFileSync(path, programInput(fam, corpus, seed + 1, k));
  const argv = k % 3 === 0 ? ["run", path, "--input", "a b a"] : ["check-syntax", path];
  cliTasks.push(runCase("cli:programs", { name: `program ${k}`, argv }));
}
const base = baseFile();
for (let k = 0; k < n("cli-files"); k++) {
  const fam = FILE_FAMILIES[k % FILE_FAMILIES.length]!;
  const c = fileInput(base, fam, seed + 2, k);
  const path = join(progDir, `f${k}.safetensors`);
  writeFileSync(path, c.bytes);
  const defect = fam === "non-finite" || fam === "extreme" ? 6 : fam === "metadata" ? 7 : undefined;
  cliTasks.push(runCase(`cli:file:${fam}`, {
    name: `${k % 2 ? "analyze" : "decompile"} ${c.what}`,
    ...(defect ? { defect } : {}),
    argv: [k % 2 ? "analyze" : "decompile", path],
    judge: (r) => (c.mustRefuse && r.code === 0 ? "accepted" : null),
  }));
}
await pool(cliTasks, jobs);
log("CLI cases done");

const killProgram = join(progDir, "kill.circ");
writeFileSync(killProgram, "vocab a b c d e f g h\ncontext 1024\nlayer 1\n  head previous: select j = i - 1; copy token[j] as prev\nlayer 2\n  head induction: select latest j < i where prev[j] == token[i]; copy token[j] as next\noutput next\n");
for (let k = 0; k < n("kills"); k++) {
  const delay = baseline * 0.8 + ((k * 7919) % 4000);
  record("cli:kill-compile", await killCompileCase(progDir, killProgram, delay, k));
}
if (n("kills") > 0) {
  // One more, uninterrupted: it must succeed and sweep every temp file the kills left.
  const r = await runCli(["compile", killProgram, "-o", join(progDir, "kill0.safetensors")], 120_000);
  const left = readdirSync(progDir).filter((f) => f.startsWith(".kill0."));
  record("cli:kill-compile", r.code === 0 && left.length === 0 ? [] : [{ family: "cli:kill-compile", kind: "silent", defect: 8, detail: `after the kills: exit ${r.code}, temp files left: ${left.join(", ")}`, input: "compile after kills" }]);
}
log("kills done");

const seconds = (Date.now() - t0) / 1000;
console.log(`npm run fuzz — seed ${seed}, ${seconds.toFixed(0)} s (files under ${dir}, ${progDir})`);
console.log(tally.summary());
process.exitCode = tally.unexpected().length ? 1 : 0;
if (values.commit) writeResults(seconds);

/** fuzz/RESULTS.md: what ran, where, and the summary above. */
function writeResults(seconds: number): void {
  const git = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src", "fuzz"], { cwd: ROOT, encoding: "utf8" });
  const commit = git.status === 0 ? `${git.stdout.trim()}${dirty.stdout.trim() ? " (with uncommitted changes under src/ or fuzz/)" : ""}` : "unknown";
  const settings = (["programs", "files", "cli-programs", "cli-files", "kills", "seed", "jobs"] as const).map((k) => `--${k} ${values[k]}`).join(" ");
  const text = [
    "# Fuzz results",
    "",
    `Written by \`npm run fuzz -- --commit\` (fuzz/run.ts) on ${new Date().toISOString()} at commit ${commit}: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}.`,
    `Settings: \`${settings}\`. ${seconds.toFixed(0)} s wall; 1-minute load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end.`,
    "",
    "```",
    tally.summary(),
    "```",
    "",
  ].join("\n");
  writeFileSync(join(ROOT, "fuzz/RESULTS.md"), text);
  log("wrote fuzz/RESULTS.md");
}
