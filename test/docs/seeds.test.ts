/**
 * Every fast-check property of the test suite is seeded through
 * test/support/seed.ts (`fcParams`), so FC_SEED replays or varies all of
 * them; and `fcParams` does what that module says.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fcParams } from "../support/seed.ts";
import { REPO_ROOT } from "../support/programs.ts";

/** Every .ts file under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []);
}

describe("fast-check seeds", () => {
  it("every fc.assert in test/ and proofs/ takes its parameters from fcParams", () => {
    const files = [...tsFiles(join(REPO_ROOT, "test")), ...tsFiles(join(REPO_ROOT, "proofs"))];
    let asserts = 0;
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      const n = text.split("fc.assert(").length - 1;
      asserts += n;
      expect(text.split("fcParams(").length - 1, f.slice(REPO_ROOT.length + 1)).toBeGreaterThanOrEqual(n);
    }
    expect(asserts).toBeGreaterThan(50);
  });

  it("keeps a property's own seed, gives 1 where there is none, or FC_SEED's", () => {
    const env = process.env.FC_SEED;
    if (env === undefined || env === "") {
      expect(fcParams({ seed: 42, numRuns: 3 })).toEqual({ seed: 42, numRuns: 3 });
      expect(fcParams({ numRuns: 3 })).toEqual({ seed: 1, numRuns: 3 });
      expect(fcParams()).toEqual({ seed: 1 });
    } else {
      expect(fcParams({ seed: 42, numRuns: 3 }).seed).toBe(fcParams().seed);
      if (env !== "random") expect(fcParams().seed).toBe(Number(env));
    }
  });
});
