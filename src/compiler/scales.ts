/**
 * The scale constants of compiled attention, and the bound they guarantee.
 *
 * A match head scores key j at query i as
 *
 *     s(j) = β·#{conjuncts c with f_c[j] = g_c[i] + shift_c} + tie(j) − P·[strict ∧ j = i]
 *     s(BOS) = β·(m − ½)
 *
 * with tie(j) = +γ·j/C (latest), −γ·j/C (earliest) or 0 (every). A full match
 * (all m conjuncts) therefore beats BOS by ≥ β/2 − γ, and BOS beats every
 * partial match (and every key whose feature is ⊥, a zero vector) by
 * ≥ β/2 − γ: BOS absorbs "no match" without a special case.
 *
 * Features copied by earlier heads are not exact one-hots: each attention
 * leaks ≤ ε to other keys, so after L layers a feature block is its one-hot
 * up to an L1 error δ ≤ L·ε, and a conjunct's score moves by at most 2δ·β
 * (ν = 2mδ per key). Asking every competing key to sit λ = ln(C/ε) nats
 * below the symbolic choice, despite that noise, gives
 *
 *     γ = C·(λ + βν)                  (adjacent full matches differ by γ/C)
 *     β = (C+1)·λ / (½ − (C+1)·ν)     (so β/2 − βν − γ ≥ λ)
 *     P = β + γ + λ                   (the query's own key sinks below BOS)
 *
 * With at most C competing keys each ≥ λ below, the mass off the choice is
 * ≤ C·e^{−λ} = ε. `every` heads give their selected keys scores equal up to
 * 2βν = η, so each weight is within a factor e^η of uniform; ε is tightened
 * until η ≤ min(10⁻³, 1/(16·C·L)) so averaged features decode to their exact fractions
 * within a stated tolerance. Positional heads (`j = i − k`) read only exact
 * embedding directions, a clock of H hands (layout.ts): the target scores
 * A·H, every other key ≤ A·(H − 1), BOS A·(H − ½), so A = 2λ puts every
 * competitor ≥ λ below.
 *
 * Counts. A `count` head is two heads. The first (`.mean`, one layer
 * earlier) is an `every`-like head whose BOS scores like a full match (β·m),
 * so BOS gets x̃ = 1/(M + leak) with M = m + 1: relative error
 * |ρ| ≤ ε + (e^η − 1). The second scores key p, u = p + 1, as
 * λ'·(2u − x̃·u²). With x̃ = (1 + ρ)/M, key u trails u = M by
 *
 *     λ'·(u − M)²/M + λ'·ρ·(u − M)(u + M)/M ≥ λ'·d/(2M) ≥ λ·d
 *
 * (d = |u − M| ≥ 1) as long as |ρ| ≤ 1/(4C) (then ρ(u + M) ≤ d/2, since
 * u + M ≤ 2C) and λ' = 2Cλ (since M ≤ C). So the keys lose λ, 2λ, … on each
 * side, their mass is ≤ 2e^{−λ}/(1 − e^{−λ}) ≤ ε, and the attention sits on
 * position m within the same bound as every other head. A program that
 * counts therefore tightens ε to ≤ 1/(8C), which with η ≤ 1/(16C) keeps
 * |ρ| < 1/(4C). Its scores reach λ'·(2C + C²) ≈ 2λC³, cubic in C: float64
 * holds them at every context the language allows (≈ 0.04 nat of rounding at
 * C = 8192), float32 only to C = 22 or so (21 at 8 layers).
 *
 * Precision. The bound is for a stated float format, because rounding moves
 * scores. Every score is a sum of products whose absolute values add up to at
 * most M (scoreMagnitude: 2mβ + γ + P for match heads, 2A·H for the clock);
 * with ≤ ROUNDINGS roundings of relative size u (the unit roundoff) on its way
 * through q, k and q·k, a score is off by ≤ ROUNDINGS·u·M. The one nat of
 * slack in λ covers a pair of scores while ROUNDINGS·u·M ≤ ½, which
 * compile.ts requires of every head kind the program uses, refusing the
 * context otherwise. Match-head scores
 * grow like C·λ (β and γ must outbid C keys of tie-break), so float32
 * limits their context; the clock's do not grow, so positional heads fit any
 * context. (An earlier quadratic positional score, C²λ·(2ut − u²), put
 * adjacent keys 1 part in C² apart and broke in float32 from C ≈ 2048.)
 */

/** Float formats a compiled model can promise its bound for. */
export type TargetPrecision = "float32" | "float64";

/** Unit roundoff of each format. */
export const UNIT_ROUNDOFF: Readonly<Record<TargetPrecision, number>> = { float32: 2 ** -24, float64: 2 ** -53 };

/** Roundings budgeted per score (see the precision note above). */
export const ROUNDINGS = 16;

/** Raised when no scale constants reach the asked-for epsilon. */
export class ScaleError extends Error {
  override name = "ScaleError";
}

export interface Scales {
  /** n_ctx the constants were chosen for. */
  readonly context: number;
  readonly layers: number;
  readonly maxConditions: number;
  /** The bound asked for: attention mass off the symbolic choice ≤ epsilon. */
  readonly epsilon: number;
  /** The per-head leakage actually designed for (≤ epsilon). */
  readonly headEpsilon: number;
  /** Nats between the symbolic choice and every competitor. */
  readonly lambda: number;
  readonly beta: number;
  readonly gamma: number;
  readonly penalty: number;
  /** λ' = 2Cλ, the scale of a count's second head (0 when the program does not count). */
  readonly countScale: number;
  /** λ'·(2C + C²): the largest Σ|q_e·k_e| of a count's second head (0 without counts). */
  readonly countMagnitude: number;
  /** Score of each clock hand of a positional head (A = 2λ). */
  readonly clockAmplitude: number;
  /** The float format the bound is stated for. */
  readonly precision: TargetPrecision;
  /** Largest Σ|q_e·k_e| of any score (match heads; clock hands counted by the caller). */
  readonly scoreMagnitude: number;
  /** ROUNDINGS·u·scoreMagnitude: match-head score rounding; compile requires ≤ ½ nat. */
  readonly roundingError: number;
  /** Score noise per key, in units of β, from upstream leakage. */
  readonly noise: number;
  /** Max log-ratio between weights of keys an `every` head should weigh equally. */
  readonly eta: number;
  /** L1 error bound of any decoded feature block. */
  readonly featureError: number;
  /** Tolerance for decoded distributions against exact fractions. */
  readonly distTolerance: number;
  /** Logit of a predicted token over the others. */
  readonly logitScale: number;
}

/**
 * Distinct probabilities of one `every` distribution differ by ≥ 1/C (they
 * are counts over a common denominator ≤ C), and L layers of copying add
 * their distortions; keeping η ≤ 1/(16·C·L) leaves greedy decoding a clear
 * margin to tell them apart, so compiled and symbolic generation agree.
 */
const etaMax = (C: number, L: number) => Math.min(1e-3, 1 / (16 * C * L));

/** Choose β, γ, P and friends for a context length, depth, conjunct count and target precision. */
export function chooseScales(
  context: number, layers: number, maxConditions: number, epsilon = 1e-3, precision: TargetPrecision = "float32", counting = false,
): Scales {
  if (!(epsilon > 0 && epsilon < 0.5)) throw new Error(`compile: epsilon must be in (0, 0.5), got ${epsilon}`);
  const C = context;
  const L = Math.max(1, layers);
  const m = Math.max(1, maxConditions);
  // A count reads 1/(m + 1) to a relative 1/(4C): ε and η each take at most half of that (see above).
  let e = counting ? Math.min(epsilon, 1 / (8 * C)) : epsilon;
  for (let iter = 0; iter < 200; iter++) {
    const lambda = Math.log(C / e) + 1; // +1 nat of slack for float rounding
    const delta = L * e;
    const noise = 2 * m * delta;
    const room = 0.5 - (C + 1) * noise;
    if (room < 0.25) {
      e /= 2;
      continue;
    }
    const beta = ((C + 1) * lambda) / room;
    const eta = 2 * beta * noise;
    if (eta > etaMax(C, L)) {
      e /= 2;
      continue;
    }
    const gamma = C * (lambda + beta * noise);
    const penalty = beta + gamma + lambda;
    const scoreMagnitude = 2 * m * beta + gamma + penalty;
    const roundingError = ROUNDINGS * UNIT_ROUNDOFF[precision] * scoreMagnitude;
    const countScale = counting ? 2 * C * lambda : 0;
    return {
      countScale,
      countMagnitude: countScale * (2 * C + C * C),
      context: C,
      layers: L,
      maxConditions: m,
      epsilon,
      headEpsilon: e,
      lambda,
      beta,
      gamma,
      penalty,
      clockAmplitude: 2 * lambda,
      precision,
      scoreMagnitude,
      roundingError,
      noise,
      eta,
      featureError: delta,
      distTolerance: L * (Math.expm1(eta) + 2 * e) + 1e-9,
      logitScale: 10,
    };
  }
  throw new ScaleError(`compile: no scale constants reach epsilon ${epsilon} at context ${C}`);
}

/** The rounding allowance of a clock with `hands` hands (its scores are ≤ 2A·hands). */
export function clockRoundingError(s: Scales, hands: number): number {
  return ROUNDINGS * UNIT_ROUNDOFF[s.precision] * 2 * s.clockAmplitude * hands;
}

/** The largest context whose match-head scores stay within the precision's rounding allowance (bisection; 0 if none). */
export function maxContext(layers: number, maxConditions: number, epsilon: number, precision: TargetPrecision): number {
  const fits = (C: number) => {
    try {
      return chooseScales(C, layers, maxConditions, epsilon, precision).roundingError <= 0.5;
    } catch {
      return false;
    }
  };
  let lo = 1;
  let hi = 1 << 20;
  if (!fits(lo)) return 0;
  if (fits(hi)) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
