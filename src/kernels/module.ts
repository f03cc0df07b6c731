/**
 * The one kernel module: the product (gemmCode.ts) in float32 and float64,
 * its tiled job, and the training passes' attention and cross-entropy
 * functions (src/train/trainKernels.ts), instantiated on one shared memory
 * that the simulator, the training engines and the helper thread
 * (helper.ts) all use.
 *
 * It is built in two variants that differ only in how the product adds a
 * term: "plain" (a rounded multiply then a rounded add: the JavaScript
 * kernels' bits) and "fma" (relaxed SIMD's fused multiply-add: one rounding
 * per term, and on x86 with FMA3 about twice the arithmetic per cycle). The
 * fused one is used where the runtime accepts relaxed SIMD (choice.ts);
 * both share the memory, so a test or a benchmark can switch per call.
 */
import { funcType, I32, F32, section, str, vec, uleb } from "./assembler.ts";
import { mulAddChoice } from "./choice.ts";
import { EXPORTS, FN, MAX_PAGES } from "./exports.ts";
import { gemmBody, gemmJobBody, GEMM_PARAMS, type MulAdd } from "./gemmCode.ts";
import { trainBodies } from "../train/trainKernels.ts";
import { attnPairBody } from "./attentionCode.ts";

/** The module's bytes for one variant (memory imported as env.mem, shared). */
export function moduleBytes(mulAdd: MulAdd): Uint8Array<ArrayBuffer> {
  const tGemm = funcType(GEMM_PARAMS.map(() => I32));
  const tSoft = funcType([I32, I32, I32, F32]);
  const tGrad = funcType([I32, I32, I32, I32, F32]);
  const tJob = funcType([I32, I32, I32]);
  const train = trainBodies();
  const bodies: Record<(typeof EXPORTS)[number], { type: number; body: number[] }> = {
    gemm32: { type: 0, body: gemmBody(4, mulAdd) },
    gemm64: { type: 0, body: gemmBody(8, mulAdd) },
    softmax32: { type: 1, body: train.softmax32 },
    scoreGrad32: { type: 2, body: train.scoreGrad32 },
    attnFwd32: { type: 3, body: train.attnFwd32 },
    attnBwd32: { type: 3, body: train.attnBwd32 },
    gemmJob32: { type: 3, body: gemmJobBody(4, FN.gemm32) },
    gemmJob64: { type: 3, body: gemmJobBody(8, FN.gemm64) },
    xentJob32: { type: 3, body: train.xentJob32 },
    layerFwd32: { type: 3, body: train.layerFwd32 },
    layerBwd32: { type: 3, body: train.layerBwd32 },
    attnPair32: { type: 3, body: attnPairBody(4, FN.gemm32) },
    attnPair64: { type: 3, body: attnPairBody(8, FN.gemm64) },
  };
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([tGemm, tSoft, tGrad, tJob])),
    ...section(2, vec([[...str("env"), ...str("mem"), 0x02, 0x03, ...uleb(1), ...uleb(MAX_PAGES)]])),
    ...section(3, vec(EXPORTS.map((n) => [bodies[n].type]))),
    ...section(7, vec(EXPORTS.map((n, i) => [...str(n), 0x00, ...uleb(i)]))),
    ...section(10, vec(EXPORTS.map((n) => bodies[n].body))),
  ]);
}

// ------------------------------------------------------------ instances

type Fn = (...args: number[]) => void;

/** One instantiated variant. */
export interface Instance {
  readonly module: WebAssembly.Module;
  readonly fns: Record<(typeof EXPORTS)[number], Fn>;
}

/** The shared memory and the instantiated variants on it. */
export interface Kernels {
  readonly memory: WebAssembly.Memory;
  readonly plain: Instance;
  /** The fused variant, or null where the runtime has no relaxed SIMD. */
  readonly fma: Instance | null;
}

let kernels: Kernels | null | undefined;

/** The compiled kernels, or null where WebAssembly SIMD (or shared memory) is unavailable, or CIRCUITS_NO_WASM is set. */
export function kernelModule(): Kernels | null {
  if (kernels !== undefined) return kernels;
  kernels = null;
  if (process.env.CIRCUITS_NO_WASM) return kernels;
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const make = (mulAdd: MulAdd): Instance | null => {
      const bytes = moduleBytes(mulAdd);
      if (!WebAssembly.validate(bytes)) return null;
      const module = new WebAssembly.Module(bytes);
      const fns = new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as Record<(typeof EXPORTS)[number], Fn>;
      return { module, fns };
    };
    const plain = make("plain");
    if (!plain) return kernels;
    const fma = mulAddChoice().mulAdd === "fma" ? make("fma") : null;
    kernels = { memory, plain, fma };
  } catch {
    kernels = null;
  }
  return kernels;
}

/** Switches for tests and benchmarks: which variant runs (results differ only in the last bits; "auto" is mulAddChoice's). */
export const kernelSettings: { mulAdd: MulAdd | "auto" } = { mulAdd: "auto" };

/** The variant the next product runs on. */
export function activeInstance(k: Kernels): Instance {
  const want = kernelSettings.mulAdd === "auto" ? mulAddChoice().mulAdd : kernelSettings.mulAdd;
  return want === "fma" && k.fma ? k.fma : k.plain;
}

/** Grow the shared memory to at least `bytes`. */
export function ensureMemory(k: Kernels, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
}

export { kernelDescription, mulAddChoice, relaxedSimdNative } from "./choice.ts";
