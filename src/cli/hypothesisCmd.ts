/** `circuits hypothesis`: search for counterexamples to named hypotheses, the catalog's or a user's file's. */
import { HYPOTHESES } from "../hypothesis/catalog.ts";
import { eraseCaseType, type SomeHypothesis, testHypothesis } from "../hypothesis/hypothesis.ts";
import { testExhaustive } from "../hypothesis/exhaustive.ts";
import { HypothesisFileError, loadHypothesisFile } from "../hypothesis/userFile.ts";
import { progressBar } from "../report/progress.ts";
import { table } from "../report/table.ts";
import { type Command, inContext, int, printJson, UsageError } from "./command.ts";
import { EXIT, verdict } from "./exitCodes.ts";

/** The hypotheses to choose from: the file's, or the built-in catalog. */
async function available(file: string | undefined): Promise<readonly SomeHypothesis[]> {
  if (file === undefined) return HYPOTHESES.map(eraseCaseType);
  return inContext("hypothesis", () => loadHypothesisFile(file), HypothesisFileError);
}

export const hypothesisCommand: Command = {
  name: "hypothesis",
  summary: "test a named hypothesis on random programs; print the shrunk counterexample as source",
  help: [
    "usage: circuits hypothesis [NAME …] [--file F] [--runs N] [--seed S] [--json]",
    "       circuits hypothesis [NAME …] [--file F] --exhaustive [--vocab V] [--max-length L] [--json]",
    "       circuits hypothesis [--file F] --list",
    "",
    "  NAME       one or more hypotheses (default: all); --list shows them",
    "  --file F   your own hypotheses: a .ts/.mts/.js/.mjs module exporting Hypothesis objects",
    "             (or arrays of them) instead of the built-in catalog",
    "  --runs N   random cases per hypothesis (default 200)",
    "  --seed S   seed of the search (default 1): same seed, same result",
    "  --exhaustive  every canonical program of the bounded space (≤ 2 layers, ≤ 3 heads, as decompile",
    "             searches) with every prompt up to --max-length L (default 3) over --vocab V tokens",
    "             (default 2), for hypotheses that define exhaustiveCase; the others are searched randomly",
    "  --json     [{name, statement, verdict, runs, seed, shrinks, counterexample, reason, seconds, mode, programs?, spacePrograms?}]",
    "",
    "Exit code 1 when a hypothesis expected to hold is refuted (or one expected to fail is not);",
    "2 for a missing or malformed file.",
  ].join("\n"),
  options: { file: { type: "string" }, exhaustive: { type: "boolean" }, vocab: { type: "string" }, "max-length": { type: "string" }, runs: { type: "string" }, seed: { type: "string" }, list: { type: "boolean" }, json: { type: "boolean" } },
  maxPositionals: Number.POSITIVE_INFINITY,
  async run(args) {
    const file = args.values.file as string | undefined;
    const runs = int(args, "runs", 200, 1, 1e6);
    const seed = int(args, "seed", 1, 0, 2 ** 31 - 1);
    const vocab = int(args, "vocab", 2, 1, 5);
    const maxLength = int(args, "max-length", 3, 0, 8);
    const pool = await available(file);
    if (args.values.list) {
      console.log(table([["name", "expected", "statement"], ...pool.map((h) => [h.name, h.expected, h.statement])]));
      return EXIT.ok;
    }
    const named = (n: string) => pool.find((h) => h.name === n);
    const chosen = args.positionals.length
      ? args.positionals.map((n) => named(n) ?? (() => { throw new UsageError(`hypothesis: unknown '${n}'${file === undefined ? "" : ` in ${file}`} (see --list)`); })())
      : pool;
    let surprises = 0;
    const results = chosen.map((h) => {
      const exhaustive = args.values.exhaustive === true && h.exhaustiveCase !== undefined;
      const bar = progressBar(h.name);
      const r = exhaustive ? testExhaustive(h, { vocab, maxLength, onProgress: bar.update }) : { ...testHypothesis(h, { runs, seed }), mode: "random" as const };
      bar.end();
      if ((r.verdict === "refuted") !== (h.expected === "fails") && h.expected !== "open") surprises++;
      if (!args.values.json) {
        const how = exhaustive
          ? `${r.runs} cases on ${r.programs} of the ${r.spacePrograms} canonical programs (exhaustive: ${vocab} tokens, prompts ≤ ${maxLength}, ${r.seconds.toFixed(2)} s)`
          : `${r.runs} cases (seed ${seed}, ${r.seconds.toFixed(2)} s${args.values.exhaustive ? "; random: it has no exhaustiveCase" : ""})`;
        console.log(`${h.name}: ${r.verdict} after ${how} — ${h.statement}`);
        if (r.counterexample) {
          console.log(exhaustive ? `  first counterexample: ${r.reason}` : `  shrunk counterexample (${r.shrinks} shrink steps): ${r.reason}`);
          console.log(r.counterexample.split("\n").map((l) => `    ${l}`).join("\n"));
        }
      }
      return r;
    });
    if (args.values.json) printJson(results);
    return verdict(!surprises);
  },
};
