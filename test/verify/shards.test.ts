/**
 * Shards of an exhaustive check partition the prefix tree: their counts add
 * up to the whole check's, each sequence is checked once, and the first
 * disagreement of the lowest shard that has one is the whole check's first.
 * Also: the unit split itself, and the CLI's --shard output merged by
 * `circuits merge` (mergeShardDocs) equals the unsharded output.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { checkCommand } from "../../src/cli/checkCmd.ts";
import { parseCommandArgs } from "../../src/cli/command.ts";
import { mergeShardDocs } from "../../src/cli/mergeCmd.ts";
import { compile } from "../../src/compiler/compile.ts";
import {
  checkExhaustive, countInRange, countSequences, mergeResults, shardRange, treeSplit,
} from "../../src/verify/check.ts";
import { loadProgram, programPath } from "../support/programs.ts";

const failing = { ...compile(loadProgram("induction-earliest")), program: loadProgram("induction") };
const plain = (r: { sequences: number; disagreements: number; first: unknown }) => ({
  sequences: r.sequences,
  disagreements: r.disagreements,
  first: r.first,
});

describe("tree split", () => {
  it("unit ranges of any shard count cover every sequence exactly once", () => {
    for (const [a, L] of [[1, 5], [2, 1], [3, 4], [4, 8], [7, 3], [5000, 2]] as const) {
      const split = treeSplit(a, L);
      expect(split.units).toBe(a ** split.depth);
      expect(countInRange(split, 0, split.units)).toBe(countSequences(a, L));
      for (const N of [1, 2, 3, 7, 64]) {
        let sum = 0;
        let prevHi = 0;
        for (let i = 0; i < N; i++) {
          const [lo, hi] = shardRange(split, { index: i, count: N });
          expect(lo).toBe(prevHi);
          prevHi = hi;
          sum += countInRange(split, lo, hi);
        }
        expect(prevHi).toBe(split.units);
        expect(sum).toBe(countSequences(a, L));
      }
    }
  });

  it("rejects a shard outside 0 … N-1", () => {
    expect(() => shardRange(treeSplit(2, 3), { index: 2, count: 2 })).toThrow(RangeError);
  });
});

describe("sharded exhaustive check", () => {
  it("shards merge to the one-run result (counts and first disagreement)", () => {
    for (const opts of [{ maxLength: 6, alphabet: [0, 1, 2] }, { maxLength: 5, alphabet: [2, 0] }, { maxLength: 7, alphabet: [1, 0] }]) {
      const whole = checkExhaustive(failing, opts);
      expect(whole.disagreements).toBeGreaterThan(0);
      for (const count of [2, 3, 5, 11, 200]) {
        const parts = Array.from({ length: count }, (_, index) => {
          const r = checkExhaustive(failing, { ...opts, shard: { index, count } });
          const [lo, hi] = shardRange(treeSplit(opts.alphabet.length, opts.maxLength), { index, count });
          expect(r.sequences).toBe(countInRange(treeSplit(opts.alphabet.length, opts.maxLength), lo, hi));
          return r;
        });
        expect(plain(mergeResults(parts))).toEqual(plain(whole));
      }
    }
  });
});

describe("circuits check --shard and circuits merge", () => {
  afterEach(() => vi.restoreAllMocks());

  /** Run `circuits check ARGS… --json` in this process and parse what it prints. */
  async function checkJson(...argv: string[]): Promise<Record<string, unknown>> {
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    await checkCommand.run(parseCommandArgs(checkCommand, [...argv, "--json"]));
    vi.restoreAllMocks();
    return JSON.parse(out) as Record<string, unknown>;
  }

  it("merged shard files equal the unsharded result", async () => {
    const args = [programPath("previous-token"), "--exhaustive", "--max-length", "5", "--alphabet", "c,a,b", "--workers", "1"];
    const whole = await checkJson(...args);
    const shards: Record<string, unknown>[] = [];
    for (let i = 3; i >= 1; i--) shards.push(await checkJson(...args, "--shard", `${i}/3`));
    expect(shards[0]!.shard).toEqual({ index: 3, count: 3 });
    const merged = mergeShardDocs(shards as never[]);
    const strip = ({ seconds: _s, shards: _n, maxLength: _m, alphabet: _a, ...rest }: Record<string, unknown>) => rest;
    expect(strip(merged)).toEqual(strip(whole));
    expect(merged.sequences).toBe(countSequences(3, 5));
    expect(() => mergeShardDocs(shards.slice(1) as never[])).toThrow(/missing shard 3\/3/);
    expect(() => mergeShardDocs([shards[0], shards[0]] as never[])).toThrow(/given twice/);
  });

  it("merge keeps the first disagreement of the lowest shard", () => {
    const doc = (index: number, first: unknown, n: number) => ({
      program: "p.circ", mode: "exhaustive", precision: "float64", sequences: 10, disagreements: n, first,
      seconds: index, bound: {}, shard: { index, count: 3 }, maxLength: 4, alphabet: ["a", "b"],
    });
    const merged = mergeShardDocs([doc(3, { input: ["b"] }, 2), doc(1, null, 0), doc(2, { input: ["a", "b"] }, 1)]);
    expect(merged).toMatchObject({ sequences: 30, disagreements: 3, first: { input: ["a", "b"] }, seconds: 3 });
  });

  it("--shard is checked", async () => {
    await expect(checkJson(programPath("previous-token"), "--exhaustive", "--max-length", "2", "--shard", "0/2")).rejects.toThrow(/--shard must be i\/N/);
  });
});
