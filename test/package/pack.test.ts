/**
 * The package as a user gets it: `npm pack` (which builds dist/ through
 * prepack) in a copy of the working tree — the files git tracks or would
 * add, with the repository's node_modules linked in — so the build starts
 * from nothing, as in a fresh clone, and never replaces the dist/ that other
 * tests' `circuits` processes may be running from; the tarball installed into an empty folder with `npm ci
 * --offline` — a lockfile for the consumer is derived from the repository's,
 * so every dependency comes from the npm cache that `npm ci` filled and
 * nothing is downloaded — then used from plain Node (an .mjs file that
 * compiles example programs, runs the weights and compares the greedy token
 * with the reference semantics), through its `circuits` bin (including the
 * worker-thread pool, which must find the built worker), and from TypeScript
 * type-checked with module/moduleResolution NodeNext.
 *
 * It takes a minute or more on a loaded 2-core machine (the build alone is
 * ~30 s), so it runs only with CIRCUITS_PACK_TEST=1 (.ci/run sets it).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/programs.ts";

const ENABLED = process.env.CIRCUITS_PACK_TEST === "1";
if (!ENABLED) console.log("test/package/pack.test.ts skipped: set CIRCUITS_PACK_TEST=1 to pack, install and use the package (about a minute)");

interface LockEntry {
  readonly version?: string;
  readonly dev?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly bin?: Record<string, string>;
  readonly engines?: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, "utf8")) as { name: string; version: string };
const tarball = `${pkg.name}-${pkg.version}.tgz`;
let dir = "";
let tree = "";

/** A copy of the working tree (tracked and untracked-but-not-ignored files) with node_modules linked, to pack from. */
function copyWorkingTree(): string {
  const to = mkdtempSync(join(tmpdir(), "pack-tree-"));
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT, encoding: "utf8" });
  if (listed.status !== 0) throw new Error(`the package test lists the working tree with git: ${listed.stderr || listed.error}`);
  for (const f of listed.stdout.split("\0").filter(Boolean)) {
    if (!existsSync(join(REPO_ROOT, f))) continue; // deleted but still tracked
    mkdirSync(dirname(join(to, f)), { recursive: true });
    copyFileSync(join(REPO_ROOT, f), join(to, f));
  }
  symlinkSync(join(REPO_ROOT, "node_modules"), join(to, "node_modules"));
  return to;
}

/** Run a command in `cwd`; throw with its output when it fails. */
function sh(cmd: string, args: readonly string[], cwd: string, timeout = 240_000): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout, env: { ...process.env, npm_config_update_notifier: "false" } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} → ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The consumer's lockfile: the tarball plus the repository's own non-dev entries (resolved + integrity, so npm needs no registry metadata). */
function consumerLock(tgz: Buffer): string {
  const lock = JSON.parse(readFileSync(`${REPO_ROOT}/package-lock.json`, "utf8")) as { packages: Record<string, LockEntry> };
  const root = lock.packages[""]!;
  const packages: Record<string, unknown> = {
    "": { name: "consumer", dependencies: { [pkg.name]: `file:${tarball}` } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: `file:${tarball}`,
      integrity: `sha512-${createHash("sha512").update(tgz).digest("base64")}`,
      dependencies: root.dependencies,
      bin: root.bin,
      engines: root.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== "" && !entry.dev) packages[path] = entry;
  return JSON.stringify({ name: "consumer", lockfileVersion: 3, requires: true, packages }, null, 1);
}

const USE_MJS = `
import { readFileSync } from "node:fs";
import { compile, encodeInput, forward, interpret, load, modelInput } from "${pkg.name}";

// A seeded generator, so the inputs are the same on every run.
let s = 12345;
const rand = (n) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s % n);
const out = {};
for (const name of ["induction", "previous-token", "bigram-induction", "duplicate-token"]) {
  const url = new URL(\`./node_modules/${pkg.name}/programs/\${name}.circ\`, import.meta.url);
  const program = load({ path: \`\${name}.circ\`, text: readFileSync(url, "utf8") });
  const model = compile(program);
  const V = program.vocab.length;
  let checked = 0, agreed = 0;
  for (let k = 0; k < 20; k++) {
    const text = Array.from({ length: 2 + rand(10) }, () => program.vocab[rand(V)]).join(" ");
    const input = encodeInput(program, text);
    const run = interpret(program, input);
    const { logits } = forward(model.weights, modelInput(input));
    const Vo = logits.length / (input.length + 1);
    for (let p = 1; p <= input.length; p++) {
      const want = run.prediction(p);
      if (typeof want !== "number") continue; // ⊥ (or a distribution): no single greedy token to compare
      const row = logits.subarray(p * Vo, (p + 1) * Vo);
      let best = 0;
      for (let v = 1; v < Vo; v++) if (row[v] > row[best]) best = v;
      checked++;
      if (best === want + 1) agreed++; // token v has id v + 1; id 0 is BOS
    }
  }
  out[name] = { checked, agreed };
}
console.log(JSON.stringify(out));
`;

const THREADS_MJS = `
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { compile, forward, forwardBatch, forwardHelperReady, forwardThreadCount, load } from "${pkg.name}";

const url = new URL("./node_modules/${pkg.name}/programs/induction.circ", import.meta.url);
const model = compile(load({ path: "induction.circ", text: readFileSync(url, "utf8") }));
const V = model.weights.config.d_vocab;
const batch = Array.from({ length: 64 }, (_, b) => [0, ...Array.from({ length: 40 }, (_, i) => 1 + ((i * 5 + b * 3 + (i >> 3)) % (V - 1)))]);
const ready = await forwardHelperReady();
let identical = 0;
const shared = forwardBatch(model.weights, batch, { precision: "float32" });
batch.forEach((tokens, b) => {
  const alone = forward(model.weights, tokens, { precision: "float32" }).logits;
  if (alone.every((x, i) => Object.is(x, shared[b].logits[i]))) identical++;
});
console.log(JSON.stringify({ cores: availableParallelism(), ready, threads: forwardThreadCount(), sequences: batch.length, identical }));
`;

const USE_TS = `
import { compile, encodeInput, interpret, load, type CompiledModel, type Program, type Value } from "${pkg.name}";

const program: Program = load({ path: "p.circ", text: "vocab a b\\nlayer 1\\n  head h: select j = i - 1; copy token[j] as p\\noutput p\\n" });
const model: CompiledModel = compile(program);
const dModel: number = model.layout.dModel;
const v: Value = interpret(program, encodeInput(program, "a b a")).prediction(2);
console.log(dModel, v);

// The declarations are real types, not any: each misuse below must be an error.
// @ts-expect-error load takes a Source, not a string
load("vocab a");
// @ts-expect-error dModel is a number
const wrong: string = model.layout.dModel;
// @ts-expect-error no such export
import { notExported } from "${pkg.name}";
console.log(wrong, notExported);
`;

describe.skipIf(!ENABLED)("the packed package", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pack-"));
    tree = copyWorkingTree();
    sh("npm", ["pack", "--pack-destination", dir, "--silent"], tree);
    const tgz = readFileSync(join(dir, tarball));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { [pkg.name]: `file:${tarball}` } }));
    writeFileSync(join(dir, "package-lock.json"), consumerLock(tgz));
    sh("npm", ["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"], dir);
  }, 300_000);
  afterAll(() => {
    for (const d of [dir, tree]) if (d) rmSync(d, { recursive: true, force: true });
  }, 60_000);

  it("holds the built JavaScript, declarations, grammar and programs, and no TypeScript source", () => {
    const files = execFileSync("tar", ["-tzf", join(dir, tarball)], { encoding: "utf8" }).trim().split("\n");
    for (const f of ["bin/circuits.js", "dist/index.js", "dist/index.d.ts", "dist/cli/main.js", "dist/verify/worker.js",
      "dist/lang/circuits.recipe.json", "dist/BUILD_STAMP", "grammar/circuits.ohm", "programs/induction.circ", "package.json"]) {
      expect(files, f).toContain(`package/${f}`);
    }
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
  });

  it("works from plain Node: compiled weights predict what the semantics does", () => {
    writeFileSync(join(dir, "use.mjs"), USE_MJS);
    const result = JSON.parse(sh(process.execPath, ["use.mjs"], dir)) as Record<string, { checked: number; agreed: number }>;
    for (const [name, { checked, agreed }] of Object.entries(result)) {
      expect(checked, name).toBeGreaterThan(0);
      expect(agreed, name).toBe(checked);
    }
  });

  it("shares compiled batches with its helper thread (dist/sim/compactWorker.js) and keeps the one-thread logits", () => {
    writeFileSync(join(dir, "threads.mjs"), THREADS_MJS);
    const result = JSON.parse(sh(process.execPath, ["threads.mjs"], dir)) as { cores: number; ready: boolean; threads: number; sequences: number; identical: number };
    // One core: no helper is started, and the batch runs alone.
    const two = result.cores >= 2;
    expect(result).toEqual({ cores: result.cores, ready: two, threads: two ? 2 : 1, sequences: 64, identical: 64 });
  });

  it("runs its bin on the built JavaScript: --version, run, and a check on worker threads", () => {
    const bin = join(dir, "node_modules/.bin/circuits");
    expect(sh(bin, ["--version"], dir).split("\n")[0]).toBe(pkg.version); // then the kernel line
    const run = JSON.parse(sh(bin, ["run", `node_modules/${pkg.name}/programs/induction.circ`, "--input", "a b c d a b c a", "--json"], dir));
    expect(run.predictions).toEqual([null, null, null, null, "b", "c", "d", "b"]);
    expect(run.agree).toBe(true);
    const check = JSON.parse(sh(bin, ["check", `node_modules/${pkg.name}/programs/induction.circ`, "--exhaustive", "--max-length", "4",
      "--alphabet", "a,b,c", "--workers", "2", "--json"], dir));
    expect(check).toMatchObject({ sequences: 3 + 9 + 27 + 81, disagreements: 0 });
  });

  it("type-checks from TypeScript with module and moduleResolution NodeNext", () => {
    writeFileSync(join(dir, "use.ts"), USE_TS);
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true,
        types: ["node"], typeRoots: [join(REPO_ROOT, "node_modules/@types")] },
      files: ["use.ts"],
    }));
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    sh(process.execPath, [tsc, "-p", "tsconfig.json"], dir);
  }, 180_000); // tsc reads every declaration file: 25–40 s on the loaded 2-core machine
});
