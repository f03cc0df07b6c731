/**
 * Atomic file replacement: write to a temporary file in the target's
 * directory, flush it, then rename it over the target. Readers see either the
 * old file or the complete new one, never a partial write; on any failure the
 * temporary file is removed and the error is rethrown.
 */

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
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
