/**
 * The compiled model's dimensions, computed from the checked program alone —
 * before any layout label, head map or weight is allocated — so that a
 * program too large to compile is refused at once instead of after seconds
 * and hundreds of MB. The counts follow the constructions exactly: the
 * layout's blocks (layout.ts) and each head's QK and OV spaces (heads.ts);
 * a test checks them against compiled models.
 */
import { domainSize, type Program } from "../lang/program.ts";
import { clockPeriods, countHeads, needsPositionOneHot } from "./layout.ts";
import { modelVocabSize } from "../model/tokenIds.ts";

/** Limits that keep a compiled model (and its file) within memory; the error quotes them. */
export const COMPILE_LIMITS = { dModel: 20_000, dHead: 20_000, parameters: 40_000_000 } as const;

/** The size limits compile applies (COMPILE_LIMITS unless a trusted caller raises them). */
export interface CompileLimits {
  readonly dModel: number;
  readonly dHead: number;
  readonly parameters: number;
}

/** Bytes per parameter in a written float64 file. */
const FILE_BYTES_PER_PARAMETER = 8;

export interface SizeEstimate {
  readonly dModel: number;
  readonly dHead: number;
  readonly nHeads: number;
  /** Every tensor element of the state dict (heads padded to d_head, as TransformerLens stores them). */
  readonly parameters: number;
  /** The weights file's tensor bytes (float64), without its header. */
  readonly fileBytes: number;
}

/** Dimensions and parameter count of the model `compile` would build. */
export function estimateSize(program: Program): SizeEstimate {
  const C = program.context;
  const hands = clockPeriods(program).length;
  const counts = countHeads(program);
  // Counts add pos.u, pos.u2 and one .inv direction each.
  let dModel = 1 + 1 + program.vocab.length + 1 + 2 * hands + (needsPositionOneHot(program) ? C : 0) + (counts.length ? 2 + counts.length : 0);
  for (const f of program.features.values()) if (f.layer > 0) dModel += domainSize(program, f.domain);
  let dHead = 1;
  for (const h of program.layers.flat()) {
    let qk = 2 * hands + 1; // the clock's hands and BOS
    if (h.select.kind === "match" && h.select.rule === "count") {
      qk = 2; // u, u2; its .mean head: the conjuncts, BOS and the self penalty
      let mean = 1 + (h.select.strict ? C - 1 : 0);
      for (const c of h.select.conditions) mean += domainSize(program, program.features.get(c.key)!.domain);
      dHead = Math.max(dHead, mean);
    } else if (h.select.kind === "match") {
      qk = 1 + (h.select.rule !== "every" ? 1 : 0) + (h.select.strict ? C - 1 : 0);
      for (const c of h.select.conditions) qk += domainSize(program, program.features.get(c.key)!.domain);
    }
    let ov = 0;
    for (const c of h.copies) ov += domainSize(program, program.features.get(c.to)!.domain);
    dHead = Math.max(dHead, qk, ov);
  }
  const nHeads = Math.max(1, ...program.layers.map((l, k) => l.length + counts.filter((h) => h.layer === k + 2).length));
  const V = modelVocabSize(program.vocab.length);
  // W_Q, W_K, W_V [H, D, E], W_O [H, E, D], biases b_Q/b_K/b_V [H, E] and b_O [D] per layer; W_E, W_pos, W_U, b_U.
  const perLayer = nHeads * dModel * dHead * 4 + nHeads * dHead * 3 + dModel;
  const parameters = program.layers.length * perLayer + V * dModel + C * dModel + dModel * V + V;
  return { dModel, dHead, nHeads, parameters, fileBytes: parameters * FILE_BYTES_PER_PARAMETER };
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

/** Why the program is too large to compile, or null; the message states the estimate and the limit. */
export function sizeProblem(program: Program, est: SizeEstimate = estimateSize(program), limits: CompileLimits = COMPILE_LIMITS): string | null {
  const where = program.source.path;
  if (est.dModel > limits.dModel) {
    return `${where}: d_model would be ${est.dModel} (limit ${limits.dModel}); lower 'context' or the vocabulary`;
  }
  if (est.dHead > limits.dHead) return `${where}: d_head would be ${est.dHead} (limit ${limits.dHead})`;
  if (est.parameters > limits.parameters) {
    return `${where}: the model would have ${est.parameters} parameters, a ${mb(est.fileBytes)} file (limit ${limits.parameters} parameters, ${mb(limits.parameters * FILE_BYTES_PER_PARAMETER)}); lower 'context' (strict 'j < i' heads cost context² each) or the number of heads`;
  }
  return null;
}
