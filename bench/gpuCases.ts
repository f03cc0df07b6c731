/**
 * Writes the bench's forward workloads as files a PyTorch-on-GPU peer can read
 * on a machine without Node (bench/peer_gpu.py): for every example program
 * its compiled weights (safetensors) and the compiled section's token batch,
 * the random dense model at d_model 512 with the dense section's batches, and
 * the generation section's model with our greedy ids from [BOS].
 *
 * usage: npx tsx bench/gpuCases.ts [DIR]     (default bench/out/gpu-cases)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../src/compiler/compile.ts";
import { saveWeights } from "../src/model/weightsFile.ts";
import { randomWeights } from "../src/sim/random.ts";
import { generate } from "../src/generate/generate.ts";
import { BOS_ID } from "../src/model/tokenIds.ts";
import { compiledBatch, DENSE512_SHAPES, denseBatch, GENERATION_CONTEXT, generationWeights, programFile, PROGRAMS, ROOT, shapeOf } from "./cases.ts";

const dir = process.argv[2] ?? join(ROOT, "bench/out/gpu-cases");
if (process.argv.includes("--help")) {
  process.stdout.write("usage: npx tsx bench/gpuCases.ts [DIR]   (writes the bench's forward cases for bench/peer_gpu.py; default bench/out/gpu-cases)\n");
  process.exit(0);
}
mkdirSync(dir, { recursive: true });
const cases: { id: string; weights: string; batches: number[][][] }[] = [];
for (const name of PROGRAMS) {
  const model = compile(programFile(name));
  const w = model.weights;
  saveWeights(join(dir, `${name}.safetensors`), w, { tokens: [...model.tokens] });
  // The compiled section's batch, and a large one where a GPU has room to work.
  const { d_vocab: V, n_ctx: C } = w.config;
  cases.push({ id: name, weights: `${name}.safetensors`, batches: [compiledBatch(V, C), compiledBatch(V, C, 4096, 6)] });
}
const dense = randomWeights(shapeOf(512), 512, { scale: 1 / Math.sqrt(512) });
saveWeights(join(dir, "dense512.safetensors"), dense);
cases.push({ id: "dense512", weights: "dense512.safetensors", batches: DENSE512_SHAPES.map(([B, T]) => denseBatch(512, B, T)) });
writeFileSync(join(dir, "cases.json"), JSON.stringify(cases));
// The generation section's model, and our greedy ids from [BOS] in both precisions, for the peer to compare its own with.
const gw = generationWeights(GENERATION_CONTEXT);
saveWeights(join(dir, "generation.safetensors"), gw);
const ids = (precision: "float64" | "float32") => generate(gw, [BOS_ID], { steps: GENERATION_CONTEXT - 1, kvCache: true, precision }).tokens;
writeFileSync(join(dir, "generation.json"), JSON.stringify({ weights: "generation.safetensors", steps: GENERATION_CONTEXT - 1, ours: { float64: ids("float64"), float32: ids("float32") } }));
process.stderr.write(`gpuCases: ${cases.length} cases in ${dir}\n`);
