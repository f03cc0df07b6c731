/**
 * The training run's random numbers: mulberry32 (as src/sim/random.ts) with
 * its one-word state exposed, so a checkpoint can store where the data
 * stream stands and a resumed run draws exactly the numbers an uninterrupted
 * one would.
 */

/** A seeded PRNG whose whole state is one 32-bit word. */
export class Rng {
  /** The state word; assigning a saved value resumes the stream there. */
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal draw (Box–Muller; one pair of uniforms per draw, so the state alone is the whole state). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: log stays finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
