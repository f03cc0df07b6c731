/**
 * The bench's process timer (bench/startup.ts): what the start-up section and
 * the length-12 exhaustive figure are measured with.
 */
import { describe, expect, it } from "vitest";
import { timeProcess } from "../../bench/startup.ts";

describe("timeProcess", () => {
  it("returns a process's output, its wall time and (with /usr/bin/time) its CPU time", () => {
    const t = timeProcess(process.cwd(), ["-e", "let s = 0; for (let i = 0; i < 3e7; i++) s += i; process.stdout.write(String(s > 0))"]);
    expect(t.stdout).toBe("true");
    expect(t.wall).toBeGreaterThan(0);
    if (t.cpu !== null) expect(t.cpu).toBeGreaterThanOrEqual(0);
  });

  it("throws, naming the command, when the process fails", () => {
    expect(() => timeProcess(process.cwd(), ["-e", "process.exit(3)"])).toThrow(/exited 3/);
  });
});
