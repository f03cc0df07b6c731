/**
 * The attention patterns of one input, packed for the page, and the program's
 * symbolic selection of every head it knows, for the overlay.
 *
 * Packing: each head's causal pattern is its lower triangle (row i holds keys
 * 0…i), each weight rounded to a multiple of 1/65535 (error ≤ 7.7e-6, below
 * the four decimals the page shows), little-endian uint16, all heads in
 * layer-major order, deflated (zlib) and base64-encoded. Compiled heads are
 * nearly one-hot, so the deflated patterns of a 1,000-token input stay small;
 * the page inflates them with the browser's own DecompressionStream.
 */
import { deflateSync } from "node:zlib";
import { activeHeads } from "../analysis/circuits.ts";
import { headId, headNames } from "../analysis/named.ts";
import type { ActivationCache } from "../sim/forward.ts";
import { headTargets, type Targets } from "../recover/attentionMatch.ts";
import type { SymbolicRun } from "../semantics/interpret.ts";
import type { ReportSubject } from "./subject.ts";

/** Largest quantised weight: weights are stored as round(w · QUANT). */
export const QUANT = 65535;

/** One head as the page shows it. */
export interface HeadView {
  readonly id: string;
  readonly name: string;
  readonly block: number;
  readonly head: number;
  /** Whether its weights are all zero (an unused head slot of a compiled model). */
  readonly inactive: boolean;
  /** The program head it implements, when the program is known and names it. */
  readonly programHead: string | null;
  /** Selected key positions per query position (empty: the program selects nothing, ⊥). */
  readonly selection: readonly (readonly number[])[] | null;
  /** Mean attention on the selection where it is defined; null without a selection or where never defined. */
  readonly agreement: number | null;
}

/** Everything the heatmaps need. */
export interface AttentionView {
  readonly T: number;
  readonly heads: readonly HeadView[];
  /** base64(deflate(uint16 LE lower triangles)), heads in the order of `heads`. */
  readonly packed: string;
  /** Raw bytes before deflating (for the report's own size line). */
  readonly rawBytes: number;
}

/** Quantise and pack every head's lower triangle (see the module comment). */
export function packPatterns(patterns: readonly Float64Array[], H: number, T: number): { packed: string; rawBytes: number } {
  const tri = (T * (T + 1)) / 2;
  const out = new Uint8Array(patterns.length * H * tri * 2);
  const view = new DataView(out.buffer);
  let o = 0;
  for (const p of patterns) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const row = (h * T + i) * T;
        for (let j = 0; j <= i; j++) {
          const w = Math.min(1, Math.max(0, p[row + j]!));
          view.setUint16(o, Math.round(w * QUANT), true);
          o += 2;
        }
      }
    }
  }
  return { packed: Buffer.from(deflateSync(out, { level: 9 })).toString("base64"), rawBytes: out.length };
}

/** Inverse of packPatterns for one weight: what the page shows for (layer·H + head, i, j). */
export function unpackWeight(bytes: Uint8Array, headIndex: number, T: number, i: number, j: number): number {
  const tri = (T * (T + 1)) / 2;
  const at = (headIndex * tri + (i * (i + 1)) / 2 + j) * 2;
  return (bytes[at]! | (bytes[at + 1]! << 8)) / QUANT;
}

/** Each query position's selected keys, as arrays. */
function selectionLists(t: Targets, T: number): number[][] {
  return Array.from({ length: T }, (_, i) => Array.from(t.js.subarray(t.start[i]!, t.start[i + 1]!)));
}

/** The heads, their patterns packed, and (with a program) each program head's selection and agreement. */
export function attentionView(subject: ReportSubject, cache: ActivationCache, T: number, run: SymbolicRun | null): AttentionView {
  const { n_layers: L, n_heads: H } = subject.weights.config;
  const patterns = Array.from({ length: L }, (_, l) => cache.get(`blocks.${l}.attn.hook_pattern`)!.data as Float64Array);
  const active = activeHeads(subject.weights);
  const names = headNames(active, subject.layout ?? undefined);
  const activeIds = new Set(active.map(headId));
  const programHeads = new Map((subject.program?.layers.flat() ?? []).map((h) => [h.name, h]));
  const heads: HeadView[] = [];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const id = headId({ block: l, head: h });
      const name = names.get(id) ?? id;
      const ph = run && subject.program ? programHeads.get(name) : undefined;
      let selection: number[][] | null = null;
      let agreement: number | null = null;
      if (ph && run && subject.program) {
        selection = selectionLists(headTargets(subject.program, ph, run), T);
        let mass = 0;
        let defined = 0;
        selection.forEach((js, i) => {
          if (!js.length) return;
          for (const j of js) mass += patterns[l]![(h * T + i) * T + j]!;
          defined++;
        });
        agreement = defined ? mass / defined : null;
      }
      heads.push({ id, name, block: l, head: h, inactive: !activeIds.has(id), programHead: ph ? ph.name : null, selection, agreement });
    }
  }
  return { T, heads, ...packPatterns(patterns, H, T) };
}
