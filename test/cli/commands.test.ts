/**
 * The lazy command table (src/cli/commands.ts) against the command modules:
 * each entry loads the command of its name, and the summary `circuits
 * --help` prints without loading it is that command's own.
 */
import { describe, expect, it } from "vitest";
import { commands } from "../../src/cli/commands.ts";

describe("command table", () => {
  it("has unique names, and each entry loads its own command with the same summary", async () => {
    expect(new Set(commands.map((c) => c.name)).size).toBe(commands.length);
    for (const entry of commands) {
      const cmd = await entry.load();
      expect(cmd.name).toBe(entry.name);
      expect(cmd.summary, entry.name).toBe(entry.summary);
    }
  });
});
