/**
 * The bench's yardsticks (bench/ceilings.ts) do the work they are credited
 * with: the register-only loops compute every chained multiply-add (their
 * result matches the same chains in JavaScript), and the cache-read floor
 * reads every byte it counts.
 */
import { describe, expect, it } from "vitest";
import { peakLoop, simdPeak, streamFloor } from "../../bench/ceilings.ts";

/** CHAINS chains acc_i = acc_i·m + c from acc_i = i, in float32 (each step rounded) or float64; the sum of their values. */
function chains(n: number, f32: boolean): number {
  const r = f32 ? Math.fround : (x: number) => x;
  const m = r(0.9999), c = r(1e-3);
  let total = 0;
  for (let i = 0; i < 12; i++) {
    let a = i;
    for (let k = 0; k < n; k++) a = r(r(a * m) + c);
    total += a;
  }
  return total;
}

describe("bench yardsticks", () => {
  it("register-only loops run every multiply-add of every chain", () => {
    for (const [kind, f32] of [["f32x4 mul+add", true], ["f64x2 mul+add", false]] as const) {
      const peak = peakLoop(kind);
      expect(peak, kind).not.toBeNull();
      for (const n of [1, 2, 1000]) expect(peak!(n), `${kind} × ${n}`).toBe(chains(n, f32));
    }
    const p = simdPeak("f32x4 mul+add", 1)!;
    expect(p.flops).toBeGreaterThan(0);
    p.call();
  });

  it("the cache-read floor reads every byte it counts, on one thread and on two", async () => {
    const shape = { L: 1, H: 2, E: 8, C: 40 };
    const f = await streamFloor(shape, 8, 1);
    // 4 arrays of 40 rows of 64 bytes; row t read on every push from t on: Σ_t t rows per array.
    const bytes = (40 * 41) / 2 * 4 * 64;
    expect(f.gigabytes).toBeCloseTo(bytes / 1e9, 15);
    expect(f.checksum).toBeCloseTo((bytes / 8) * 1e-3, 9);
    expect(f.oneThread).toHaveLength(1);
    expect(f.twoThreads[0]).toBeGreaterThan(0);
  });
});
