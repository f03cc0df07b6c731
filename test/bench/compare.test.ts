/** The bench's interleaved rounds: order rotates each round, figures are medians of round means, failures are recorded. */
import { describe, expect, it } from "vitest";
import { interleave, type Contender } from "../../bench/compare.ts";

/** A contender whose call times are scripted per round; it logs the order it ran in. */
function scripted(name: string, warm: number, rounds: number[], order: string[], failAt = -1): Contender {
  let r = 0;
  return {
    name,
    async warm() {
      if (failAt === -2) throw new Error(`${name} could not load\nsecond line`);
      return warm;
    },
    async round(n) {
      order.push(name);
      if (r === failAt) throw new Error(`${name} broke`);
      const t = rounds[r++]!;
      return Array.from({ length: n }, () => t);
    },
  };
}

describe("interleave", () => {
  it("rotates the order, sizes rounds from the warm call, and reports median and min–max of round means", async () => {
    const order: string[] = [];
    const a = scripted("a", 0.01, [3, 1, 2, 5, 4], order);
    const b = scripted("b", 0.5, [10, 30, 20, 50, 40], order);
    const figs = await interleave([a, b], { rounds: 5, roundSeconds: 0.05 });
    expect(order).toEqual(["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]);
    expect(figs.a).toEqual({ median: 3, min: 1, max: 5, rounds: 5, callsPerRound: 5 });
    expect(figs.b).toEqual({ median: 30, min: 10, max: 50, rounds: 5, callsPerRound: 1 });
  });

  it("keeps the others going when one contender fails to load or breaks mid-way", async () => {
    const order: string[] = [];
    const ok = scripted("ok", 0.05, [1, 1, 1], order);
    const noLoad = scripted("noLoad", 0.05, [], order, -2);
    const breaks = scripted("breaks", 0.05, [2, 2, 2], order, 1);
    const figs = await interleave([ok, noLoad, breaks], { rounds: 3, roundSeconds: 0.05 });
    expect(figs.ok!.median).toBe(1);
    expect(figs.ok!.rounds).toBe(3);
    expect(figs.noLoad!.error).toBe("noLoad could not load");
    expect(Number.isNaN(figs.noLoad!.median)).toBe(true);
    expect(figs.breaks!.error).toBe("breaks broke");
    expect(order.filter((n) => n === "breaks")).toHaveLength(2);
  });
});
