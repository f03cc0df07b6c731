/**
 * What start-up loads, read from the static import graph (dynamic `import()`
 * is what defers a module, so only static imports count): the library entry
 * reaches no mathjs (the reference forward loads it on first call), and the
 * CLI entry reaches no command module, no Ohm and no mathjs, so `circuits
 * --help` loads none of them; each command reaches only its own module.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { referenceForward } from "../../src/index.ts";
import { referenceForward as referenceForwardSync } from "../../src/sim/reference.ts";
import { randomTokens, randomWeights } from "../../src/sim/random.ts";
import { REPO_ROOT } from "../support/programs.ts";

/** Whether an import/export statement brings in types only (erased from the JavaScript). */
function typeOnly(stmt: string): boolean {
  if (/^(import|export)\s+type\s/.test(stmt)) return true;
  const braces = /^(import|export)\s*\{([^}]*)\}\s*from/s.exec(stmt);
  if (!braces) return false; // a default or namespace import, or export *
  const names = braces[2]!.split(",").map((n) => n.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => n.startsWith("type "));
}

/** Every module and package reachable from `entry` through static (value) imports and re-exports. */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)";/gms)) {
      if (typeOnly(m[0])) continue;
      const spec = m[1]!;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
    for (const m of text.matchAll(/^import\s+"([^"]+)";/gm)) if (m[1]!.startsWith(".")) visit(resolve(dirname(file), m[1]!));
  };
  visit(resolve(REPO_ROOT, entry));
  return { files, packages };
}

const rel = (files: Set<string>) => [...files].map((f) => f.slice(REPO_ROOT.length + 1));

describe("start-up imports", () => {
  it("the library entry reaches no mathjs", () => {
    const g = staticGraph("src/index.ts");
    expect(g.files.size).toBeGreaterThan(50); // the walk really follows the re-exports
    expect(g.packages).toContain("fraction.js"); // and packages
    expect(g.packages).not.toContain("mathjs");
    expect(rel(g.files)).not.toContain("src/sim/reference.ts");
  });

  it("the CLI entry reaches no command, no Ohm, no mathjs", () => {
    const g = staticGraph("src/cli/main.ts");
    expect(rel(g.files).sort()).toEqual(["src/cli/commands.ts", "src/cli/exitCodes.ts", "src/cli/main.ts", "src/cli/usageError.ts", "src/errors.ts", "src/lang/diagnostics.ts"]);
    expect([...g.packages].filter((p) => !p.startsWith("node:"))).toEqual([]);
  });

  it("the library's referenceForward, loaded lazily, is the mathjs reference", async () => {
    const w = randomWeights({ d_model: 8, d_head: 4, n_heads: 2, n_layers: 2, n_ctx: 8, d_vocab: 5 }, 3);
    const tokens = [0, ...randomTokens(5, 6, 4)];
    expect((await referenceForward(w, tokens)).logits).toEqual(referenceForwardSync(w, tokens).logits);
  });
});
