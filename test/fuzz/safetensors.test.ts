/**
 * Bounded fuzzing of weights files (the full run is `npm run fuzz`): each
 * corruption family — truncation, header length up to 2^64 − 1, offsets,
 * dtypes, duplicate keys, shapes, invalid JSON, non-finite and extreme
 * values, tampered metadata — loaded, laid out, decompiled and (one in fifty)
 * analysed. No family may crash or hang; structural damage must be refused.
 * Non-finite values and tampered metadata are issue 8's defects 6 and 7,
 * fixed on another branch: until it merges their silent accepts are only
 * counted here (the merged branch should turn the last expectation strict).
 */
import { describe, expect, it } from "vitest";
import { type Finding, OTHER_BRANCH_DEFECTS } from "../../fuzz/outcome.ts";
import { baseFile, FILE_FAMILIES, fileInput, runFileCase } from "../../fuzz/safetensors.ts";

const base = baseFile();

describe("corrupt weights files through the loader, decompile and analyze", () => {
  it.each(FILE_FAMILIES.map((f) => [f]))("%s: 200 files, no crash or hang; structural damage refused", (family) => {
    const findings: Finding[] = [];
    for (let k = 0; k < 200; k++) {
      const c = fileInput(base, family, 11, k);
      findings.push(...runFileCase(family, c.bytes, c.mustRefuse, c.what, k % 50 === 0).findings);
    }
    const mine = findings.filter((f) => f.defect === undefined || !OTHER_BRANCH_DEFECTS.has(f.defect));
    expect(mine).toEqual([]);
    expect(findings.filter((f) => f.kind === "hang")).toEqual([]);
  });
});
