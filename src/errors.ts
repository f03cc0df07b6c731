/**
 * The toolkit's error classes share one base, so that a caller — the CLI
 * above all — tells user mistakes from bugs by type and fields, never by
 * reading messages. A `CircuitsError` is always the caller's input being
 * wrong (a program, a file, an option); anything else that escapes is a bug.
 * The CLI maps `kind` to an exit code in one place (src/cli/exitCodes.ts).
 */

/** What kind of input was wrong. */
export type ErrorKind =
  | "usage" // command-line arguments and options
  | "program" // a program's text: located diagnostics with codes
  | "input" // token text given to a program
  | "compile" // a program the compiler cannot build within its limits
  | "weights" // a weights file or weights: unreadable, corrupt, out of range, not what the command needs
  | "data"; // other files a command reads: training data, logs, checkpoints, hypothesis modules

/** A mistake in what the caller gave: one line, a kind, and optional structured fields. */
export abstract class CircuitsError extends Error {
  abstract readonly kind: ErrorKind;
  /** The file the mistake is in, when there is one. */
  path?: string;

  constructor(message: string, opts: { readonly path?: string; readonly cause?: unknown } = {}) {
    // One line, whatever the cause's message looked like: the CLI prints messages as they are.
    super(message.split("\n")[0]!, opts.cause === undefined ? undefined : { cause: opts.cause });
    if (opts.path !== undefined) this.path = opts.path;
  }

  /** Prefix the message with where it happened ("check: model.safetensors"); returns the same error. */
  within(context: string): this {
    this.message = `${context}: ${this.message}`;
    return this;
  }
}

/** Why a weights file could not be used: the file system said no, or its bytes are not a model. */
export type WeightsFileReason = "not-found" | "unreadable" | "too-large" | "corrupt" | "incompatible";

/** A weights file (or its sidecar) that cannot be read as a model. */
export class WeightsFileError extends CircuitsError {
  override name = "WeightsFileError";
  readonly kind = "weights";
  constructor(message: string, readonly reason: WeightsFileReason, opts: { readonly path?: string; readonly cause?: unknown } = {}) {
    super(message, opts);
  }
}

/** The reason a file-system error gives, for WeightsFileError. */
export function fileReason(e: unknown): WeightsFileReason {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR" ? "not-found" : "unreadable";
}
