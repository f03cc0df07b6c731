/**
 * Where the full-size proof runs write. By default proofs/out/ (git-ignored),
 * so that trying `npm run proofs` never rewrites the committed figures the
 * statements quote; `--commit` or PROOFS_COMMIT=1 (which reaches both
 * scripts of `npm run proofs`) writes the committed files in proofs/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const PROOFS_DIR = fileURLToPath(new URL("..", import.meta.url));

/** True when this run replaces the committed results. */
export const COMMIT = process.argv.includes("--commit") || process.env.PROOFS_COMMIT === "1";

/** The path this run writes `name` to: proofs/NAME when committing, else proofs/out/NAME. */
export function outputPath(name: string): string {
  const dir = COMMIT ? PROOFS_DIR : join(PROOFS_DIR, "out");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** The same path relative to the repository, for messages. */
export function shownPath(name: string): string {
  return COMMIT ? `proofs/${name}` : `proofs/out/${name}`;
}
