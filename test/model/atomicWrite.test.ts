import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { pbkdf2 } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tempPathFor, writeFileAtomic, writeFilesAtomicAsync } from "../../src/model/atomicWrite.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "atomic-write-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("writeFileAtomic", () => {
  it("writes bytes and leaves no temp file", () => {
    const data = new Uint8Array([0, 1, 2, 255]);
    writeFileAtomic(join(dir, "a.bin"), data);
    expect(new Uint8Array(readFileSync(join(dir, "a.bin")))).toEqual(data);
    expect(readdirSync(dir)).toEqual(["a.bin"]);
  });

  it("writes a string as UTF-8 and replaces an existing file", () => {
    const p = join(dir, "a.txt");
    writeFileSync(p, "old contents that are longer");
    writeFileAtomic(p, "héllo ✓");
    expect(readFileSync(p, "utf8")).toBe("héllo ✓");
    expect(readdirSync(dir)).toEqual(["a.txt"]);
  });

  it("writes a Uint8Array view (non-zero byteOffset) exactly", () => {
    const base = new Uint8Array([9, 8, 7, 6, 5]);
    writeFileAtomic(join(dir, "v"), base.subarray(1, 4));
    expect([...readFileSync(join(dir, "v"))]).toEqual([8, 7, 6]);
  });

  it("throws and creates nothing when the directory does not exist", () => {
    expect(() => writeFileAtomic(join(dir, "missing", "a.bin"), "x")).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("removes its temp file when the final rename fails", () => {
    const target = join(dir, "taken");
    mkdirSync(target); // renaming a file over a directory fails after the temp file was written
    writeFileSync(join(target, "inside"), "keep");
    expect(() => writeFileAtomic(target, "new")).toThrow();
    expect(readdirSync(dir)).toEqual(["taken"]);
    expect(readFileSync(join(target, "inside"), "utf8")).toBe("keep");
  });

  it("uses a hidden temp name in the same directory", () => {
    const t = tempPathFor(join(dir, "out.safetensors"));
    expect(t.startsWith(join(dir, ".out.safetensors."))).toBe(true);
    expect(t.endsWith(".tmp")).toBe(true);
    expect(tempPathFor(join(dir, "x"))).not.toBe(tempPathFor(join(dir, "x")));
  });
});

describe("writeFilesAtomicAsync", () => {
  it("the temp file a signal handler must remove exists before the writer first yields", async () => {
    // A signal is handled only when the writer yields; a temp created later, on the thread pool (an
    // asynchronous open), escaped the handler's clean-up: CI once found one after a SIGTERM.
    // The thread pool is kept busy so that an asynchronous open could not have finished by the check below.
    const busy = Array.from({ length: 16 }, () => new Promise((ok) => pbkdf2("x", "y", 20_000, 32, "sha256", ok)));
    const big = new Uint8Array(1 << 20);
    const done = writeFilesAtomicAsync([{ path: join(dir, "a.bin"), bytes: big }, { path: join(dir, "b.bin"), bytes: big }]);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toHaveLength(1);
    await Promise.all([done, ...busy]);
    expect(readdirSync(dir).sort()).toEqual(["a.bin", "b.bin"]);
  });
});
