/**
 * `compile -o` writes the weights/sidecar pair consistently (issue 8,
 * defect 8): sidecar renamed first, both stamped with the digest of the
 * tensor data, readers refuse a sidecar of another write, nothing at all is
 * written when the sidecar path is a directory, temp files never outlive a
 * failure or SIGTERM, and stale temps of killed writers are swept. Before the
 * fix a kill between the renames left new weights beside an old sidecar
 * unnoticed, temp files up to 75 MB were left behind, and a directory at
 * m.json still let m.safetensors be written.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { writeFilesAtomic } from "../../src/model/atomicWrite.ts";
import { checkSidecar } from "../../src/model/pairCheck.ts";
import { decodeSafetensors } from "../../src/model/safetensors.ts";
import { encodeWeightsPair, loadWeights, saveWeights } from "../../src/model/weightsFile.ts";
import { driver } from "../support/driver.ts";
import { loadProgram, programPath, REPO_ROOT } from "../support/programs.ts";

const fresh = () => mkdtempSync(join(tmpdir(), "circuits-pair-"));
const compiledInduction = compile(loadProgram("induction"));
const induction = compiledInduction.weights;
/** One name per row of W_E, as the loader requires. */
const TOKENS = [...compiledInduction.tokens];
const previous = compile(loadProgram("previous-token")).weights;

// The CLI cases run in one driver process (each process costs seconds); their files are prepared here.
const killDir = fresh();
const killPath = join(killDir, "m.safetensors");
saveWeights(killPath, induction);
writeFilesAtomic([encodeWeightsPair(killPath, previous).files[0]!]); // the sidecar's rename happened, the weights' did not
const dirAtSidecar = fresh();
mkdirSync(join(dirAtSidecar, "m.json"));
const staleDir = fresh();
writeFileSync(join(staleDir, ".m.safetensors.999999999.0123456789ab.tmp"), "left by a killed writer");
let cli: Promise<Awaited<ReturnType<typeof driver>>>;
beforeAll(() => {
  cli = driver([
    ["analyze", killPath],
    ["decompile", killPath, "--json"],
    ["compile", programPath("induction"), "-o", join(dirAtSidecar, "m.safetensors")],
    ["compile", programPath("induction"), "-o", join(staleDir, "m.safetensors")],
  ]);
});

describe("the pair", () => {
  it("sidecar first, both carrying the SHA-256 of the tensor data", () => {
    const dir = fresh();
    const path = join(dir, "m.safetensors");
    const { files, digest } = encodeWeightsPair(path, induction, { tokens: TOKENS });
    expect(files.map((f) => f.path)).toEqual([join(dir, "m.json"), path]);
    saveWeights(path, induction, { tokens: TOKENS });
    const bytes = readFileSync(path);
    const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
    const dataDigest = createHash("sha256").update(bytes.subarray(headerEnd)).digest("hex");
    expect(dataDigest).toBe(digest); // same weights, same data section
    expect(JSON.parse(decodeSafetensors(bytes).metadata.digest!)).toBe(dataDigest);
    expect(JSON.parse(readFileSync(join(dir, "m.json"), "utf8")).digest).toBe(dataDigest);
    expect(() => checkSidecar(path, loadWeights(path).metadata)).not.toThrow();
  });

  it("the state a kill between the renames leaves (new sidecar, old weights) is refused by readers", async () => {
    expect(() => checkSidecar(killPath, loadWeights(killPath).metadata)).toThrow(/sidecar '.*m\.json' does not belong to '.*m\.safetensors'.*not written together/);
    const [analyze, decompile] = await cli;
    expect(analyze).toMatchObject({ code: 2 });
    expect(analyze!.stderr).toMatch(/^circuits: analyze: sidecar .* does not belong to/);
    expect(decompile!.code).toBe(2);
    expect(JSON.parse(decompile!.stdout).error.message).toMatch(/does not belong to/);
  });

  it("a directory at the sidecar path: nothing written, no temp file, a one-line error", async () => {
    const r = (await cli)[2]!;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/m\.json' is a directory \(nothing was written\)\n$/);
    expect(readdirSync(dirAtSidecar)).toEqual(["m.json"]);
  });

  it("prints the paths it wrote; a previous writer's stale temp files are swept", async () => {
    const r = (await cli)[3]!;
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe(`wrote ${join(staleDir, "m.json")} and ${join(staleDir, "m.safetensors")}`);
    expect(readdirSync(staleDir).sort()).toEqual(["m.json", "m.safetensors"]);
  });

  it("SIGTERM while writing: the process dies of it, temps removed, old pair untouched", async () => {
    const dir = fresh();
    const path = join(dir, "m.safetensors");
    saveWeights(path, induction);
    const before = [readFileSync(path), readFileSync(join(dir, "m.json"))];
    // A child writes 96 MB in 8 MB chunks and signals itself as soon as the first chunk is under way.
    const script = `
      import { writeFilesAtomicAsync } from "./src/model/atomicWrite.ts";
      const big = new Uint8Array(96 << 20);
      const p = writeFilesAtomicAsync([{ path: ${JSON.stringify(join(dir, "m.json"))}, bytes: big }, { path: ${JSON.stringify(path)}, bytes: big }]);
      setImmediate(() => process.kill(process.pid, "SIGTERM"));
      await p;
      console.log("finished");`;
    const outcome = await new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO_ROOT });
      let out = "";
      child.stdout.on("data", (d) => (out += String(d)));
      child.on("close", (code, signal) => resolve({ code, signal, out }));
    });
    expect(outcome).toMatchObject({ signal: "SIGTERM", out: "" });
    expect(readdirSync(dir).sort()).toEqual(["m.json", "m.safetensors"]);
    expect(readFileSync(path).equals(before[0]!)).toBe(true);
    expect(readFileSync(join(dir, "m.json")).equals(before[1]!)).toBe(true);
  });
});
