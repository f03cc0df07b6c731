/**
 * Products on the kernel module's memory, by byte address: one call on this
 * thread, or cut in tiles (row blocks × panel groups, k in blocks) that this
 * thread and the helper thread share — every tile continues its elements'
 * sums in the same order, so the bits are those of one call whoever runs
 * which tile. The simulator (src/sim/wasm.ts) and the training engines
 * (src/train/gemm.ts) both come through here.
 */
import { DESC_ADDR, TMP0, TMP1 } from "./exports.ts";
import { GEMM_JOB, PANEL_BYTES } from "./gemmCode.ts";
import { runJob } from "./helper.ts";
import { activeInstance, type Kernels } from "./module.ts";

/** A product's operands (see gemmCode.ts): addresses and strides in bytes. */
export interface ProductArgs {
  readonly a: number;
  readonly b: number;
  readonly out: number;
  readonly M: number;
  readonly K: number;
  readonly N: number;
  readonly ars: number;
  readonly aks: number;
  readonly bks: number;
  /** Byte distance between B's panels: 32 for a row-major B, K·32 for a packed one. */
  readonly bps: number;
  readonly ors: number;
  readonly mode: number;
  /** Address of the bias (with the BIAS mode bit), else 0. */
  readonly bias: number;
}

/** How a product is cut: rows per tile, panels per tile, and the k block. */
export interface Tiles {
  readonly rper: number;
  readonly pper: number;
  readonly kblock: number;
}

/** One call on this thread (tmp: 64 bytes of scratch for a partial last panel). */
export function productCall(k: Kernels, es: 4 | 8, p: ProductArgs, tmp = TMP0): void {
  const f = activeInstance(k).fns[es === 4 ? "gemm32" : "gemm64"];
  f(p.a, p.b, p.out, p.M, p.K, p.N, p.ars, p.aks, p.bks, p.bps, p.ors, p.mode, p.bias, tmp);
}

/** Bytes of A (a row block) and of B (a panel group) that one tile works on: both stay in L2. */
const BLOCK_BYTES = 96 * 1024;

/** Tiles whose slices of A and B both fit in L2 (the kernel alone walks every row for each panel, which for a big A or B streams from memory). */
export function cacheTiles(M: number, N: number, K: number, es: 4 | 8): Tiles {
  const panels = Math.ceil(N / (PANEL_BYTES / es));
  const rper = Math.max(4, Math.min(256, Math.floor(BLOCK_BYTES / (Math.max(1, K) * es) / 4) * 4));
  const pper = Math.max(1, Math.min(panels, Math.floor(BLOCK_BYTES / (Math.max(1, K) * PANEL_BYTES))));
  return { rper: Math.min(rper, Math.ceil(M / 4) * 4), pper, kblock: Math.max(1, K) };
}

/** Tiles in a product cut this way. */
export function tileCount(p: ProductArgs, es: 4 | 8, t: Tiles): number {
  const panels = Math.ceil(p.N / (PANEL_BYTES / es));
  return Math.ceil(p.M / t.rper) * Math.ceil(panels / t.pper);
}

/**
 * The product in tiles, shared with the helper thread when `share` (the
 * mode must not depend on the row: no causal bits). scratch: this thread's
 * and the helper's 64-byte scratch addresses.
 */
export function productTiles(
  k: Kernels, es: 4 | 8, p: ProductArgs, t: Tiles, share: boolean,
  scratch: readonly [number, number] = [TMP0, TMP1],
): void {
  if (p.M <= 0 || p.N <= 0) return;
  const panels = Math.ceil(p.N / (PANEL_BYTES / es));
  const groups = Math.ceil(panels / t.pper);
  const n = Math.ceil(p.M / t.rper) * groups;
  writeProduct(k, DESC_ADDR, 0, p);
  const d = new Int32Array(k.memory.buffer, DESC_ADDR, GEMM_JOB.bytes / 4);
  const G = GEMM_JOB;
  d[G.rper / 4] = t.rper;
  d[G.pper / 4] = t.pper;
  d[G.groups / 4] = groups;
  d[G.kblock / 4] = Math.max(1, t.kblock);
  runJob(k, es === 4 ? "gemmJob32" : "gemmJob64", DESC_ADDR, n, scratch[0], scratch[1], share && n >= 2);
}

/** Store product `p`'s operands (GEMM_JOB's fields a … bias) as record `i` of records GEMM_JOB.bytes apart from byte `at`. */
export function writeProduct(k: Kernels, at: number, i: number, p: ProductArgs): void {
  const G = GEMM_JOB;
  const d = new Int32Array(k.memory.buffer, at + i * G.bytes, G.bytes / 4);
  d[G.a / 4] = p.a;
  d[G.b / 4] = p.b;
  d[G.out / 4] = p.out;
  d[G.M / 4] = p.M;
  d[G.K / 4] = p.K;
  d[G.N / 4] = p.N;
  d[G.ars / 4] = p.ars;
  d[G.aks / 4] = p.aks;
  d[G.bks / 4] = p.bks;
  d[G.bps / 4] = p.bps;
  d[G.ors / 4] = p.ors;
  d[G.mode / 4] = p.mode;
  d[G.bias / 4] = p.bias;
}
