/**
 * Worker threads and shards give the one-thread result: the same counts and
 * the same first disagreement (first in depth-first order). The failing
 * model is induction-earliest's weights checked against induction's
 * semantics, which disagree as soon as a token repeats twice. One pool
 * serves every case: starting threads (tsx, mathjs) is the slow part.
 */
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compiler/compile.ts";
import { checkExhaustive, countSequences, type ExhaustiveOptions } from "../../src/verify/check.ts";
import { CheckPool } from "../../src/verify/parallel.ts";
import { loadProgram } from "../support/programs.ts";

const model = { ...compile(loadProgram("induction-earliest")), program: loadProgram("induction") };
const pool = new CheckPool(model, 2);
afterAll(() => pool.close());

const plain = (r: { sequences: number; disagreements: number; first: unknown }) => ({
  sequences: r.sequences,
  disagreements: r.disagreements,
  first: r.first,
});

describe("parallel exhaustive check", () => {
  const opts: ExhaustiveOptions = { maxLength: 6, alphabet: [0, 1, 2] };

  it("2 workers find what one thread finds, on a check that fails", async () => {
    const one = checkExhaustive(model, opts);
    expect(one.sequences).toBe(countSequences(3, 6));
    expect(one.disagreements).toBeGreaterThan(0);
    expect(one.first).not.toBeNull();
    // Many small chunks, so that workers finish them out of order.
    expect(plain(await pool.check({ ...opts, chunksPerWorker: 50 }))).toEqual(plain(one));
  }, 60_000);

  it("one shard on workers equals that shard in this thread; the alphabet order is kept", async () => {
    const shard = { index: 1, count: 3 };
    expect(plain(await pool.check({ ...opts, shard }))).toEqual(plain(checkExhaustive(model, { ...opts, shard })));
    const reversed = { maxLength: 5, alphabet: [3, 1, 0] };
    expect(plain(await pool.check(reversed))).toEqual(plain(checkExhaustive(model, reversed)));
  }, 60_000);
});
