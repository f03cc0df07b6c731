/**
 * Bounded fuzzing of programs through the library (the full run is
 * `npm run fuzz`): seeded mutations of real programs and random token soup
 * through parse, check, the semantics, the size estimate, compilation and a
 * compiled-vs-symbolic comparison. Every input must be accepted or refused
 * with a clean, bounded, escaped message: no internal error, no case over
 * 2 s of CPU, no silent accept.
 */
import { describe, expect, it } from "vitest";
import { type Finding, OTHER_BRANCH_DEFECTS } from "../../fuzz/outcome.ts";
import { programInput, runProgramCase, seedCorpus } from "../../fuzz/programs.ts";

const corpus = seedCorpus(20260, 100);
const mine = (fs: Finding[]) => fs.filter((f) => f.defect === undefined || !OTHER_BRANCH_DEFECTS.has(f.defect));

describe("fuzzed programs through the library", () => {
  it.each([["mutated", 1000], ["random", 2000]] as const)("%s: %i inputs, no crash, hang or silent accept", (family, count) => {
    const findings: Finding[] = [];
    let accepted = 0;
    for (let k = 0; k < count; k++) {
      const text = programInput(family, corpus, 7, k);
      const r = runProgramCase(family, text, k);
      findings.push(...r.findings);
      if (r.findings.length === 0 && !/[\u0000-\u0008]/.test(text)) accepted++;
    }
    expect(mine(findings)).toEqual([]);
    // The mutations keep some programs valid: the deep stages (semantics, compile) do run.
    expect(accepted).toBeGreaterThan(0);
  });
});
