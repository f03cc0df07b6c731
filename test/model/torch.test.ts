/**
 * The exported pair read in PyTorch the way TransformerLens would: the
 * safetensors file plus TransformerLens's own buffers (`mask`, `IGNORE`) give
 * exactly the state dict of an attention-only HookedTransformer (what
 * `load_state_dict(strict=True)` needs), the sidecar's token list tokenizes
 * with BOS = id 0 and token v = id v + 1, and a TransformerLens-style forward
 * (test/model/tl_forward.py) reproduces the simulator's logits to 1e-6
 * relative in float64; in the config's dtype (float32), greedy tokens are the
 * semantics' predictions. TransformerLens itself is not installable here, so
 * this is the closest check of the README's Python snippet.
 *
 * Needs a Python with torch: $CIRCUITS_TORCH_PYTHON, /usr/bin/python3
 * (Debian's python3-torch) or python3. Without one it is skipped, saying so.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { layoutToJson } from "../../src/compiler/layout.ts";
import { encodeInput } from "../../src/lang/tokens.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { isDist } from "../../src/semantics/values.ts";
import { loadWeights, saveWeightsAsync } from "../../src/model/weightsFile.ts";
import { forward } from "../../src/sim/forward.ts";
import { loadProgram, REPO_ROOT } from "../support/programs.ts";
import { modelInput } from "../../src/model/tokenIds.ts";

/** The first Python that imports torch, or null. */
function torchPython(): string | null {
  const candidates = [process.env.CIRCUITS_TORCH_PYTHON, "/usr/bin/python3", "python3"].filter((p): p is string => !!p);
  for (const py of candidates) {
    if (spawnSync(py, ["-c", "import torch"], { stdio: "ignore", timeout: 60_000 }).status === 0) return py;
  }
  return null;
}

const python = torchPython();
if (python === null) console.log("test/model/torch.test.ts skipped: no python with torch (tried $CIRCUITS_TORCH_PYTHON, /usr/bin/python3, python3)");

interface Run {
  ids: number[];
  float64: number[];
  configDtype: number[];
}

interface JobResult {
  keys: string[];
  dtype: string;
  metadataTokens: string[];
  runs: Run[];
}

const dir = mkdtempSync(join(tmpdir(), "circuits-torch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const INPUTS: Record<string, string[]> = {
  induction: ["a b c d a b c a", "a", "h g f e h g f e h", "a a a a b b a b"],
  "every-average": ["a b a c a b", "b b b a", "c"],
  "q-composition": ["a b c a b c a", "b a b a"],
  "bigram-induction": ["a b c a b d a b c a b", "c c c"],
};

describe.skipIf(python === null)("exported weights in PyTorch, TransformerLens-style", () => {
  const results = new Map<string, JobResult>();
  beforeAll(async () => {
    const jobs = [];
    for (const [name, inputs] of Object.entries(INPUTS)) {
      const program = loadProgram(name);
      const model = compile(program); // float32 is the default bound, as `circuits compile` writes it
      const path = join(dir, `${name}.safetensors`);
      await saveWeightsAsync(path, model.weights, { tokens: model.tokens, layout: layoutToJson(model.layout), program: program.source.text, scales: model.scales });
      jobs.push({ model: path, sidecar: join(dir, `${name}.json`), inputs });
    }
    writeFileSync(join(dir, "jobs.json"), JSON.stringify(jobs));
    const r = spawnSync(python!, [join(REPO_ROOT, "test/model/tl_forward.py"), join(dir, "jobs.json")], { encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`tl_forward.py failed (${r.status ?? r.signal}): ${r.stderr}`);
    (JSON.parse(r.stdout) as JobResult[]).forEach((res, k) => results.set(Object.keys(INPUTS)[k]!, res));
  }, 120_000);

  for (const [name, inputs] of Object.entries(INPUTS)) {
    it(`${name}: strict state dict, +1 token ids, logits = simulator's`, () => {
      const program = loadProgram(name);
      const out = results.get(name)!;
      const weights = loadWeights(join(dir, `${name}.safetensors`)).weights;
      const L = weights.config.n_layers;
      expect(out.keys).toHaveLength(4 + 10 * L);
      expect(out.dtype).toBe("float32");
      expect(out.metadataTokens).toEqual(["<bos>", ...program.vocab]);

      const Vo = weights.config.d_vocab_out;
      let compared = 0;
      out.runs.forEach((run, k) => {
        const input = encodeInput(program, inputs[k]!);
        expect(run.ids).toEqual(modelInput(input));
        const sim = forward(weights, run.ids, { precision: "float64" }).logits;
        const scale = Math.max(...sim.map(Math.abs));
        const worst = Math.max(...run.float64.map((x, i) => Math.abs(x - sim[i]!)));
        expect(worst / scale, `${name} "${inputs[k]}"`).toBeLessThan(1e-6);
        // In the dtype the bound is stated for: greedy tokens are the semantics' predictions.
        const sym = interpret(program, input);
        for (let p = 1; p <= input.length; p++) {
          const want = sym.prediction(p);
          if (want === null || isDist(want)) continue;
          const row = run.configDtype.slice(p * Vo, (p + 1) * Vo);
          expect(row.indexOf(Math.max(...row)) - 1, `${name} "${inputs[k]}" position ${p}`).toBe(want);
          compared++;
        }
      });
      if (name !== "every-average") expect(compared).toBeGreaterThan(0); // every-average predicts distributions only
    });
  }
});
