/**
 * Facts the README states that the code can check: the error report it shows
 * is what the checker prints for that file, its command table has a row for
 * every command the CLI has, its Layout names every top-level folder, and
 * every repository file a `circuits` example names exists.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { commands } from "../../src/cli/commands.ts";
import { load } from "../../src/lang/check.ts";
import { ProgramError } from "../../src/lang/diagnostics.ts";
import { REPO_ROOT } from "../support/programs.ts";

const readme = readFileSync(`${REPO_ROOT}/README.md`, "utf8");
const section = (title: string) => {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, title).toBeGreaterThan(0);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
};

describe("README facts", () => {
  it("shows the checker's own report for grammar/bad.circ", () => {
    const shown = /`npx circuits check-syntax grammar\/bad\.circ` prints:\n\n```\n([^`]*)```/.exec(readme);
    expect(shown).not.toBeNull();
    let message = "";
    try {
      load({ path: "grammar/bad.circ", text: readFileSync(`${REPO_ROOT}/grammar/bad.circ`, "utf8") });
    } catch (e) {
      if (!(e instanceof ProgramError)) throw e;
      message = e.message;
    }
    expect(`${message}\n`).toBe(shown![1]);
  });

  it("has a command-table row for every command", () => {
    const table = section("Commands");
    for (const c of commands) expect(table, c.name).toContain(`| \`circuits ${c.name}`);
  });

  it("names every top-level folder in its Layout", () => {
    const layout = section("Layout");
    const folders = readdirSync(REPO_ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !["node_modules", ".git", "tmp"].includes(e.name))
      .map((e) => e.name);
    expect(folders).toContain("src");
    for (const f of folders) expect(layout, f).toMatch(new RegExp(`(^|\\s)${f.replace(".", "\\.")}(/|\\s)`, "m"));
  });

  it("names only files that exist in its circuits examples", () => {
    const paths = [...readme.matchAll(/circuits [a-z-]+ ((?:programs|grammar|experiments)\/[\w./-]+\.circ)/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(3);
    for (const p of new Set(paths)) expect(existsSync(`${REPO_ROOT}/${p}`), p).toBe(true);
  });
});
