/**
 * What this machine allows, measured so that the goals the bench misses can
 * be judged against it rather than guessed at:
 *
 * - the multiply-add rate of WebAssembly SIMD with nothing but registers
 *   (independent chains acc = acc·m + c, so no load, store or dependency
 *   limits it): f32x4 and f64x2 as a multiply then an add, and f32x4
 *   relaxed_madd where this process has relaxed SIMD. No product kernel
 *   written in WebAssembly on this runtime can go faster than its row;
 * - the time to read, once per token, the keys and values a KV-cached
 *   generation reads (Σ over t of t positions × L·H·2·E elements), with
 *   nothing computed: on one thread, and on two threads that each keep
 *   their half of the heads (as the KV helper's home chunks do). No
 *   generation that reads its cache once per token goes faster than that.
 *
 * The kernels are assembled here, not taken from src/: they are yardsticks.
 * bench/run.ts times the register-only loops in rounds interleaved with our
 * product kernel and numpy's product on one OpenBLAS thread.
 */
import { Worker } from "node:worker_threads";
import {
  ADD, brIf, END, f32c, f64c, funcBody, get, I32, i32, LE_S, LOOP, LT_S, MUL, section, set, simd, str, SUB, uleb, V128, V_LOAD, V_STORE, V_ZERO, vec,
} from "../src/kernels/assembler.ts";

const F32X4_SPLAT = simd(0x13), F64X2_SPLAT = simd(0x14);
const F32X4 = { add: simd(0xe4), mul: simd(0xe6), madd: simd(0x105) };
const F64X2 = { add: simd(0xf0), mul: simd(0xf2) };
const LOCAL_TEE = (l: number): number[] => [0x22, ...uleb(l)];
const LT_U = [0x49];

/** Independent accumulator chains: 12 of them keep both the multiply and the add pipes of an x64 core full (6-cycle chains). */
const CHAINS = 12;

/** The register-only loops a peak is measured with. */
export type PeakKind = "f32x4 mul+add" | "f64x2 mul+add" | "f32x4 relaxed_madd";

/** peak(n): n rounds of CHAINS chained multiply-adds, returning a lane so that nothing is dropped. */
function peakBody(kind: PeakKind): number[] {
  const N = 0, M = 1, C = 2;
  const ACC = Array.from({ length: CHAINS }, (_, i) => 3 + i);
  const f64 = kind === "f64x2 mul+add";
  const splat = (x: number): number[] => (f64 ? [...f64c(x), ...F64X2_SPLAT] : [...f32c(x), ...F32X4_SPLAT]);
  const c: number[] = [...splat(0.9999), ...set(M), ...splat(1e-3), ...set(C)];
  ACC.forEach((a, i) => c.push(...splat(i), ...set(a)));
  c.push(...LOOP);
  for (const a of ACC) {
    if (kind === "f32x4 relaxed_madd") c.push(...get(a), ...get(M), ...get(C), ...F32X4.madd, ...set(a));
    else if (f64) c.push(...get(a), ...get(M), ...F64X2.mul, ...get(C), ...F64X2.add, ...set(a));
    else c.push(...get(a), ...get(M), ...F32X4.mul, ...get(C), ...F32X4.add, ...set(a));
  }
  c.push(...get(N), ...i32(1), ...SUB, ...LOCAL_TEE(N), ...brIf(0), ...END);
  // the sum of the chains' first lanes (as f64)
  const lane = f64 ? simd(0x21, 0) : [...simd(0x1f, 0), 0xbb]; // f64x2.extract_lane 0 / f32x4.extract_lane 0, f64.promote_f32
  c.push(...get(ACC[0]!), ...lane);
  for (let i = 1; i < CHAINS; i++) c.push(...get(ACC[i]!), ...lane, 0xa0); // f64.add
  return funcBody([[2 + CHAINS, V128]], c);
}

function peakModule(kind: PeakKind): WebAssembly.Module | null {
  const type = [0x60, 1, I32, 1, 0x7c];
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type])), ...section(3, vec([[0]])), ...section(7, vec([[...str("peak"), 0x00, 0]])), ...section(10, vec([peakBody(kind)])),
  ]);
  return WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
}

/** `kind`'s register-only loop: peak(n) runs n rounds and returns the sum of the chains' first lanes; null where the runtime rejects it. */
export function peakLoop(kind: PeakKind): ((n: number) => number) | null {
  const module = peakModule(kind);
  return module ? (new WebAssembly.Instance(module).exports as { peak: (n: number) => number }).peak : null;
}

/** One call of `kind`'s register-only loop, sized to about `ms` milliseconds here, and its floating-point operations; null where the runtime rejects it. */
export function simdPeak(kind: PeakKind, ms = 5): { call: () => void; flops: number } | null {
  const peak = peakLoop(kind);
  if (!peak) return null;
  const flopsPerRound = CHAINS * (kind.startsWith("f64") ? 2 : 4) * 2;
  peak(1e5);
  const t0 = performance.now();
  peak(1e6);
  const n = Math.max(1e4, Math.round((1e6 * ms) / Math.max(1e-3, performance.now() - t0)));
  return { call: () => void peak(n), flops: n * flopsPerRound };
}

// ---------------------------------------------------------------- streaming the KV cache

/**
 * sweep(base, regionBytes, regions, rowBytes, T, out): for t = 1 … T, for
 * each region r, read bytes [base + r·regionBytes, + t·rowBytes) as f64x2
 * vectors (four accumulators), then store their sum at out — the reads of T
 * pushes over `regions` key or value arrays of rowBytes per position.
 */
function sweepBody(): number[] {
  const [BASE, RB, NR, ROWB, T, OUT] = [0, 1, 2, 3, 4, 5];
  const [t, r, p, end] = [6, 7, 8, 9];
  const A = [10, 11, 12, 13];
  const c: number[] = [];
  for (const a of A) c.push(...V_ZERO, ...set(a));
  c.push(...i32(1), ...set(t), ...LOOP);
  c.push(...i32(0), ...set(r), ...LOOP);
  c.push(...get(BASE), ...get(r), ...get(RB), ...MUL, ...ADD, ...set(p));
  c.push(...get(p), ...get(t), ...get(ROWB), ...MUL, ...ADD, ...set(end));
  c.push(...LOOP);
  A.forEach((a, i) => c.push(...get(a), ...get(p), ...V_LOAD(16 * i, 4), ...F64X2.add, ...set(a)));
  c.push(...get(p), ...i32(64), ...ADD, ...LOCAL_TEE(p), ...get(end), ...LT_U, ...brIf(0), ...END);
  c.push(...get(r), ...i32(1), ...ADD, ...LOCAL_TEE(r), ...get(NR), ...LT_S, ...brIf(0), ...END);
  c.push(...get(t), ...i32(1), ...ADD, ...LOCAL_TEE(t), ...get(T), ...LE_S, ...brIf(0), ...END);
  c.push(...get(OUT), ...get(A[0]!), ...get(A[1]!), ...F64X2.add, ...get(A[2]!), ...F64X2.add, ...get(A[3]!), ...F64X2.add, ...V_STORE(0, 4));
  return funcBody([[4, I32], [4, V128]], c);
}

function sweepModule(): WebAssembly.Module {
  const type = [0x60, 6, I32, I32, I32, I32, I32, I32, 0];
  return new WebAssembly.Module(new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type])),
    ...section(2, vec([[...str("env"), ...str("mem"), 0x02, 0x03, ...uleb(1), ...uleb(65536)]])),
    ...section(3, vec([[0]])), ...section(7, vec([[...str("sweep"), 0x00, 0]])), ...section(10, vec([sweepBody()])),
  ]));
}

type Sweep = (base: number, regionBytes: number, regions: number, rowBytes: number, T: number, out: number) => void;

const SWEEP_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { sweep } = new WebAssembly.Instance(workerData.module, { env: { mem: workerData.memory } }).exports;
parentPort.on("message", (m) => {
  const t0 = performance.now();
  sweep(m.base, m.regionBytes, m.regions, m.rowBytes, m.T, 64);
  parentPort.postMessage(performance.now() - t0);
});
`;

/** The floor of a KV-cached generation's cache reads: bytes read, and seconds on one thread and on two (median of `runs`). */
export interface StreamFloor {
  readonly gigabytes: number;
  /** The sum of every float64 the one-thread sweep read (the arrays hold 0.001 each), so that a sweep that skipped its reads shows. */
  readonly checksum: number;
  readonly megabytesAtEnd: number;
  readonly oneThread: number[];
  readonly twoThreads: number[];
}

/**
 * Read, for t = 1 … C, the first t positions of each of L·H key arrays and
 * L·H value arrays of E elements of `bytes` (the generation section's cache),
 * on one thread and on two threads each reading its own half of the arrays.
 */
export async function streamFloor(shape: { L: number; H: number; E: number; C: number }, bytes: 4 | 8, runs = 3): Promise<StreamFloor> {
  const regions = 2 * shape.L * shape.H;
  const rowBytes = Math.ceil((shape.E * bytes) / 64) * 64;
  const regionBytes = shape.C * rowBytes;
  const base = 65536;
  const pages = Math.ceil((base + regions * regionBytes) / 65536) + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  new Float64Array(memory.buffer, base).fill(1e-3);
  const module = sweepModule();
  const sweep = (new WebAssembly.Instance(module, { env: { mem: memory } }).exports as { sweep: Sweep }).sweep;
  const worker = new Worker(SWEEP_WORKER, { eval: true, workerData: { module, memory } });
  const half = Math.floor(regions / 2);
  const oneThread: number[] = [], twoThreads: number[] = [];
  let checksum = NaN;
  try {
    for (let r = 0; r < runs; r++) {
      let t0 = performance.now();
      sweep(base, regionBytes, regions, rowBytes, shape.C, 0);
      oneThread.push((performance.now() - t0) / 1000);
      const lanes = new Float64Array(memory.buffer, 0, 2);
      checksum = lanes[0]! + lanes[1]!;
      const theirs = new Promise<number>((resolve) => worker.once("message", resolve));
      t0 = performance.now();
      worker.postMessage({ base: base + half * regionBytes, regionBytes, regions: regions - half, rowBytes, T: shape.C });
      sweep(base, regionBytes, half, rowBytes, shape.C, 0);
      await theirs;
      twoThreads.push((performance.now() - t0) / 1000);
    }
  } finally {
    await worker.terminate();
  }
  const positions = (shape.C * (shape.C + 1)) / 2;
  return { gigabytes: (positions * regions * rowBytes) / 1e9, checksum, megabytesAtEnd: (regions * regionBytes) / 2 ** 20, oneThread, twoThreads };
}
