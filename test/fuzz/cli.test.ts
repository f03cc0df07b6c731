/**
 * Bounded CLI abuse (the full run, `npm run fuzz`, runs these as separate
 * processes under a memory cap and measures their resident set): every CLI
 * case of issue 8 that belongs to this branch's defects (3, 4, 5, 8, 9),
 * through one driver process, judged by the same rules — exit code 0/1/2,
 * no internal error or stack trace, and no silent accept of the defect.
 * The costliest parses (30 kB programs) are left to test/lang/hostile.test.ts
 * and the full run.
 */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { issueCases, judgeCli } from "../../fuzz/cli.ts";
import { OTHER_BRANCH_DEFECTS } from "../../fuzz/outcome.ts";
import { driver } from "../support/driver.ts";

const { cases, dir } = issueCases();
const chosen = cases.filter((c) => !OTHER_BRANCH_DEFECTS.has(c.defect ?? 0) && !/under the size limit|30 kB/.test(c.name));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("every CLI case of issue 8 (this branch's defects)", () => {
  it(`${chosen.length} cases: no crash, no silent accept`, async () => {
    const results = await driver(chosen.map((c) => c.argv));
    const findings = chosen.flatMap((c, k) => {
      const r = results[k]!;
      const code = typeof r.code === "number" ? r.code : null;
      return judgeCli("cli", c, { ...r, code, signal: null, ms: 0, cpuMs: 0, rssBytes: 0, killed: code === null }, Number.POSITIVE_INFINITY);
    });
    expect(findings).toEqual([]);
    expect(chosen.length).toBeGreaterThan(30);
  }, 120_000);
});
