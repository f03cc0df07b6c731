/**
 * `circuits merge` does not trust its shard files (issue 8, defect 3): every
 * field is validated with a one-line error naming file and field, huge
 * shard counts cost nothing, and files are read only when regular and small.
 * Before the fix: count 1e9 exhausted the V8 heap, 2^53 was an internal
 * error, 5e6 printed an 84 MB line, −1 and 1.5 exited 0, "NaN" printed
 * "0NaN disagreements".
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_SHARDS, mergeShardDocs } from "../../src/cli/mergeCmd.ts";
import { UsageError } from "../../src/cli/command.ts";
import { driver } from "../support/driver.ts";

const doc = (over: Record<string, unknown> = {}, shard: Record<string, unknown> = {}) => ({
  program: "p.circ", mode: "exhaustive", precision: "float64", sequences: 10, disagreements: 0, first: null,
  seconds: 1, bound: { epsilon: 0.001 }, shard: { index: 1, count: 1, ...shard }, maxLength: 4, alphabet: ["a", "b"], ...over,
});

/** The one-line UsageError merging these documents gives. */
function mergeError(docs: unknown[]): string {
  try {
    mergeShardDocs(docs, docs.map((_, k) => `s${k + 1}.json`));
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    const msg = (e as Error).message;
    expect(msg).not.toContain("\n");
    expect(msg.length).toBeLessThan(300);
    return msg;
  }
  throw new Error("expected merge to refuse");
}

describe("merge validates every field", () => {
  it("a well-formed single shard merges", () => {
    expect(mergeShardDocs([doc()])).toMatchObject({ sequences: 10, disagreements: 0, shards: 1 });
  });

  it.each([
    ["shard.count 1e9", {}, { count: 1e9 }, /"shard.count" must be a whole number from 1 to 1000000, got 1000000000/],
    ["shard.count 2^53", {}, { count: 2 ** 53 }, /"shard.count" must be/],
    ["shard.count -1", {}, { count: -1 }, /"shard.count"/],
    ["shard.count 1.5", {}, { count: 1.5 }, /"shard.count"/],
    ["shard.count '2'", {}, { count: "2" }, /"shard.count"/],
    ["shard.index 0", {}, { index: 0 }, /"shard.index" must be a whole number from 1 to 1/],
    ["shard.index 2 of 1", {}, { index: 2 }, /"shard.index"/],
    ["disagreements 'NaN'", { disagreements: "NaN" }, {}, /"disagreements" must be a whole number/],
    ["disagreements -1", { disagreements: -1 }, {}, /"disagreements"/],
    ["disagreements > sequences", { disagreements: 11, first: {} }, {}, /"disagreements"/],
    ["sequences 1.5", { sequences: 1.5 }, {}, /"sequences" must be a whole number from 0 to 2\^53/],
    ["sequences 1e300", { sequences: 1e300 }, {}, /"sequences"/],
    ["sequences -5", { sequences: -5 }, {}, /"sequences"/],
    ["first without disagreements", { first: { input: ["a"] } }, {}, /"first" must be null/],
    ["no first with disagreements", { disagreements: 1 }, {}, /"first" must be an object/],
    ["seconds 'x'", { seconds: "x" }, {}, /"seconds" must be a finite number/],
    ["seconds -1", { seconds: -1 }, {}, /"seconds"/],
    ["precision", { precision: "float16" }, {}, /"precision"/],
    ["maxLength 0", { maxLength: 0 }, {}, /"maxLength"/],
    ["alphabet of numbers", { alphabet: [1, 2] }, {}, /"alphabet"/],
    ["empty alphabet", { alphabet: [] }, {}, /"alphabet"/],
    ["program 5", { program: 5 }, {}, /"program"/],
    ["bound missing", { bound: undefined }, {}, /"bound" must be an object/],
  ] as const)("%s → one-line error naming the field", (_what, over, shard, re) => {
    expect(mergeError([doc(over as Record<string, unknown>, shard as Record<string, unknown>)])).toMatch(re);
  });

  it("shard not an object, a document not an object", () => {
    expect(mergeError([{ ...doc(), shard: 3 }])).toMatch(/"shard" must be/);
    expect(mergeError([[1, 2]])).toMatch(/not the --json output/);
    expect(mergeError([null])).toMatch(/not the --json output/);
  });

  it("a huge declared shard count lists a few missing shards, never all", () => {
    const msg = mergeError([doc({}, { count: MAX_SHARDS })]);
    expect(msg).toBe(`merge: missing shards 2/${MAX_SHARDS}, 3/${MAX_SHARDS}, 4/${MAX_SHARDS}, 5/${MAX_SHARDS}, 6/${MAX_SHARDS} and ${MAX_SHARDS - 6} more`);
  });

  it("sums that pass 2^53 are refused", () => {
    const big = Number.MAX_SAFE_INTEGER - 5;
    expect(mergeError([doc({ sequences: big }, { count: 2 }), doc({ sequences: big }, { index: 2, count: 2 })])).toMatch(/past 2\^53/);
  });
});

describe("merge reads only regular, small files", () => {
  const dir = mkdtempSync(join(tmpdir(), "circuits-merge-"));
  const good = join(dir, "good.json");
  writeFileSync(good, JSON.stringify(doc()));
  const huge = join(dir, "huge.json");
  writeFileSync(huge, `${JSON.stringify(doc())}${" ".repeat(1 << 20)}`);
  const nan = join(dir, "nan.json");
  writeFileSync(nan, JSON.stringify(doc({ disagreements: "NaN" })));
  mkdirSync(join(dir, "adir"));

  it("the CLI: an empty directory, /dev/zero, an over-large file, a bad field; exit 2, one line each", async () => {
    const res = await driver([
      ["merge", good],
      ["merge", join(dir, "adir")],
      ["merge", "/dev/zero"],
      ["merge", huge],
      ["merge", nan],
      ["merge", nan, "--json"],
    ]);
    expect(res[0]).toMatchObject({ code: 0 });
    expect(res[0]!.stdout).toMatch(/1 shards, 10 sequences, 0 disagreements/);
    const errs = res.slice(1, 5).map((r) => {
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      return r.stderr;
    });
    expect(errs[0]).toMatch(/directory '.*adir' holds no \.json files/); // a directory stands for its *.json files
    expect(errs[1]).toMatch(/'\/dev\/zero': not a regular file/);
    expect(errs[2]).toMatch(/is 1\.0 MiB; at most 1 MiB is read/);
    expect(errs[3]).toMatch(/nan\.json: "disagreements" must be a whole number/);
    expect(res[5]!.code).toBe(2);
    expect(JSON.parse(res[5]!.stdout)).toMatchObject({ error: { kind: "usage", message: expect.stringMatching(/"disagreements"/) } });
  });
});
