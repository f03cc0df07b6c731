/**
 * The one softmax every attention path uses (row by row, whole sequences,
 * the KV cache; float32 and float64), and the exponential it is built on.
 */
import type { FloatArray } from "../model/weights.ts";

// expNeg: exp(x) for x ≤ 0 as 2^m · 2^(i/256) · e^r, with x = (256m + i)·(ln 2 / 256) + r,
// |r| ≤ ln 2 / 512: a table of 256 values and a degree-4 polynomial, short enough
// dependency chains for the processor to overlap neighbouring keys.
const STEPS_PER_LN2 = 256 / Math.LN2;
// ln 2 / 256 split so that k · LN2_HI is exact for |k| < 2^21 (the high part has 32 significant bits).
const LN2_HI = 6.93147180369123816490e-1 / 256;
const LN2_LO = 1.90821492927058770002e-10 / 256;
/** 1.5 · 2^52: adding it rounds a double of magnitude < 2^51 to an integer (ties to even). */
const ROUND = 6755399441055744;
/** POW2[i] = 2^(i − 1022), exact: the scale 2^m for m = −1022 … 0. */
const POW2 = new Float64Array(1023);
POW2[1022] = 1;
for (let i = 1021; i >= 0; i--) POW2[i] = POW2[i + 1] / 2;
/** FRAC[i] = 2^(i/256), i = 0 … 255 (FRAC[0] = 1 exactly). */
const FRAC = Float64Array.from({ length: 256 }, (_, i) => 2 ** (i / 256));
const C3 = 1 / 6, C4 = 1 / 24;
/** Below this, exp leaves the normal doubles: expNeg hands it to Math.exp. */
const MIN = -708;

/**
 * expNeg's constants and tables, for the two WebAssembly softmaxes (the KV
 * cache's, softmaxWasmCode.ts, and the whole-sequence pairs',
 * src/kernels/attentionCode.ts), which evaluate the same steps on the same values.
 */
export const EXP_NEG = { STEPS_PER_LN2, LN2_HI, LN2_LO, ROUND, C3, C4, FRAC, POW2, MIN } as const;

/**
 * exp(x) for the x ≤ 0 that softmax meets, within about one unit in the last
 * place of Math.exp, and cheaper (Math.exp is a call into the runtime; this
 * is a few multiply-adds V8 keeps in registers). exp(0) is exactly 1, so the
 * largest score weighs 1 before normalising, as with Math.exp. Outside
 * [−708, 0] (and for NaN) it is Math.exp. Every attention path calls this one
 * function, so they stay bit-identical to each other.
 */
export function expNeg(x: number): number {
  if (!(x >= MIN && x <= 0)) return Math.exp(x);
  const k = x * STEPS_PER_LN2 + ROUND - ROUND;
  const r = x - k * LN2_HI - k * LN2_LO;
  const ki = k | 0;
  const r2 = r * r;
  const q = r + r2 * (0.5 + r * C3 + r2 * C4);
  const f = FRAC[ki & 255];
  return (f + f * q) * POW2[(ki >> 8) + 1022];
}

/**
 * Softmax of the scaled scores buf[0, n) in place, given their maximum,
 * listing the keys whose exponent is not 0 in live[0, returned count),
 * ascending. Exponents below `cut` are set to 0 without being computed
 * (softmaxCut: where the storage type's exponent is about to underflow); the
 * rest are at least its smallest positive number, so every listed key holds a
 * nonzero exponent. Only listed keys are normalised; the rest already hold
 * +0, their weight. When the sum is NaN (a NaN or infinite score) every key
 * is normalised and listed, so the NaN spreads to the whole pattern and to z,
 * as a plain softmax would spread it. Subtracting the maximum makes the
 * largest exponent exp(0) = 1, so scores of 1e4 (hard attention) cannot overflow.
 */
export function softmaxLive(buf: FloatArray, n: number, max: number, live: Int32Array, cut: number): number {
  let nLive = 0;
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const x = buf[j] - max;
    if (x < cut) {
      buf[j] = 0;
      continue; // sum + 0 = sum
    }
    const e = expNeg(x);
    buf[j] = e;
    sum += e;
    live[nLive++] = j;
  }
  if (sum !== sum) {
    for (let j = 0; j < n; j++) {
      buf[j] = buf[j] / sum;
      live[j] = j;
    }
    return n;
  }
  if (nLive === n) {
    // Soft attention: every key listed, a plain pass.
    for (let j = 0; j < n; j++) buf[j] = buf[j] / sum;
  } else {
    for (let t = 0; t < nLive; t++) {
      const j = live[t];
      buf[j] = buf[j] / sum;
    }
  }
  return nLive;
}

/**
 * The exponent below which softmaxLive writes 0 for a score row of this
 * storage type: exp(−745) is float64's smallest subnormal, exp(−103)
 * rounds to float32's.
 */
export function softmaxCut(buf: FloatArray): number {
  return buf instanceof Float32Array ? -103 : -745;
}

let liveScratchArray = new Int32Array(64);

/** Softmax of buf[0, n) in place (any scores; the maximum is found here). */
export function softmaxInPlace(buf: FloatArray, n: number): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (buf[j] > max) max = buf[j];
  if (liveScratchArray.length < n) liveScratchArray = new Int32Array(n);
  softmaxLive(buf, n, max, liveScratchArray, softmaxCut(buf));
}
