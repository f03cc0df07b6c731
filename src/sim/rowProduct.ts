/**
 * One row through a dense weight matrix, out[N] = x[K] · W (+ bias), in
 * WebAssembly SIMD: the KV cache's projections, one position per push.
 *
 * The whole-sequence product (src/kernels/gemmCode.ts) runs a single row
 * with one panel (two vectors of columns) at a time, so each accumulator
 * waits on its own previous add: K adds in a row, latency-bound. Here four
 * panels advance together (eight independent accumulators), which keeps the
 * adder busy. Each output lane still sums x[k]·W[k, j] for k ascending from
 * +0, a rounded multiply then a rounded add, and the bias is added after the
 * sum — the plain product's arithmetic (and the JavaScript kernels'), so
 * the bits are the same. Where the fused multiply-add variant of the product
 * is active the caller keeps the shared path instead (its bits differ).
 *
 * The weights of a model are copied once into this module's own memory in
 * the panel form of packPanels (memoised per prepared model).
 */
import type { FloatArray } from "../model/weights.ts";
import {
  ADD, addTo, BLOCK, br, brIf, compiledOnce, END, EQZ, get, i32 as i32c, I32, LOOP, LT_S, MUL, section, set, simd, str, SUB, uleb, V128, V_LOAD, V_STORE, V_ZERO, vec,
} from "../kernels/assembler.ts";
import { kernelModule, kernelSettings, mulAddChoice } from "../kernels/module.ts";
import { addBias } from "./kernels.ts";
import { usesSparse, type Linear, type PreparedModel, type SparseMode } from "./prepare.ts";
import { packPanels, wasmAvailable } from "./wasm.ts";

/** Bytes of one panel row (two vectors), as in the product kernel's packed form. */
const PANEL = 32;
/** Panels summed together. */
const GROUP = 4;

// ------------------------------------------------------------ assembly

// Panels and the row buffers are 16-byte aligned: loads and stores say so.
const vload = (off: number): number[] => V_LOAD(off, 4);
const vstore = (off: number): number[] => V_STORE(off, 4);

/**
 * gemv(x, w, panels, K, out): out (panels·PANEL bytes) = x (K elements) ·
 * the packed matrix at w (panels of [K, PANEL bytes], consecutive).
 */
function gemvBody(es: 4 | 8): number[] {
  const [X, W, NP, K, OUT] = [0, 1, 2, 3, 4];
  const [XP, KK, STRIDE] = [5, 6, 7];
  const PTR = [8, 9, 10, 11];
  const ACC = Array.from({ length: 2 * GROUP }, (_, i) => 12 + i), S = 12 + 2 * GROUP;
  const splat = es === 4 ? simd(0x09, 2, 0) : simd(0x0a, 3, 0);
  const add = es === 4 ? simd(0xe4) : simd(0xf0), mul = es === 4 ? simd(0xe6) : simd(0xf2);
  /** Panels g … g+n−1 from W: the sums, stored at OUT; W and OUT move past them. */
  const group = (n: number): number[] => {
    const c: number[] = [];
    for (let a = 0; a < 2 * n; a++) c.push(...V_ZERO, ...set(ACC[a]));
    for (let g = 0; g < n; g++) c.push(...get(W), ...get(STRIDE), ...i32c(g), ...MUL, ...ADD, ...set(PTR[g]));
    c.push(...get(X), ...set(XP), ...get(K), ...set(KK));
    c.push(...BLOCK, ...LOOP, ...get(KK), ...EQZ, ...brIf(1));
    c.push(...get(XP), ...splat, ...set(S));
    for (let g = 0; g < n; g++) {
      for (let h = 0; h < 2; h++) {
        const a = ACC[2 * g + h];
        c.push(...get(a), ...get(S), ...get(PTR[g]), ...vload(16 * h), ...mul, ...add, ...set(a));
      }
      c.push(...addTo(PTR[g], i32c(PANEL)));
    }
    c.push(...addTo(XP, i32c(es)), ...get(KK), ...i32c(1), ...SUB, ...set(KK), ...br(0), ...END, ...END);
    for (let a = 0; a < 2 * n; a++) c.push(...get(OUT), ...get(ACC[a]), ...vstore(16 * a));
    c.push(...addTo(OUT, i32c(n * PANEL)), ...addTo(W, [...get(STRIDE), ...i32c(n), ...MUL]), ...get(NP), ...i32c(n), ...SUB, ...set(NP));
    return c;
  };
  const c: number[] = [...get(K), ...i32c(PANEL), ...MUL, ...set(STRIDE)];
  // Whole groups, then single panels.
  c.push(...BLOCK, ...LOOP, ...get(NP), ...i32c(GROUP), ...LT_S, ...brIf(1), ...group(GROUP), ...br(0), ...END, ...END);
  c.push(...BLOCK, ...LOOP, ...get(NP), ...EQZ, ...brIf(1), ...group(1), ...br(0), ...END, ...END);
  const body = [...vec([[...uleb(7), I32], [...uleb(2 * GROUP + 1), V128]]), ...c, ...END];
  return [...uleb(body.length), ...body];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const type = [0x60, ...vec(Array.from({ length: 5 }, () => [I32])), 0];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type])),
    ...section(2, vec([[...str("env"), ...str("mem"), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0], [0]])),
    ...section(7, vec([[...str("gemv32"), 0x00, 0], [...str("gemv64"), 0x00, 1]])),
    ...section(10, vec([gemvBody(4), gemvBody(8)])),
  ]);
}

/** The compiled module, or null where WebAssembly SIMD is off or unavailable. */
const gemvModule = compiledOnce(moduleBytes);

// ------------------------------------------------------------ runtime

type Gemv = (x: number, w: number, panels: number, K: number, out: number) => void;

/** A model's dense matrices in this module's memory, with the row scratch. */
export interface RowProducts {
  /** Byte offset of each matrix's panels. */
  readonly at: Map<Linear, number>;
  readonly x: FloatArray;
  readonly out: FloatArray;
  readonly gemv: Gemv;
  readonly es: 4 | 8;
}

const memo = new WeakMap<PreparedModel, RowProducts | null>();

/** The matrices of `model` that may take the dense path, in one module memory; null without WebAssembly SIMD. */
export function rowProducts(model: PreparedModel): RowProducts | null {
  let rp = memo.get(model);
  if (rp !== undefined) return rp;
  rp = build(model);
  memo.set(model, rp);
  return rp;
}

function build(model: PreparedModel): RowProducts | null {
  const module = wasmAvailable() ? gemvModule() : null;
  if (!module) return null;
  const f32 = model.precision === "float32";
  const es = f32 ? 4 : 8;
  const mats = [...model.layers.flatMap((l) => [l.q, l.k, l.v, l.o]), model.unembed];
  const panelBytes = (lin: Linear): number => Math.ceil((lin.N * es) / PANEL) * lin.K * PANEL;
  const maxK = Math.max(...mats.map((m) => m.K)), maxOut = Math.max(...mats.map((m) => Math.ceil((m.N * es) / PANEL) * PANEL));
  let bytes = Math.ceil((maxK * es) / 16) * 16 + maxOut;
  const at = new Map<Linear, number>();
  for (const m of mats) {
    if (at.has(m)) continue;
    at.set(m, bytes);
    bytes += panelBytes(m);
  }
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
  const ex = new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as Record<"gemv32" | "gemv64", Gemv>;
  const View = f32 ? Float32Array : Float64Array;
  for (const [m, off] of at) {
    const packed = packPanels(m.dense, m.K, m.N);
    new View(memory.buffer, off, packed.length).set(packed);
  }
  const xBytes = Math.ceil((maxK * es) / 16) * 16;
  return {
    at, es,
    x: new View(memory.buffer, 0, maxK),
    out: new View(memory.buffer, xBytes, maxOut / es),
    gemv: f32 ? ex.gemv32 : ex.gemv64,
  };
}

/** Whether the product's plain multiply-then-add variant is the one in use (this kernel's bits are its bits). */
function plainProduct(): boolean {
  const want = kernelSettings.mulAdd === "auto" ? mulAddChoice().mulAdd : kernelSettings.mulAdd;
  return want !== "fma" || kernelModule()?.fma == null;
}

/** Whether rowProduct takes lin: it takes the dense path under `mode` and the plain product is in use. */
export function rowProductTakes(rp: RowProducts, lin: Linear, mode: SparseMode): boolean {
  return rp.at.has(lin) && !usesSparse(lin, mode) && plainProduct();
}

/**
 * out[outOff, +N) = x[xOff, +K) · lin (+ bias) when rowProductTakes(lin);
 * false, having done nothing, otherwise (the caller then runs the shared path).
 */
export function rowProduct(
  rp: RowProducts, lin: Linear, x: FloatArray, xOff: number,
  out: FloatArray, outOff: number, bias: FloatArray | null, mode: SparseMode,
): boolean {
  if (!rowProductTakes(rp, lin, mode)) return false;
  const w = rp.at.get(lin)!;
  const { K, N } = lin;
  rp.x.set(x.subarray(xOff, xOff + K));
  rp.gemv(rp.x.byteOffset, w, Math.ceil((N * rp.es) / PANEL), K, rp.out.byteOffset);
  out.set(rp.out.subarray(0, N), outOff);
  if (bias) addBias(out, outOff, 1, N, bias);
  return true;
}
