/**
 * The kernel module's functions, in function-index order (a job's number is
 * its index here), and the memory map every user of the module shares.
 */

/** The exports, in function-index order. */
export const EXPORTS = ["gemm32", "gemm64", "softmax32", "scoreGrad32", "attnFwd32", "attnBwd32", "gemmJob32", "gemmJob64", "xentJob32", "layerFwd32", "layerBwd32", "attnPair32", "attnPair64"] as const;

/** An export's name. */
export type ExportName = (typeof EXPORTS)[number];

/** Function index by name. */
export const FN = Object.fromEntries(EXPORTS.map((n, i) => [n, i])) as Record<ExportName, number>;

/** Largest memory (64 KiB pages): 1 GiB, reserved, not committed. */
export const MAX_PAGES = 16384;

/**
 * The memory map. [0, ARENA_START): two 64-byte partial-panel scratches
 * (this thread's, the helper's), then job descriptors (1 KiB);
 * [ARENA_START, ARENA_END): weights kept resident (the simulator's arena);
 * [ARENA_END, OPERANDS_END): the simulator's operands (per-call copies, then
 * kernelBuffer's arrays); WORK_START … 1 GiB: the training workspace.
 */
export const TMP0 = 0;
export const TMP1 = 64;
export const DESC_ADDR = 128;
export const ARENA_START = 2048;
export const ARENA_END = 256 * 2 ** 20;
export const OPERANDS_END = 640 * 2 ** 20;
export const WORK_START = OPERANDS_END;
export const MEMORY_END = MAX_PAGES * 65536;
