/**
 * The three loop nests of causal attention (see attention.ts) as WebAssembly
 * SIMD (f32x4) kernels, for float32 training: JavaScript loops run these at
 * a small fraction of the speed of the SIMD matrix kernel, and attention is
 * most of a step's arithmetic at the reference configuration.
 *
 *   rowdot(a, b, out, T, E4, lda, ldb)   out[i·T + j] = a_i · b_j            for j ≤ i
 *   rowcomb(c, b, out, T, E4, ldb, ldo)  out_i = Σ_{j ≤ i} c[i·T + j] b_j
 *   colcomb(c, a, out, T, E4, lda, ldo)  out_j = Σ_{i ≥ j} c[i·T + j] a_i
 *
 * (rows of E = 4·E4 float32 values, strides in bytes; addresses are byte
 * offsets in the simulator's WebAssembly memory, whose kernel module this
 * one shares.) Only the causal half of a [T, T] block is ever read or
 * written. The arrays these run on live in that memory, in a region above
 * everything src/sim/wasm.ts uses (its arena of ≤ 256 MiB and the scratch
 * over it), handed out by {@link wasmFloats}.
 */
import { section, sleb, uleb, vec, wasmAvailable, wasmKernel } from "../sim/wasm.ts";

// ------------------------------------------------------------ assembling
const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const I32 = 0x7f, V128 = 0x7b;
const get = (l: number) => [0x20, ...uleb(l)];
const set = (l: number) => [0x21, ...uleb(l)];
const i32 = (n: number) => [0x41, ...sleb(n)];
const ADD = [0x6a], MUL = [0x6c], GE_U = [0x4f];
const simd = (code: number, ...rest: number[]) => [0xfd, ...uleb(code), ...rest];
const V_LOAD = simd(0x00, 0, 0);
const V_STORE = simd(0x0b, 0, 0);
const V_ZERO = simd(0x0c, ...new Array<number>(16).fill(0));
const F_LOAD = [0x2a, 2, 0];
const F_STORE = [0x38, 2, 0];
const F_ADD = [0x92];
const SPLAT = simd(0x13);
const VADD = simd(0xe4);
const VMUL = simd(0xe6);
const LANE = (k: number) => simd(0x1f, k);

/** for (v = from; v < limit; v++) body — from/limit are instruction sequences. */
const loop = (v: number, from: number[], limit: number[], body: number[]): number[] => [
  ...from, ...set(v),
  0x02, 0x40, 0x03, 0x40,
  ...get(v), ...limit, ...GE_U, 0x0d, 1,
  ...body,
  ...get(v), ...i32(1), ...ADD, ...set(v),
  0x0c, 0, 0x0b, 0x0b,
];
const addTo = (l: number, by: number[]) => [...get(l), ...by, ...ADD, ...set(l)];

// params 0…6: p0 p1 out T E4 s1 s2; locals: i32 7…12, v128 13
const [P0, P1, OUT, T, E4, S1, S2] = [0, 1, 2, 3, 4, 5, 6];
const [I, J, E, PA, PB, PO] = [7, 8, 9, 10, 11, 12];
const ACC = 13;
const fma = (xs: number[], ys: number[]) => [...get(ACC), ...xs, ...ys, ...VMUL, ...VADD, ...set(ACC)];

/** rowdot: p0 = a, p1 = b, s1 = lda, s2 = ldb. */
const rowdot = [
  ...loop(I, i32(0), get(T), [
    ...get(OUT), ...get(I), ...get(T), ...MUL, ...i32(4), ...MUL, ...ADD, ...set(PO),
    ...loop(J, i32(0), [...get(I), ...i32(1), ...ADD], [
      ...V_ZERO, ...set(ACC),
      ...get(P0), ...get(I), ...get(S1), ...MUL, ...ADD, ...set(PA),
      ...get(P1), ...get(J), ...get(S2), ...MUL, ...ADD, ...set(PB),
      ...loop(E, i32(0), get(E4), [...fma([...get(PA), ...V_LOAD], [...get(PB), ...V_LOAD]), ...addTo(PA, i32(16)), ...addTo(PB, i32(16))]),
      ...get(PO),
      ...get(ACC), ...LANE(0), ...get(ACC), ...LANE(1), ...F_ADD, ...get(ACC), ...LANE(2), ...F_ADD, ...get(ACC), ...LANE(3), ...F_ADD,
      ...F_STORE,
      ...addTo(PO, i32(4)),
    ]),
  ]),
];

/** rowcomb: p0 = c, p1 = b, s1 = ldb, s2 = ldo. */
const rowcomb = [
  ...loop(I, i32(0), get(T), [
    ...loop(E, i32(0), get(E4), [
      ...V_ZERO, ...set(ACC),
      ...get(P0), ...get(I), ...get(T), ...MUL, ...i32(4), ...MUL, ...ADD, ...set(PA),
      ...get(P1), ...get(E), ...i32(16), ...MUL, ...ADD, ...set(PB),
      ...loop(J, i32(0), [...get(I), ...i32(1), ...ADD], [
        ...fma([...get(PA), ...F_LOAD, ...SPLAT], [...get(PB), ...V_LOAD]), ...addTo(PA, i32(4)), ...addTo(PB, get(S1)),
      ]),
      ...get(OUT), ...get(I), ...get(S2), ...MUL, ...ADD, ...get(E), ...i32(16), ...MUL, ...ADD, ...get(ACC), ...V_STORE,
    ]),
  ]),
];

/** colcomb: p0 = c, p1 = a, s1 = lda, s2 = ldo. */
const colcomb = [
  ...loop(J, i32(0), get(T), [
    ...loop(E, i32(0), get(E4), [
      ...V_ZERO, ...set(ACC),
      ...get(P0), ...get(J), ...get(T), ...MUL, ...get(J), ...ADD, ...i32(4), ...MUL, ...ADD, ...set(PA),
      ...get(P1), ...get(J), ...get(S1), ...MUL, ...ADD, ...get(E), ...i32(16), ...MUL, ...ADD, ...set(PB),
      ...loop(I, get(J), get(T), [
        ...fma([...get(PA), ...F_LOAD, ...SPLAT], [...get(PB), ...V_LOAD]), ...addTo(PA, [...get(T), ...i32(4), ...MUL]), ...addTo(PB, get(S1)),
      ]),
      ...get(OUT), ...get(J), ...get(S2), ...MUL, ...ADD, ...get(E), ...i32(16), ...MUL, ...ADD, ...get(ACC), ...V_STORE,
    ]),
  ]),
];

function body(code: number[]): number[] {
  const b = [...vec([[6, I32], [1, V128]]), ...code, 0x0b];
  return [...uleb(b.length), ...b];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const fnType = [0x60, ...vec(new Array<number[]>(7).fill([I32])), 0];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([fnType])),
    ...section(2, vec([[...str("env"), ...str("mem"), 0x02, 0x03, ...uleb(1), ...uleb(MAX_PAGES)]])),
    ...section(3, vec([[0], [0], [0]])),
    ...section(7, vec([[...str("rowdot"), 0x00, 0], [...str("rowcomb"), 0x00, 1], [...str("colcomb"), 0x00, 2]])),
    ...section(10, vec([body(rowdot), body(rowcomb), body(colcomb)])),
  ]);
}

// ------------------------------------------------------------ runtime
type Fn = (p0: number, p1: number, out: number, T: number, E4: number, s1: number, s2: number) => void;

/** The attention kernels. */
export interface AttentionKernels {
  readonly rowdot: Fn;
  readonly rowcomb: Fn;
  readonly colcomb: Fn;
  readonly memory: WebAssembly.Memory;
}

/** src/sim/wasm.ts's memory limit (pages of 64 KiB): 1 GiB. */
const MAX_PAGES = 16384;
/** Where the region for training arrays starts (above the simulator's arena and scratch) and ends. */
const REGION_START = 640 * 2 ** 20;
const REGION_END = 1024 * 2 ** 20;
let regionTop = REGION_START;
let kernels: AttentionKernels | null | undefined;

/** The kernels, or null without WebAssembly SIMD (or with CIRCUITS_NO_WASM / wasmSettings.enabled off). */
export function attentionKernels(): AttentionKernels | null {
  if (!wasmAvailable()) return null;
  if (kernels !== undefined) return kernels;
  kernels = null;
  const k = wasmKernel();
  if (!k) return null;
  try {
    const bytes = moduleBytes();
    if (!WebAssembly.validate(bytes)) return null;
    const e = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: k.memory } }).exports as unknown as Record<"rowdot" | "rowcomb" | "colcomb", Fn>;
    kernels = { rowdot: e.rowdot, rowcomb: e.rowcomb, colcomb: e.colcomb, memory: k.memory };
  } catch {
    kernels = null;
  }
  return kernels;
}

/**
 * A float32 array of n elements in the kernels' memory (16-byte aligned,
 * never freed: engines are few and long-lived), or null when the region is full.
 */
export function wasmFloats(n: number): Float32Array | null {
  const ks = attentionKernels();
  if (!ks) return null;
  const bytes = Math.ceil((n * 4) / 16) * 16;
  if (regionTop + bytes > REGION_END) return null;
  const off = regionTop;
  regionTop += bytes;
  const have = ks.memory.buffer.byteLength;
  if (regionTop > have) ks.memory.grow(Math.ceil((regionTop - have) / 65536));
  return new Float32Array(ks.memory.buffer, off, n);
}

const addr = (a: Float32Array, off: number) => a.byteOffset + off * 4;

/** attendForward (attention.ts) on arrays from wasmFloats; E a multiple of 4. The part of P above the diagonal is left as it was. */
export function attendForwardWasm(
  ks: AttentionKernels, a: Float32Array, ld: number, qOff: number, kOff: number, vOff: number, T: number, E: number, scale: number,
  P: Float32Array, pOff: number, z: Float32Array, zOff: number, ldz: number,
): void {
  ks.rowdot(addr(a, qOff), addr(a, kOff), addr(P, pOff), T, E >> 2, ld * 4, ld * 4);
  for (let i = 0; i < T; i++) {
    const r = pOff + i * T;
    let max = -Infinity;
    for (let j = 0; j <= i; j++) {
      const s = P[r + j] * scale;
      P[r + j] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let j = 0; j <= i; j++) {
      const x = Math.exp(P[r + j] - max);
      P[r + j] = x;
      sum += x;
    }
    const inv = 1 / sum;
    for (let j = 0; j <= i; j++) P[r + j] *= inv;
  }
  ks.rowcomb(addr(P, pOff), addr(a, vOff), addr(z, zOff), T, E >> 2, ld * 4, ldz * 4);
}

/** attendBackward (attention.ts) on arrays from wasmFloats; g has the stride of a. */
export function attendBackwardWasm(
  ks: AttentionKernels, a: Float32Array, ld: number, qOff: number, kOff: number, vOff: number, T: number, E: number, scale: number,
  P: Float32Array, pOff: number, gz: Float32Array, gzOff: number, ldz: number, g: Float32Array, gS: Float32Array,
): void {
  const E4 = E >> 2;
  ks.rowdot(addr(gz, gzOff), addr(a, vOff), addr(gS, 0), T, E4, ldz * 4, ld * 4);
  for (let i = 0; i < T; i++) {
    const r = i * T, pr = pOff + r;
    let dot = 0;
    for (let j = 0; j <= i; j++) dot += P[pr + j] * gS[r + j];
    for (let j = 0; j <= i; j++) gS[r + j] = P[pr + j] * (gS[r + j] - dot) * scale;
  }
  ks.rowcomb(addr(gS, 0), addr(a, kOff), addr(g, qOff), T, E4, ld * 4, ld * 4);
  ks.colcomb(addr(gS, 0), addr(a, qOff), addr(g, kOff), T, E4, ld * 4, ld * 4);
  ks.colcomb(addr(P, pOff), addr(gz, gzOff), addr(g, vOff), T, E4, ldz * 4, ld * 4);
}
