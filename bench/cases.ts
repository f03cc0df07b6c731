/**
 * The bench's workloads, shared by bench/run.ts and bench/gpuCases.ts: the
 * random-dense model family, the token batches (seeded), and the example
 * programs the compiled section runs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { load } from "../src/lang/check.ts";
import type { Program } from "../src/lang/program.ts";
import { BOS_ID } from "../src/model/tokenIds.ts";
import type { Weights } from "../src/model/weights.ts";
import { mulberry32, randomWeights, type ModelShape } from "../src/sim/random.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The example programs the compiled section measures, in table order. */
export const PROGRAMS = ["previous-token", "induction", "induction-earliest", "bigram-induction", "duplicate-token", "every-average", "q-composition", "v-composition"];

/** The random-dense model family: 4 heads of d_model/4, L layers, context C, vocabulary V. */
export const shapeOf = (D: number, L = 2, C = 1024, V = 512): ModelShape => ({
  d_model: D, d_head: D / 4, n_heads: 4, n_layers: L, n_ctx: C, d_vocab: V,
});

/** B sequences of T tokens, each BOS then T−1 tokens uniform over 1…V−1, from a seeded generator. */
export function batchOf(V: number, B: number, T: number, seed: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: B }, () => [BOS_ID, ...Array.from({ length: T - 1 }, () => 1 + Math.floor(rand() * (V - 1)))]);
}

/** The dense section's batch of B sequences of T tokens (vocabulary V), seeded by its shape. */
export const denseBatch = (V: number, B: number, T: number): number[][] => batchOf(V, B, T, B * 1000 + T);

/** The batch shapes (B, T) of the dense section at d_model 512. */
export const DENSE512_SHAPES: readonly (readonly [number, number])[] = [[1, 128], [16, 16], [8, 256]];

/** Sequences per batch in the compiled section, each n_ctx long. */
export const COMPILED_BATCH = 64;

/** The compiled section's batch for a model of vocabulary V and context C. */
export const compiledBatch = (V: number, C: number, B = COMPILED_BATCH, seed = 5): number[][] => batchOf(V, B, C, seed);

/** The generation section's context: it generates GENERATION_CONTEXT − 1 tokens after [BOS]. */
export const GENERATION_CONTEXT = 4096;

/** The generation section's model: d_model 128, 2 layers, vocabulary 512, context C, seeded. */
export const generationWeights = (C: number): Weights => randomWeights(shapeOf(128, 2, C, 512), 11, { scale: 1 / Math.sqrt(128) });

/** programs/NAME.circ, parsed and checked. */
export function programFile(name: string): Program {
  const path = `programs/${name}.circ`;
  return load({ path, text: readFileSync(join(ROOT, path), "utf8") });
}
