/** The numerically stable softmax every attention path shares. */
import type { FloatArray } from "../model/weights.ts";

/**
 * Numerically stable softmax of buf[0, n), in place.
 * Subtracting the max makes the largest exponent exp(0) = 1, so scores of
 * 1e4 (hard attention) cannot overflow and the sum is at least 1.
 */
export function softmaxInPlace(buf: FloatArray, n: number): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (buf[j] > max) max = buf[j];
  let sum = 0;
  for (let j = 0; j < n; j++) {
    // exp(x) is exactly 0 in float64 for x < -745.14, and hard attention puts
    // most keys far below that: a comparison instead of a call, same bits.
    const x = buf[j] - max;
    const e = x < -746 ? 0 : Math.exp(x);
    buf[j] = e;
    sum += e;
  }
  for (let j = 0; j < n; j++) buf[j] = buf[j] / sum;
}
