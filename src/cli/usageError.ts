/** The CLI's user-error type, in a module of its own so that main.ts can know it without loading any command. */
import { CircuitsError } from "../errors.ts";

/** A user error: printed as one line, exit code 2. */
export class UsageError extends CircuitsError {
  override name = "UsageError";
  readonly kind = "usage";
}
