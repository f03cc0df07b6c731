/**
 * Atomic file replacement: write to a temporary file in the target's
 * directory, flush it, then rename it over the target. Readers see either the
 * old file or the complete new one, never a partial write; on any failure the
 * temporary file is removed and the error is rethrown.
 */

import { close, closeSync, fsync, fsyncSync, lstatSync, openSync, readdirSync, renameSync, unlinkSync, write, writeSync } from "node:fs";
import { promisify } from "node:util";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

/** The name of the temporary sibling used while writing `path`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

/** Write `data` (bytes, or a string as UTF-8) to `path` atomically. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = tempPathFor(path);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, "wx", 0o644);
    created = true;
    let written = 0;
    while (written < bytes.length) {
      written += writeSync(fd, bytes, written, bytes.length - written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    created = false;
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; keep the original error
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing more we can do; keep the original error
      }
    }
    throw err;
  }
  syncDirectory(dirname(path));
}

/** Best effort: persist the rename itself (not possible on every platform). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // directories cannot be opened or fsynced on some platforms (e.g. Windows)
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // ignore
      }
    }
  }
}

/** One file of a set written together. */
export interface AtomicFile {
  readonly path: string;
  readonly bytes: Uint8Array;
}

const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Remove temp files left beside `path` by writers that were killed (their pid is gone). */
export function sweepStaleTemps(path: string): void {
  const dir = dirname(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || m[1] !== basename(path)) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // raced with another sweeper, or not ours to remove
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Refuse before writing anything if a target is a directory or something else than a regular file. */
function checkTargets(files: readonly AtomicFile[]): void {
  for (const f of files) {
    let st;
    try {
      st = lstatSync(f.path);
    } catch {
      continue; // does not exist yet: fine
    }
    if (st.isDirectory()) throw Object.assign(new Error(`'${f.path}' is a directory`), { code: "EISDIR" });
    if (!st.isFile()) throw Object.assign(new Error(`'${f.path}' exists and is not a regular file`), { code: "EEXIST" });
  }
}

function unlinkQuietly(paths: Iterable<string>): void {
  for (const p of paths) {
    try {
      unlinkSync(p);
    } catch {
      // already gone
    }
  }
}

/** Rename every temp over its target in the given order, back to back, then persist the directories. */
function commit(files: readonly AtomicFile[], temps: readonly string[], live: Set<string>): void {
  files.forEach((f, k) => {
    renameSync(temps[k]!, f.path);
    live.delete(temps[k]!);
  });
  for (const d of new Set(files.map((f) => dirname(f.path)))) syncDirectory(d);
}

/**
 * Write several files so that each is replaced atomically and all are
 * renamed into place one right after another, in the order given, only once
 * every one is fully written and flushed. Nothing is written when a target
 * is a directory; on any failure every temporary file is removed.
 */
export function writeFilesAtomic(files: readonly AtomicFile[]): void {
  checkTargets(files);
  for (const f of files) sweepStaleTemps(f.path);
  const temps = files.map((f) => tempPathFor(f.path));
  const live = new Set<string>();
  try {
    files.forEach((f, k) => {
      const fd = openSync(temps[k]!, "wx", 0o644);
      live.add(temps[k]!);
      try {
        let written = 0;
        while (written < f.bytes.length) written += writeSync(fd, f.bytes, written, f.bytes.length - written);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    });
    commit(files, temps, live);
  } finally {
    unlinkQuietly(live);
  }
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);
const CHUNK = 8 << 20;

/**
 * {@link writeFilesAtomic}, writing in chunks so that SIGINT, SIGTERM or
 * SIGHUP arriving meanwhile is handled: the temporary files are removed and
 * the process then dies of that signal, leaving the targets untouched. The
 * renames run back to back with no await between them, so a signal cannot
 * land between them (only SIGKILL can, which readers detect by digest).
 */
export async function writeFilesAtomicAsync(files: readonly AtomicFile[]): Promise<void> {
  checkTargets(files);
  for (const f of files) sweepStaleTemps(f.path);
  const temps = files.map((f) => tempPathFor(f.path));
  const live = new Set<string>();
  const onSignal = (sig: NodeJS.Signals) => {
    unlinkQuietly(live);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.kill(process.pid, sig);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    for (const [k, f] of files.entries()) {
      // Opened synchronously: an asynchronous open creates the file on the thread pool, so a
      // signal handled while it was pending unlinked nothing and the temp appeared afterwards.
      live.add(temps[k]!);
      const fd = openSync(temps[k]!, "wx", 0o644);
      try {
        for (let at = 0; at < f.bytes.length; ) {
          at += (await writeAsync(fd, f.bytes, at, Math.min(CHUNK, f.bytes.length - at), null)).bytesWritten;
        }
        await fsyncAsync(fd);
      } finally {
        await closeAsync(fd);
      }
    }
    commit(files, temps, live);
  } finally {
    unlinkQuietly(live);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
  }
}
