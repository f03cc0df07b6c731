/**
 * `circuits merge`: add up the --json results of `circuits check --exhaustive
 * --shard i/N` runs (possibly made on different machines) into the result the
 * whole check gives in one run. Shard i's sequences all come before shard
 * i+1's in depth-first order (see TreeSplit in src/verify/check.ts), so the
 * first disagreement is the one of the lowest-numbered shard that has one.
 */
import { readFileSync } from "node:fs";
import { type Command, printJson, UsageError } from "./command.ts";

interface ShardDoc {
  readonly program: string;
  readonly mode: string;
  readonly precision: string;
  readonly sequences: number;
  readonly disagreements: number;
  readonly first: unknown;
  readonly seconds: number;
  readonly bound: unknown;
  readonly shard: { readonly index: number; readonly count: number };
  readonly maxLength: number;
  readonly alphabet: readonly string[];
}

/** The same result as the unsharded check (seconds: the slowest shard, as if run side by side). */
export function mergeShardDocs(docs: readonly ShardDoc[], names: readonly string[] = docs.map((_, i) => `#${i + 1}`)): Record<string, unknown> {
  if (docs.length === 0) throw new UsageError("merge: no result files given");
  docs.forEach((d, i) => {
    if (d === null || typeof d !== "object" || d.mode !== "exhaustive" || !d.shard || typeof d.sequences !== "number") {
      throw new UsageError(`merge: ${names[i]} is not the --json output of 'circuits check --exhaustive --shard i/N'`);
    }
  });
  const ref = docs[0]!;
  const same = (d: ShardDoc) =>
    d.program === ref.program && d.precision === ref.precision && d.maxLength === ref.maxLength &&
    d.shard.count === ref.shard.count && JSON.stringify(d.alphabet) === JSON.stringify(ref.alphabet) &&
    JSON.stringify(d.bound) === JSON.stringify(ref.bound);
  docs.forEach((d, i) => {
    if (!same(d)) {
      throw new UsageError(`merge: ${names[i]} is a different check from ${names[0]} (program, precision, --max-length, --alphabet, --epsilon and N must match)`);
    }
  });
  const N = ref.shard.count;
  const byIndex = new Map<number, ShardDoc>();
  docs.forEach((d, i) => {
    if (byIndex.has(d.shard.index)) throw new UsageError(`merge: shard ${d.shard.index}/${N} given twice (${names[i]})`);
    byIndex.set(d.shard.index, d);
  });
  const missing = Array.from({ length: N }, (_, k) => k + 1).filter((k) => !byIndex.has(k));
  if (missing.length) throw new UsageError(`merge: missing shard${missing.length > 1 ? "s" : ""} ${missing.map((k) => `${k}/${N}`).join(", ")}`);
  const ordered = Array.from({ length: N }, (_, k) => byIndex.get(k + 1)!);
  return {
    program: ref.program,
    mode: "exhaustive",
    precision: ref.precision,
    sequences: ordered.reduce((a, d) => a + d.sequences, 0),
    disagreements: ordered.reduce((a, d) => a + d.disagreements, 0),
    first: ordered.find((d) => d.first !== null)?.first ?? null,
    seconds: Math.max(...ordered.map((d) => d.seconds)),
    bound: ref.bound,
    shards: N,
    maxLength: ref.maxLength,
    alphabet: ref.alphabet,
  };
}

export const mergeCommand: Command = {
  name: "merge",
  summary: "add up the --json results of the shards of an exhaustive check",
  help: [
    "usage: circuits merge SHARD.json… [--json]",
    "",
    "Each file is the --json output of 'circuits check PROGRAM --exhaustive --shard i/N',",
    "all N shards of one check (same program, --max-length, --alphabet, --precision,",
    "--epsilon). Prints the result the whole check gives in one run: the counts added,",
    "the first disagreement in depth-first order. Exit code 1 on any disagreement.",
    "",
    "  --json   machine-readable result",
  ].join("\n"),
  options: { json: { type: "boolean" } },
  maxPositionals: Number.POSITIVE_INFINITY,
  run(args) {
    const files = args.positionals;
    const docs = files.map((f) => {
      let text: string;
      try {
        text = readFileSync(f, "utf8");
      } catch {
        throw new UsageError(`merge: cannot read '${f}'`);
      }
      try {
        return JSON.parse(text) as ShardDoc;
      } catch {
        throw new UsageError(`merge: '${f}' is not JSON`);
      }
    });
    const merged = mergeShardDocs(docs, files);
    if (args.values.json) printJson(merged);
    else {
      console.log(`${merged.program}: exhaustive check, ${merged.shards} shards, ${merged.sequences} sequences, ${merged.disagreements} disagreements`);
      if (merged.first) console.log(`first disagreement: ${JSON.stringify(merged.first)}`);
    }
    return merged.disagreements === 0 ? 0 : 1;
  },
};
