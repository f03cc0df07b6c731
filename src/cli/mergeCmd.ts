/**
 * `circuits merge`: add up the --json results of `circuits check --exhaustive
 * --shard i/N` runs (possibly made on different machines) into the result the
 * whole check gives in one run. Shard i's sequences all come before shard
 * i+1's in depth-first order (see TreeSplit in src/verify/check.ts), so the
 * first disagreement is the one of the lowest-numbered shard that has one.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Command, printJson, UsageError } from "./command.ts";
import { readTextFile, SHARD_FILE_LIMIT } from "./readInput.ts";
import { countSequences } from "../verify/check.ts";
import { verdict } from "./exitCodes.ts";

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
  /** Present when the check walked renaming classes (shards then cut the class tree, not the prefix tree). */
  readonly classes?: number | null;
  readonly symmetry?: { readonly used: boolean; readonly reason?: string };
}

/** Largest shard count N merged; far above any real split, low enough that listing is cheap. */
export const MAX_SHARDS = 1_000_000;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const shown = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
};

/** Check every field of one shard document; the error names the file and the field. */
export function validateShardDoc(d: unknown, name: string): ShardDoc {
  const bad = (why: string): never => {
    throw new UsageError(`merge: ${name}: ${why}`);
  };
  if (!isObject(d) || d.mode !== "exhaustive" || !("shard" in d)) {
    return bad("not the --json output of 'circuits check --exhaustive --shard i/N'");
  }
  const field = (k: string, ok: boolean, want: string) => {
    if (!ok) bad(`"${k}" must be ${want}, got ${shown(d[k])}`);
  };
  field("program", typeof d.program === "string" && d.program.length <= 4096, "a file name");
  field("precision", d.precision === "float64" || d.precision === "float32", '"float64" or "float32"');
  field("sequences", isCount(d.sequences), "a whole number from 0 to 2^53");
  field("disagreements", isCount(d.disagreements) && d.disagreements <= (d.sequences as number), "a whole number from 0 to \"sequences\"");
  field("first", d.disagreements === 0 ? d.first === null : isObject(d.first), d.disagreements === 0 ? "null when there are no disagreements" : "an object when there are disagreements");
  field("seconds", typeof d.seconds === "number" && Number.isFinite(d.seconds) && d.seconds >= 0, "a finite number ≥ 0");
  field("bound", isObject(d.bound), "an object");
  field("maxLength", isCount(d.maxLength) && d.maxLength >= 1, "a whole number ≥ 1");
  field("alphabet", Array.isArray(d.alphabet) && d.alphabet.length >= 1 && d.alphabet.every((t) => typeof t === "string"), "a non-empty array of token names");
  if ("symmetry" in d) {
    const sy = d.symmetry;
    field("symmetry", isObject(sy) && typeof sy.used === "boolean", '{"used": true|false, …}');
    const used = (sy as { used: boolean }).used;
    field("classes", used ? isCount(d.classes) : d.classes === null || d.classes === undefined, used ? "a whole number when symmetry was used" : "null without symmetry");
  }
  const sh = d.shard;
  if (!isObject(sh)) return bad(`"shard" must be {"index": i, "count": N}, got ${shown(sh)}`);
  if (!(isCount(sh.count) && sh.count >= 1 && sh.count <= MAX_SHARDS)) bad(`"shard.count" must be a whole number from 1 to ${MAX_SHARDS}, got ${shown(sh.count)}`);
  if (!(isCount(sh.index) && sh.index >= 1 && sh.index <= (sh.count as number))) bad(`"shard.index" must be a whole number from 1 to ${sh.count as number}, got ${shown(sh.index)}`);
  return d as unknown as ShardDoc;
}

/** The same result as the unsharded check (seconds: the slowest shard, as if run side by side). */
export function mergeShardDocs(input: readonly unknown[], names: readonly string[] = input.map((_, i) => `#${i + 1}`)): Record<string, unknown> {
  if (input.length === 0) throw new UsageError("merge: no result files given");
  const docs = input.map((d, i) => validateShardDoc(d, names[i]!));
  const ref = docs[0]!;
  const same = (d: ShardDoc) =>
    d.program === ref.program && d.precision === ref.precision && d.maxLength === ref.maxLength &&
    d.shard.count === ref.shard.count && JSON.stringify(d.alphabet) === JSON.stringify(ref.alphabet) &&
    JSON.stringify(d.bound) === JSON.stringify(ref.bound) && (d.symmetry?.used ?? false) === (ref.symmetry?.used ?? false);
  docs.forEach((d, i) => {
    if (!same(d)) {
      throw new UsageError(`merge: ${names[i]} is a different check from ${names[0]} (program, precision, --max-length, --alphabet, --epsilon, N and --no-symmetry must match)`);
    }
  });
  const N = ref.shard.count;
  const byIndex = new Map<number, ShardDoc>();
  docs.forEach((d, i) => {
    if (byIndex.has(d.shard.index)) throw new UsageError(`merge: shard ${d.shard.index}/${N} given twice (${names[i]})`);
    byIndex.set(d.shard.index, d);
  });
  if (byIndex.size < N) {
    // Name a few missing shards, never all of them: N may be large.
    const missing: string[] = [];
    for (let k = 1; k <= N && missing.length < 5; k++) if (!byIndex.has(k)) missing.push(`${k}/${N}`);
    const more = N - byIndex.size - missing.length;
    throw new UsageError(`merge: missing shard${N - byIndex.size > 1 ? "s" : ""} ${missing.join(", ")}${more > 0 ? ` and ${more} more` : ""}`);
  }
  const ordered = Array.from({ length: N }, (_, k) => byIndex.get(k + 1)!);
  const sequences = ordered.reduce((a, d) => a + d.sequences, 0);
  if (!Number.isSafeInteger(sequences)) throw new UsageError(`merge: the shards' sequences add up past 2^53`);
  const symmetric = ref.symmetry?.used === true;
  // Renaming classes must stand for every sequence exactly once.
  const want = countSequences(ref.alphabet.length, ref.maxLength);
  if (symmetric && sequences !== want) {
    throw new UsageError(`merge: the shards' classes stand for ${sequences} sequences, not the ${want} of length 1 … ${ref.maxLength} over ${ref.alphabet.length} tokens`);
  }
  return {
    program: ref.program,
    mode: "exhaustive",
    precision: ref.precision,
    sequences,
    ...(ref.symmetry ? { classes: symmetric ? ordered.reduce((a, d) => a + (d.classes ?? 0), 0) : null, symmetry: ref.symmetry } : {}),
    disagreements: ordered.reduce((a, d) => a + d.disagreements, 0),
    first: ordered.find((d) => d.first !== null)?.first ?? null,
    seconds: ordered.reduce((a, d) => Math.max(a, d.seconds), 0),
    bound: ref.bound,
    shards: N,
    maxLength: ref.maxLength,
    alphabet: ref.alphabet,
  };
}

/** A directory stands for its *.json files (sorted by name); anything else is itself. */
function expandDir(path: string): string[] {
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    return [path]; // readTextFile reports what is wrong with it
  }
  if (!dir) return [path];
  const names = readdirSync(path).filter((n) => n.endsWith(".json")).sort();
  if (names.length === 0) throw new UsageError(`merge: directory '${path}' holds no .json files`);
  return names.map((n) => join(path, n));
}

export const mergeCommand: Command = {
  name: "merge",
  summary: "add up the --json results of the shards of an exhaustive check",
  help: [
    "usage: circuits merge SHARD.json… [--json]",
    "       circuits merge DIR [--json]",
    "",
    "Each file is the --json output of 'circuits check PROGRAM --exhaustive --shard i/N',",
    "or of --shard auto in a Kubernetes Indexed Job or Slurm job array; a directory stands",
    "for every *.json file in it. A missing or repeated shard is refused by name;",
    "all N shards of one check (same program, --max-length, --alphabet, --precision,",
    "--epsilon). Prints the result the whole check gives in one run: the counts added,",
    "the first disagreement in depth-first order. Exit code 1 on any disagreement.",
    "",
    "  --json   machine-readable result",
  ].join("\n"),
  options: { json: { type: "boolean" } },
  maxPositionals: Number.POSITIVE_INFINITY,
  run(args) {
    const files = args.positionals.flatMap(expandDir);
    const docs = files.map((f) => {
      let text: string;
      try {
        text = readTextFile(f, SHARD_FILE_LIMIT, "shard file");
      } catch (e) {
        throw new UsageError(`merge: ${(e as Error).message}`);
      }
      try {
        return JSON.parse(text) as unknown;
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
    return verdict(merged.disagreements === 0);
  },
};
