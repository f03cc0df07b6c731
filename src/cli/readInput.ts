/**
 * Reading a user-named file with a size limit. Only regular files are read:
 * a FIFO would block forever, and /dev/zero or /proc files report no size
 * and never end. The limit is checked on the reported size and again while
 * reading, so a file that grows cannot slip past it.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { UsageError } from "./command.ts";

/** Largest program file read (the parser's own limits are lower still; see SOURCE_LIMITS). */
export const PROGRAM_FILE_LIMIT = 1 << 20;
/** Largest weights file read (compile writes at most 320 MB of tensors; see COMPILE_LIMITS). */
export const MODEL_FILE_LIMIT = 512 << 20;
/** Largest shard result file `merge` reads. */
export const SHARD_FILE_LIMIT = 1 << 20;

const mib = (n: number): string => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(n % (1 << 20) ? 1 : 0)} MiB` : `${n} bytes`);

/** Throw a one-line UsageError unless `path` is a regular file of at most `limit` bytes. */
export function checkRegularFile(path: string, limit: number, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} '${path}'${code === "ENOENT" ? ": no such file" : code ? ` (${code})` : ""}`);
  }
  if (st.isDirectory()) throw new UsageError(`cannot read ${what} '${path}': it is a directory`);
  if (!st.isFile()) throw new UsageError(`cannot read ${what} '${path}': not a regular file`);
  if (st.size > limit) throw new UsageError(`${what} '${path}' is ${mib(st.size)}; at most ${mib(limit)} is read`);
}

/** The bytes of a regular file of at most `limit` bytes; otherwise a one-line UsageError naming `what`. */
export function readRegularFile(path: string, limit: number, what: string): Buffer {
  checkRegularFile(path, limit, what);
  let fd: number;
  try {
    // O_NONBLOCK: should the path have become a FIFO since the stat, opening it must not wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UsageError(`cannot read ${what} '${path}' (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new UsageError(`cannot read ${what} '${path}': not a regular file`);
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > limit) throw new UsageError(`${what} '${path}' is larger than ${mib(limit)}; at most ${mib(limit)} is read`);
    }
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${what} '${path}' (${(e as NodeJS.ErrnoException).code ?? "read error"})`);
  } finally {
    closeSync(fd);
  }
}

/** A regular text file of at most `limit` bytes, decoded as UTF-8. */
export function readTextFile(path: string, limit: number, what: string): string {
  return readRegularFile(path, limit, what).toString("utf8");
}
