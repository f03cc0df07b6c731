/**
 * A tiny WebAssembly assembler: the encodings the kernel modules are written
 * in, byte by byte (no toolchain, no binary in the repository).
 */

/** Unsigned LEB128, as WebAssembly encodes sizes and indices. */
export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};

/** Signed LEB128, as WebAssembly encodes integer constants. */
export const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};

/** A WebAssembly vector: its length, then its items. */
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** A module section: id, byte length, body. */
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** A name (import, export): its length, then its bytes (ASCII). */
export const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** Value types. */
export const I32 = 0x7f, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;

/** local.get / local.set / i32.const. */
export const get = (l: number): number[] => [0x20, ...uleb(l)];
export const set = (l: number): number[] => [0x21, ...uleb(l)];
export const i32 = (n: number): number[] => [0x41, ...sleb(n)];
/** f64.const / f32.const (little-endian bytes of the value). */
export const f64c = (x: number): number[] => [0x44, ...new Uint8Array(Float64Array.of(x).buffer)];
export const f32c = (x: number): number[] => [0x43, ...new Uint8Array(Float32Array.of(x).buffer)];

/** i32 arithmetic and comparisons, select, structured control. */
export const ADD = [0x6a], SUB = [0x6b], MUL = [0x6c], DIV_U = [0x6e], AND = [0x71], OR = [0x72], SHL = [0x74], SHR_U = [0x76];
export const EQZ = [0x45], EQ = [0x46], GT_S = [0x4a], LE_S = [0x4c], LT_S = [0x48], GE_S = [0x4e], SELECT = [0x1b];
export const IF = [0x04, 0x40], ELSE = [0x05], END = [0x0b];
/** block and loop without results, and branches to the d-th enclosing one. */
export const BLOCK = [0x02, 0x40], LOOP = [0x03, 0x40];
export const br = (d: number): number[] => [0x0c, ...uleb(d)];
export const brIf = (d: number): number[] => [0x0d, ...uleb(d)];

/** A SIMD instruction (0xfd prefix). */
export const simd = (code: number, ...rest: number[]): number[] => [0xfd, ...uleb(code), ...rest];
/** v128.load / v128.store at a constant offset; align: the log₂ of the alignment hint (0: none promised). */
export const V_LOAD = (off: number, align = 0): number[] => simd(0x00, align, ...uleb(off));
export const V_STORE = (off: number, align = 0): number[] => simd(0x0b, align, ...uleb(off));
export const V_ZERO = simd(0x0c, ...new Array<number>(16).fill(0));
/** memory.copy (dst, src, n) within memory 0. */
export const MEMCPY = [0xfc, ...uleb(10), 0, 0];
/** i32.load at a constant offset from the address on the stack. */
export const I32_LOAD = (off: number): number[] => [0x28, 2, ...uleb(off)];
/** f32.load at a constant offset. */
export const F32_LOAD = (off: number): number[] => [0x2a, 2, ...uleb(off)];
/** call f. */
export const call = (f: number): number[] => [0x10, ...uleb(f)];

/** while (cond) body — cond leaves an i32 that is nonzero to continue. */
export const whileLoop = (cond: number[], body: number[]): number[] => [0x02, 0x40, 0x03, 0x40, ...cond, 0x45, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b];

/** while (local l ≠ 0) body. */
export const whileNonzero = (l: number, body: number[]): number[] => [...BLOCK, ...LOOP, ...get(l), ...EQZ, ...brIf(1), ...body, ...br(0), ...END, ...END];

/** local l += by. */
export const addTo = (l: number, by: number[]): number[] => [...get(l), ...by, ...ADD, ...set(l)];

/** local l += by (a constant). */
export const bump = (l: number, by: number): number[] => addTo(l, i32(by));

/** local l −= 1. */
export const countDown = (l: number): number[] => [...get(l), ...i32(1), ...SUB, ...set(l)];

/** A function body: its locals (count, type) and code, with the size prefix and the final end. */
export const funcBody = (locals: [number, number][], code: number[]): number[] => {
  const b = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code, 0x0b];
  return [...uleb(b.length), ...b];
};

/** A function type: params → results. */
export const funcType = (params: number[], results: number[] = []): number[] => [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))];

/**
 * A getter for the module assembled by `bytes`, compiled on first use and
 * kept: null where the runtime refuses it (no SIMD), so callers fall back.
 */
export function compiledOnce(bytes: () => Uint8Array<ArrayBuffer>): () => WebAssembly.Module | null {
  let compiled: WebAssembly.Module | null | undefined;
  return () => {
    if (compiled !== undefined) return compiled;
    compiled = null;
    try {
      const b = bytes();
      if (WebAssembly.validate(b)) compiled = new WebAssembly.Module(b);
    } catch {
      compiled = null;
    }
    return compiled;
  };
}
