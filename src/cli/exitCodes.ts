/**
 * Exit codes, decided here and nowhere else. A command's own result is 0
 * (what it checked holds, or it just did its job) or 1 (it ran and found
 * something: a disagreement, a refuted hypothesis, a program that does not
 * fit); a mistake in what the caller gave — any CircuitsError, whatever its
 * kind — is 2; a bug in the toolkit is 70 (sysexits' EX_SOFTWARE), so a script
 * never reads a crash as a finding.
 */
import { CircuitsError, type ErrorKind } from "../errors.ts";

/** The exit codes a `circuits` command can end with. */
export const EXIT = { ok: 0, found: 1, badInput: 2, internal: 70 } as const;

/** Exit code of a command's verdict: 0 when it holds, 1 when the command found otherwise. */
export const verdict = (holds: boolean): number => (holds ? EXIT.ok : EXIT.found);

/** The kind of a thrown value: a CircuitsError's own, "internal" for anything else. */
export function errorKind(e: unknown): ErrorKind | "internal" {
  return e instanceof CircuitsError ? e.kind : "internal";
}

/** Exit code for a thrown value. */
export function exitCodeOf(e: unknown): number {
  return errorKind(e) === "internal" ? EXIT.internal : EXIT.badInput;
}
