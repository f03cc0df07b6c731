/**
 * IEEE binary16 (F16) and bfloat16 (BF16) ⇄ JavaScript numbers.
 *
 * Decoding is exact: every F16 and BF16 value (subnormals, ±0, ±Inf) is a
 * float32 value, so a decoded tensor is a Float32Array with no rounding.
 * NaN payloads are not kept (a JavaScript NaN has none to speak of).
 *
 * Encoding rounds a float64 straight to the narrow format, to nearest with
 * ties to even (as IEEE and PyTorch's `.half()` / `.bfloat16()` do), so there
 * is no double rounding through float32; magnitudes past the largest finite
 * value become ±Inf, NaN becomes the canonical quiet NaN.
 */

/** A narrow binary floating-point format: exponent and stored-mantissa bits. */
interface Format {
  readonly expBits: number;
  readonly manBits: number;
  readonly quietNaN: number;
}

const F16: Format = { expBits: 5, manBits: 10, quietNaN: 0x7e00 };
const BF16: Format = { expBits: 8, manBits: 7, quietNaN: 0x7fc0 };

/** The value of a 16-bit pattern in `f`. */
function decode(bits: number, f: Format): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const expMax = (1 << f.expBits) - 1;
  const exp = (bits >> f.manBits) & expMax;
  const man = bits & ((1 << f.manBits) - 1);
  const bias = (1 << (f.expBits - 1)) - 1;
  if (exp === expMax) return man === 0 ? sign * Infinity : NaN;
  // Subnormals (exp 0) have no implicit leading 1 and the exponent of exp 1.
  if (exp === 0) return sign * man * 2 ** (1 - bias - f.manBits);
  return sign * (man + (1 << f.manBits)) * 2 ** (exp - bias - f.manBits);
}

/** The 16-bit pattern nearest to x in `f` (ties to even). */
function encode(x: number, f: Format): number {
  if (Number.isNaN(x)) return f.quietNaN;
  const signBit = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const expMax = (1 << f.expBits) - 1;
  const bias = (1 << (f.expBits - 1)) - 1;
  const inf = signBit | (expMax << f.manBits);
  if (a === Infinity) return inf;
  if (a === 0) return signBit;
  const eMin = 1 - bias; // exponent of the smallest normal
  let e = Math.floor(Math.log2(a));
  // log2 can be off by one next to powers of two: fix e so that 2^e ≤ a < 2^(e+1).
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  const subnormal = e < eMin;
  // The quantum: value of one unit in the last stored place.
  const q = 2 ** ((subnormal ? eMin : e) - f.manBits);
  // Division by a power of two is exact for every double in range here.
  const m = a / q;
  const fl = Math.floor(m);
  const rest = m - fl;
  const r = rest > 0.5 || (rest === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  if (subnormal) return signBit | r; // r = 2^manBits lands exactly on the smallest normal
  let exp = e + bias;
  let man = r - (1 << f.manBits);
  if (r === 1 << (f.manBits + 1)) {
    exp += 1;
    man = 0;
  }
  if (exp >= expMax) return inf;
  return signBit | (exp << f.manBits) | man;
}

/** Value of an IEEE binary16 bit pattern (exact). */
export const f16ToNumber = (bits: number): number => decode(bits, F16);
/** Value of a bfloat16 bit pattern (exact). */
export const bf16ToNumber = (bits: number): number => decode(bits, BF16);
/** Nearest IEEE binary16 bit pattern to x (ties to even, overflow to ±Inf). */
export const numberToF16 = (x: number): number => encode(x, F16);
/** Nearest bfloat16 bit pattern to x (ties to even, overflow to ±Inf). */
export const numberToBF16 = (x: number): number => encode(x, BF16);
