/** The bench's interleaved rounds: order rotates each round, figures are medians of round means, failures are recorded. */
import { describe, expect, it } from "vitest";
import { interleave, pairedRatio, type Contender } from "../../bench/compare.ts";

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
    expect(figs.a).toEqual({ median: 3, min: 1, max: 5, rounds: 5, callsPerRound: 5, byRound: [3, 1, 2, 5, 4] });
    expect(figs.b).toEqual({ median: 30, min: 10, max: 50, rounds: 5, callsPerRound: 1, byRound: [10, 30, 20, 50, 40] });
  });

  it("pairs ratios by round: a slow spell that hits both contenders in one round cancels out", async () => {
    const order: string[] = [];
    // b is 10× slower than a in every round, while the machine's speed varies 5× between rounds.
    const a = scripted("a", 0.01, [1, 5, 2, 1, 3], order);
    const b = scripted("b", 0.01, [10, 50, 20, 10, 30], order);
    const figs = await interleave([a, b], { rounds: 5, roundSeconds: 0.05 });
    expect(pairedRatio(figs.a!, figs.b!)).toEqual({ median: 10, q1: 10, q3: 10, rounds: 5 });
    // Each figure's min–max spans 5×; the paired ratio has no spread at all. Where the pairs differ, the quartiles show it.
    const c = scripted("c", 0.01, [1, 1, 1, 1], order);
    const d = scripted("d", 0.01, [1, 2, 3, 4], order);
    const cd = await interleave([c, d], { rounds: 4, roundSeconds: 0.05 });
    expect(pairedRatio(cd.c!, cd.d!)).toEqual({ median: 2.5, q1: 1.75, q3: 3.25, rounds: 4 });
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
    // Rounds a contender did not finish pair with nothing.
    expect(figs.breaks!.byRound).toEqual([2, NaN, NaN]);
    expect(pairedRatio(figs.ok!, figs.breaks!)).toEqual({ median: 2, q1: 2, q3: 2, rounds: 1 });
    expect(pairedRatio(figs.ok!, figs.noLoad!)).toBeNull();
  });
});
