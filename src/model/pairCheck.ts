/**
 * Readers' half of the weights/sidecar pair: files written by saveWeights
 * carry the same `digest` in the safetensors metadata and in the sidecar
 * JSON. A sidecar with another digest belongs to another write (for example,
 * the writer was killed between its two renames), so its config, tokens and
 * layout must not be trusted next to these weights.
 */
import { readFileSync, statSync } from "node:fs";
import { WeightsFileError } from "../errors.ts";
import { sidecarPath } from "./weightsFile.ts";

/** Sidecars are small JSON; a larger file is not one of ours. */
const SIDECAR_LIMIT = 64 << 20;

/** Throw a one-line WeightsFileError when the sidecar beside `path` carries a digest different from the weights file's. */
export function checkSidecar(path: string, metadata: Readonly<Record<string, string>>): void {
  if (metadata.digest === undefined || /\.json$/i.test(path)) return;
  let digest: unknown;
  try {
    digest = JSON.parse(metadata.digest);
  } catch {
    throw new WeightsFileError(`${path}: metadata "digest" is not valid JSON`, "corrupt", { path });
  }
  const side = sidecarPath(path);
  let st;
  try {
    st = statSync(side);
  } catch {
    return; // no sidecar: the weights file stands alone
  }
  if (!st.isFile() || st.size > SIDECAR_LIMIT) throw new WeightsFileError(`sidecar '${side}' is not a regular JSON file of at most 64 MiB`, "corrupt", { path: side });
  let sidecar: unknown;
  try {
    sidecar = JSON.parse(readFileSync(side, "utf8"));
  } catch {
    throw new WeightsFileError(`sidecar '${side}' is not valid JSON`, "corrupt", { path: side });
  }
  const theirs = sidecar !== null && typeof sidecar === "object" ? (sidecar as Record<string, unknown>).digest : undefined;
  if (theirs !== digest) {
    throw new WeightsFileError(
      `sidecar '${side}' does not belong to '${path}' (digest ${String(theirs).slice(0, 12)}… vs ${String(digest).slice(0, 12)}…): the two were not written together; compile again`,
      "corrupt",
      { path: side },
    );
  }
}
