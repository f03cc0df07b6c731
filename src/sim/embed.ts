/** The residual stream's first rows: token embedding plus position embedding. */
import type { FloatArray } from "../model/weights.ts";

/**
 * resid[row] = W_E[token] + W_pos[position] for every row (the general
 * forward and the narrowed compiled one). The arrays are arguments, not
 * closure variables, so the hot loop keeps them in registers.
 */
export function embed(
  W_E: FloatArray, W_pos: FloatArray, D: number, tokens: Int32Array,
  starts: readonly number[], lengths: readonly number[], resid: FloatArray,
): void {
  for (let b = 0; b < starts.length; b++) {
    const s = starts[b];
    for (let p = 0; p < lengths[b]; p++) {
      const row = (s + p) * D;
      const e = tokens[s + p] * D;
      const pos = p * D;
      for (let d = 0; d < D; d++) resid[row + d] = W_E[e + d] + W_pos[pos + d];
    }
  }
}
