import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { load } from "../../src/lang/check.ts";
import { interpret } from "../../src/semantics/interpret.ts";
import { loadWeights } from "../../src/model/weightsFile.ts";
import { forward } from "../../src/sim/forward.ts";
import { TrainEngine } from "../../src/train/backward.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "../../src/train/config.ts";
import { DataError, programSource, repeatSource, textSource } from "../../src/train/data.ts";
import { train, trainThroughput } from "../../src/train/loop.ts";
import { Rng } from "../../src/train/rng.ts";

const dir = mkdtempSync(join(tmpdir(), "train-test-"));
const tiny: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  d_model: 16, n_heads: 2, d_head: 8, n_layers: 2, n_ctx: 12,
  data: { kind: "repeat", vocab: 8, repeatFraction: 0.5 },
  batch: 4, steps: 20, seed: 3, evalEvery: 5, checkpointEvery: 10, phaseWindow: 10,
  optimizer: { ...DEFAULT_TRAIN_CONFIG.optimizer, lr: 1e-2 },
};
const loadProgram = (path: string) => load({ path, text: readFileSync(path, "utf8") });

describe("training runs", () => {
  it("same seed gives byte-identical checkpoints; resuming equals the uninterrupted run", () => {
    const a = join(dir, "a.safetensors"), b = join(dir, "b.safetensors"), c = join(dir, "c.safetensors");
    const runA = train({ config: tiny, output: a });
    train({ config: tiny, output: b });
    expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
    train({ config: { ...tiny, steps: 13 }, output: c }); // stops between checkpoints: the last write is step 13
    const resumed = train({ config: tiny, resume: loadCheckpoint(c), output: c });
    expect(Buffer.compare(readFileSync(a), readFileSync(c))).toBe(0);
    expect(resumed.log.loss).toEqual(runA.log.loss);
    expect(resumed.log.evals.map((e) => e.step)).toEqual([0, 5, 10, 15, 20]);
    const other = join(dir, "d.safetensors");
    train({ config: { ...tiny, seed: 4 }, output: other });
    expect(Buffer.compare(readFileSync(a), readFileSync(other))).not.toBe(0);
  });

  it("reads checkpoints that placed heads by `layer` (before `block`) with the same numbers under `block`", () => {
    const path = join(dir, "old.safetensors"), old = join(dir, "old-layer.safetensors");
    train({ config: { ...tiny, steps: 5 }, output: path });
    const now = loadCheckpoint(path);
    expect(now.evals.at(-1)!.heads.map((h) => h.block)).toEqual([0, 0, 1, 1]);
    // Rewrite the curves as an older version wrote them: each head's block under the name `layer`.
    const evals = now.evals.map((e) => ({ ...e, heads: e.heads.map(({ block, ...h }) => ({ ...h, layer: block })) }));
    saveCheckpoint(old, { ...now, evals: evals as unknown as typeof now.evals });
    expect(readFileSync(old, "latin1")).toContain('\\"layer\\":1');
    expect(loadCheckpoint(old).evals).toEqual(now.evals);
  });

  it("writes a model file that loadWeights and the simulator read, with tokens and step in its metadata", () => {
    const path = join(dir, "m.safetensors");
    const { log, params } = train({ config: tiny, output: path });
    const loaded = loadWeights(path);
    // The training forward pass on the trained (float32) parameters gives the simulator's logits on the saved file.
    const engine = new TrainEngine(params.shape, 1, 11, "float32", params);
    const seq = [0, 3, 1, 4, 1, 5, 3, 1, 4, 1, 5];
    engine.lossAndGrad(params, Int32Array.from(seq), new Int32Array(11), null);
    const sim = forward(loaded.weights, seq).logits;
    const mine = engine.lastLogits();
    for (let i = 0; i < sim.length; i++) expect(Math.abs(sim[i]! - mine[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(sim[i]!)));
    expect(loaded.tokens).toEqual(["<bos>", "0", "1", "2", "3", "4", "5", "6", "7"]);
    expect(JSON.parse(loaded.metadata.step!)).toBe(20);
    expect(JSON.parse(loaded.metadata.training!).d_model).toBe(16);
    expect(loaded.weights.config.d_vocab).toBe(9);
    const { logits } = forward(loaded.weights, [0, 1, 2, 3, 1, 2]);
    expect(logits.every(Number.isFinite)).toBe(true);
    // The loss fell: last five steps below the first five.
    const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(log.loss.slice(-5))).toBeLessThan(mean(log.loss.slice(0, 5)));
    expect(log.evals[0]!.lossByPosition).toHaveLength(10);
    expect(log.probe).toMatchObject({ repeatLength: 5, iclEarly: 1, iclLate: 10 });
  });

  it("stops at a non-finite loss, says at which step, and keeps the last good checkpoint", () => {
    const path = join(dir, "nan.safetensors");
    // lr 1e30: the first update leaves float32 parameters near 1e30 (finite), the next forward overflows.
    const { log } = train({ config: { ...tiny, steps: 40, checkpointEvery: 1, optimizer: { ...tiny.optimizer, lr: 1e30 } }, output: path });
    expect(log.stopped).not.toBeNull();
    const at = log.stopped!.step;
    expect(log.stopped!.message).toMatch(new RegExp(`^loss is (NaN|Infinity) at step ${at}`));
    expect(at).toBeGreaterThan(1);
    expect(loadCheckpoint(path).step).toBe(at - 1);
  });

  it("stops when an update overflows the parameters, before checkpointing them (the loader refuses non-finite weights)", () => {
    const path = join(dir, "overflow.safetensors");
    // lr 1e300 overflows float32 parameters in the very first update, while that step's loss was finite.
    const { log } = train({ config: { ...tiny, steps: 40, checkpointEvery: 1, optimizer: { ...tiny.optimizer, lr: 1e300 } }, output: path });
    expect(log.stopped).toMatchObject({ step: 1 });
    expect(log.stopped!.message).toMatch(/^parameters became non-finite .* at step 1; stopped \(last checkpoint: step none\)/);
    expect(existsSync(path)).toBe(false);
  });
});

describe("trainThroughput", () => {
  it("times training steps of a configuration", () => {
    const t = trainThroughput(tiny, 3);
    expect(t.tokensPerStep).toBe(4 * 11);
    expect(t.tokensPerSecond).toBeGreaterThan(0);
    expect(t.tokensPerSecond).toBeCloseTo(t.tokensPerStep / t.secondsPerStep, 6);
    expect(Number.isFinite(t.cpuSecondsPerStep)).toBe(true);
  });
});

describe("data sources", () => {
  it("repeat data: fixed |r| = ⌊(C−1)/2⌋ or random 2…R; tiled to the end of the context or once; targets are the next tokens", () => {
    const B = 40, C = 21, R = 10, T = 21;
    for (const [lengths, layout] of [["fixed", "once"], ["fixed", "tiled"], ["random", "once"], ["random", "tiled"]] as const) {
      const src = repeatSource(7, C, 1, lengths, layout);
      expect(src.seqLength).toBe(T);
      const tokens = new Int32Array(B * T), targets = new Int32Array(B * T);
      src.fill(new Rng(2), B, tokens, targets);
      const seen = new Set<number>();
      let noiseAfterCopies = 0;
      for (let b = 0; b < B; b++) {
        const seq = tokens.subarray(b * T, b * T + T);
        expect(seq[0]).toBe(0);
        for (let i = 0; i < T - 1; i++) expect(targets[b * T + i]).toBe(seq[i + 1]);
        expect(targets[b * T + T - 1]).toBe(-1);
        // The smallest period of the first two copies is |r| (or divides it).
        const L = [...Array(R - 1)].map((_, k) => k + 2).find((l) => [...Array(l)].every((_, k) => seq[1 + k] === seq[1 + l + k]));
        expect(L, `sequence ${b}`).toBeDefined();
        seen.add(L!);
        const periodic = [...Array(R - 1)].some((_, m) => [...Array(T - 3 - m)].every((_, k) => seq[1 + k] === seq[3 + m + k]));
        if (layout === "tiled") expect(periodic, `sequence ${b} is r repeated to the end`).toBe(true);
        else if (!periodic) noiseAfterCopies++;
      }
      if (lengths === "fixed") {
        for (let b = 0; b < B; b++) for (let k = 0; k < R; k++) expect(tokens[b * T + 1 + k]).toBe(tokens[b * T + 1 + R + k]);
      } else {
        expect(seen.size).toBeGreaterThan(3);
        // "once" leaves uniform tokens after [BOS] r r, which break the period almost always.
        if (layout === "once") expect(noiseAfterCopies).toBeGreaterThan(B / 2);
      }
    }
  });

  it("program data: targets are the program's predictions, ⊥ positions untrained", () => {
    const program = loadProgram("programs/induction.circ");
    const src = programSource(program, 20);
    const B = 6, T = src.seqLength;
    const tokens = new Int32Array(B * T), targets = new Int32Array(B * T);
    src.fill(new Rng(1), B, tokens, targets);
    let trained = 0, untrained = 0;
    for (let b = 0; b < B; b++) {
      const input = Array.from(tokens.subarray(b * T + 1, b * T + T), (t) => t - 1);
      const run = interpret(program, input);
      for (let i = 0; i < T; i++) {
        const p = run.prediction(i);
        expect(targets[b * T + i]).toBe(p === null ? -1 : (p as number) + 1);
        if (p === null) untrained++;
        else trained++;
      }
    }
    expect(trained).toBeGreaterThan(0);
    expect(untrained).toBeGreaterThan(0);
  });

  it("teacher training on a program lowers the loss on its labels", () => {
    const { log } = train({
      config: { ...tiny, n_ctx: 16, data: { kind: "program", path: "programs/previous-token.circ" }, steps: 60, evalEvery: 30 },
      loadProgram,
    });
    expect(log.tokens[0]).toBe("<bos>");
    expect(log.loss[59]!).toBeLessThan(log.loss[0]! * 0.8);
  });

  it("text data: vocabulary from the file; a character outside a model's vocabulary is located", () => {
    const path = join(dir, "t.txt");
    writeFileSync(path, "abcab\ncabz");
    const src = textSource(path, "char", 8);
    expect(src.tokens).toEqual(["<bos>", "\n", "a", "b", "c", "z"]);
    expect(() => textSource(path, "char", 8, ["<bos>", "\n", "a", "b", "c"])).toThrow(DataError);
    expect(() => textSource(path, "char", 8, ["<bos>", "\n", "a", "b", "c"])).toThrow(/t\.txt:2:4: character "z"/);
    const words = textSource(path, "word", 8);
    expect(words.tokens).toEqual(["<bos>", "abcab", "cabz"]);
  });
});
