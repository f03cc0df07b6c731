/**
 * Timing and reporting helpers of the bench: every figure is the median of
 * several runs after a warm-up, reported with its spread (min … max), and
 * scaling exponents are least-squares slopes of log(time) on log(size).
 */
import type { ModelShape } from "../src/sim/random.ts";

export interface Timing {
  /** Seconds per run. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

export interface MeasureOptions {
  readonly warmup?: number;
  readonly minRuns?: number;
  readonly maxRuns?: number;
  /** Stop adding runs (past minRuns) once this many seconds were spent. */
  readonly budget?: number;
}

/** Time fn: `warmup` untimed calls (and ≥ 0.1 s of them), then at least minRuns timed calls, more while the budget lasts. */
export function measure(fn: () => void, opts: MeasureOptions = {}): Timing {
  const { warmup = 1, minRuns = 5, maxRuns = 15, budget = 1 } = opts;
  // Warm up for `warmup` calls and, for fast functions, at least 0.1 s (≤ 200 calls), so the JIT has settled.
  const w0 = performance.now();
  for (let i = 0; i < warmup || (warmup > 0 && i < 200 && performance.now() - w0 < 100); i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || (times.length < maxRuns && (performance.now() - start) / 1000 < budget)) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  return summarize(times);
}

/** The same for an async function. */
export async function measureAsync(fn: () => Promise<unknown>, opts: MeasureOptions = {}): Promise<Timing> {
  const { warmup = 1, minRuns = 5, maxRuns = 15, budget = 1 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || (times.length < maxRuns && (performance.now() - start) / 1000 < budget)) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return summarize(times);
}

export function summarize(times: readonly number[]): Timing {
  const s = [...times].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, min: s[0]!, max: s[n - 1]!, runs: n };
}

/** Least-squares slope of log y on log x: the exponent k in y ∝ x^k. */
export function logLogSlope(xs: readonly number[], ys: readonly number[]): number {
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length;
  const my = ly.reduce((a, b) => a + b, 0) / ly.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < lx.length; i++) {
    num += (lx[i]! - mx) * (ly[i]! - my);
    den += (lx[i]! - mx) ** 2;
  }
  return num / den;
}

/**
 * Useful floating-point operations of one forward pass over `batch`
 * sequences of `length` tokens (multiply and add counted as 2): the Q/K/V/O
 * projections, causal attention (scores and weighted values over keys ≤ i
 * only), and the unembedding. The same count is used for every
 * implementation, whatever work it does beyond it (numpy scores the full
 * T×T matrix and masks half of it).
 */
export function forwardFlops(shape: ModelShape, batch: number, length: number): number {
  const { d_model: D, d_head: E, n_heads: H, n_layers: L } = shape;
  const Vo = shape.d_vocab_out ?? shape.d_vocab;
  const HE = H * E;
  const perToken = L * (2 * D * 3 * HE + 2 * HE * D) + 2 * D * Vo;
  const attention = L * 2 * HE * length * (length + 1); // Σ_i (i+1) keys × (scores + values) × 2 flops
  return batch * (length * perToken + attention);
}

export interface Fmt {
  num(x: number): string;
  ms(s: number): string;
  spread(t: Timing, f?: (s: number) => string): string;
}

export const fmt: Fmt = {
  /** 3 significant digits, thousands grouped. */
  num(x: number): string {
    if (!Number.isFinite(x)) return String(x);
    if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
    return Number(x.toPrecision(3)).toString();
  },
  ms(s: number): string {
    return `${fmt.num(s * 1000)} ms`;
  },
  /** "median (min–max)" in the unit given by f. */
  spread(t: Timing, f: (s: number) => string = fmt.ms): string {
    return `${f(t.median)} (${f(t.min)}–${f(t.max)})`;
  },
};

/** A markdown table. */
export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(String).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
