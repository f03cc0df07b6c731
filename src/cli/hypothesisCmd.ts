/** `circuits hypothesis`: search for counterexamples to named hypotheses. */
import { hypothesisNamed, HYPOTHESES } from "../hypothesis/catalog.ts";
import { testHypothesis } from "../hypothesis/hypothesis.ts";
import { table } from "../report/table.ts";
import { type Command, int, printJson, UsageError } from "./command.ts";

export const hypothesisCommand: Command = {
  name: "hypothesis",
  summary: "test a named hypothesis on random programs; print the shrunk counterexample as source",
  help: [
    "usage: circuits hypothesis [NAME …] [--runs N] [--seed S] [--json]",
    "       circuits hypothesis --list",
    "",
    "  NAME       one or more hypotheses (default: all); --list shows them",
    "  --runs N   random cases per hypothesis (default 200)",
    "  --seed S   seed of the search (default 1): same seed, same result",
    "  --json     [{name, statement, verdict, runs, seed, shrinks, counterexample, reason, seconds}]",
    "",
    "Exit code 1 when a hypothesis expected to hold is refuted (or one expected to fail is not).",
  ].join("\n"),
  options: { runs: { type: "string" }, seed: { type: "string" }, list: { type: "boolean" }, json: { type: "boolean" } },
  maxPositionals: Number.POSITIVE_INFINITY,
  run(args) {
    if (args.values.list) {
      console.log(table([["name", "expected", "statement"], ...HYPOTHESES.map((h) => [h.name, h.expected, h.statement])]));
      return 0;
    }
    const chosen = args.positionals.length
      ? args.positionals.map((n) => hypothesisNamed(n) ?? (() => { throw new UsageError(`hypothesis: unknown '${n}' (see --list)`); })())
      : HYPOTHESES;
    const runs = int(args, "runs", 200, 1, 1e6);
    const seed = int(args, "seed", 1, 0, 2 ** 31 - 1);
    let surprises = 0;
    const results = chosen.map((h) => {
      const r = testHypothesis(h, { runs, seed });
      if ((r.verdict === "refuted") !== (h.expected === "fails") && h.expected !== "open") surprises++;
      if (!args.values.json) {
        console.log(`${h.name}: ${r.verdict} after ${r.runs} cases (seed ${seed}, ${r.seconds.toFixed(2)} s) — ${h.statement}`);
        if (r.counterexample) {
          console.log(`  shrunk counterexample (${r.shrinks} shrink steps): ${r.reason}`);
          console.log(r.counterexample.split("\n").map((l) => `    ${l}`).join("\n"));
        }
      }
      return r;
    });
    if (args.values.json) printJson(results);
    return surprises ? 1 : 0;
  },
};
