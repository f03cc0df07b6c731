/**
 * One chunk of a library family, run in its own process by fuzz/run.ts so
 * that a runaway case is bounded (the parent kills a case that makes no
 * progress, and the heap is capped by --max-old-space-size). Writes one JSON
 * line per case start ({"start": k}) and the tally at the end ({"tally": …}).
 *
 * usage: node --import tsx fuzz/child.ts FAMILY SEED FROM TO
 */
import { LIMITS, Tally } from "./outcome.ts";
import { programInput, runProgramCase, seedCorpus } from "./programs.ts";
import { baseFile, FILE_FAMILIES, type FileFamily, fileInput, runFileCase } from "./safetensors.ts";

const [family, seedArg, fromArg, toArg] = process.argv.slice(2);
const seed = Number(seedArg);
const from = Number(fromArg);
const to = Number(toArg);
const tally = new Tally();
const emit = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);

const afterCase = (fam: string, ms: number) => {
  tally.count(fam);
  tally.maxCaseMs = Math.max(tally.maxCaseMs, ms);
  const rss = process.memoryUsage().rss;
  tally.maxRss = Math.max(tally.maxRss, rss);
  if (rss > LIMITS.rssBytes) tally.add({ family: fam, kind: "oom", detail: `${(rss / 2 ** 20).toFixed(0)} MB resident`, input: `case ${fam} #${tallyCase}` });
};
let tallyCase = 0;

if (family === "mutated" || family === "random") {
  const corpus = seedCorpus(seed, 200);
  for (let k = from; k < to; k++) {
    tallyCase = k;
    emit({ start: k });
    const r = runProgramCase(family, programInput(family, corpus, seed, k), seed + k);
    r.findings.forEach((f) => tally.add(f));
    afterCase(family, r.ms);
  }
} else if ((FILE_FAMILIES as readonly string[]).includes(family!)) {
  const base = baseFile();
  for (let k = from; k < to; k++) {
    tallyCase = k;
    emit({ start: k });
    const c = fileInput(base, family as FileFamily, seed, k);
    const r = runFileCase(family as FileFamily, c.bytes, c.mustRefuse, c.what, k % 10 === 0);
    r.findings.forEach((f) => tally.add(f));
    if (family === "duplicate-key" && r.accepted) tally.note("duplicate header keys accepted (JSON.parse keeps the last; not one of issue 8's defects)");
    afterCase(`file:${family}`, r.ms);
  }
} else {
  throw new Error(`unknown family ${family}`);
}
emit({ tally: tally.toJSON() });
