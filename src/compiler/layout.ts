/**
 * Program → residual-stream layout. Every dimension of d_model belongs to a
 * named block, and every block says who writes it and who reads it:
 *
 *   one        the constant 1 (from W_pos, at every position, BOS included)
 *   bos        1 at the BOS position only (from W_E[BOS]): the fallback key
 *   token      one-hot of the token (token:a …); zero at BOS
 *   position   pos.lin = p/C, the tie-break of latest/earliest heads; and,
 *              when a program has a `j = i − k` head, a clock: pos.cos4,
 *              pos.sin4, pos.cos16, … = cos/sin(2πp/4^m) for every period
 *              4^m up to the first ≥ C + k_max, zero at BOS (p = 0). Every
 *              value is O(1) and neighbours differ in the fastest hand by a
 *              quarter turn, so float32 tells positions apart at any context
 *              (2·⌈log₄(C + k)⌉ dims; see heads.ts for the score)
 *              When a program counts: pos.u = p + 1 and pos.u2 = (p + 1)²,
 *              BOS included, the keys of a count's second layer (heads.ts)
 *   pos        one-hot of the position (pos:0 … pos:C-1), only when a head
 *              needs positions categorically (strict `j < i`, pos values)
 *   <feature>  one dimension per value of its domain (prev:a …); ⊥ is zero
 *   <head>.inv for each count head, 1/(m + 1): what its first layer (the
 *              extra head <head>.mean, one layer before the count) writes
 */
import type { DomainKind, Head, Program } from "../lang/program.ts";
import { domainSize, valueName } from "../lang/program.ts";
import { Space } from "./space.ts";

export type BlockKind = "one" | "bos" | "token" | "position" | "pos" | "feature" | "count";

export interface BlockReader {
  readonly head: string;
  readonly side: "Q" | "K" | "V";
}

export interface Block {
  readonly name: string;
  readonly kind: BlockKind;
  readonly offset: number;
  readonly size: number;
  /** Full direction labels, e.g. "prev:a". */
  readonly labels: readonly string[];
  readonly domain: DomainKind | null;
  /** Layer that writes it: 0 for embeddings. */
  readonly layer: number;
  readonly writtenBy: string | null;
  readonly readBy: readonly BlockReader[];
}

export interface Layout {
  readonly dModel: number;
  readonly blocks: readonly Block[];
  readonly space: Space;
}

/** Direction label of value `v` of a block over `domain`. */
export const dirLabel = (program: Program, block: string, domain: DomainKind, v: number): string =>
  `${block}:${valueName(program, domain, v)}`;

/** The program's count heads, in layer order. */
export function countHeads(program: Program): Head[] {
  return program.layers.flat().filter((h) => h.select.kind === "match" && h.select.rule === "count");
}

/** Name of the extra head that computes a count's 1/(m + 1), one layer before the count. */
export const meanHeadName = (count: string): string => `${count}.mean`;

/** Name of the block (and its one direction) holding a count's 1/(m + 1). */
export const inverseBlockName = (count: string): string => `${count}.inv`;

/** Whether a program needs the one-hot position block. */
export function needsPositionOneHot(program: Program): boolean {
  return program.layers.flat().some((h) => {
    if (h.copies.some((c) => c.from === "pos")) return true;
    if (h.select.kind !== "match") return false;
    return h.select.strict || h.select.conditions.some((c) => c.key === "pos" || c.query === "pos");
  });
}

/**
 * The clock's periods 4, 16, …, up to the first period ≥ C + k_max: offsets
 * Δ = j − (i − k) of keys j ≤ i lie in (−C, k], so two distinct keys never
 * agree in every hand. Empty when the program has no positional head.
 */
export function clockPeriods(program: Program): number[] {
  const ks = program.layers.flat().flatMap((h) => (h.select.kind === "offset" ? [h.select.k] : []));
  if (!ks.length) return [];
  const reach = program.context + Math.max(...ks);
  const periods = [4];
  while (periods[periods.length - 1]! < reach) periods.push(periods[periods.length - 1]! * 4);
  return periods;
}

/** The clock's direction labels: cos and sin of each period. */
export const clockLabels = (periods: readonly number[]): string[] => periods.flatMap((n) => [`pos.cos${n}`, `pos.sin${n}`]);

/** cos(2πp/n), exact at quarter turns (Math.cos(π/2) is 6e-17, not 0). */
export function clockCos(p: number, n: number): number {
  return quarterExact(((p % n) + n) % n, n, Math.cos);
}

/** sin(2πp/n), exact at quarter turns. */
export function clockSin(p: number, n: number): number {
  return quarterExact(((p % n) + n) % n, n, Math.sin);
}

function quarterExact(r: number, n: number, f: (x: number) => number): number {
  if ((4 * r) % n === 0) return Math.round(f((2 * Math.PI * r) / n));
  return f((2 * Math.PI * r) / n);
}

/** Lay out the residual stream of a checked program. */
export function checkedToLayout(program: Program): Layout {
  const readers = new Map<string, BlockReader[]>();
  const note = (feature: string, r: BlockReader) => {
    const list = readers.get(feature) ?? [];
    if (!list.some((x) => x.head === r.head && x.side === r.side)) list.push(r);
    readers.set(feature, list);
  };
  for (const h of program.layers.flat()) {
    if (h.select.kind === "match") {
      for (const c of h.select.conditions) {
        note(c.key, { head: h.name, side: "K" });
        note(c.query, { head: h.name, side: "Q" });
      }
    }
    for (const c of h.copies) note(c.from, { head: h.name, side: "V" });
    // Directions the compiler's own constructions read (see heads.ts).
    note("one", { head: h.name, side: "Q" });
    if (h.select.kind === "offset") {
      note("position", { head: h.name, side: "Q" });
      note("position", { head: h.name, side: "K" });
      note("bos", { head: h.name, side: "K" });
    } else if (h.select.rule === "count") {
      // The count reads its 1/(m + 1) against pos.u/pos.u2; its .mean head reads the conditions and BOS.
      note(inverseBlockName(h.name), { head: h.name, side: "Q" });
      note("position", { head: h.name, side: "K" });
      note("bos", { head: meanHeadName(h.name), side: "K" });
      if (h.select.strict) {
        note("pos", { head: meanHeadName(h.name), side: "Q" });
        note("pos", { head: meanHeadName(h.name), side: "K" });
      }
    } else {
      note("bos", { head: h.name, side: "K" });
      if (h.select.rule !== "every") note("position", { head: h.name, side: "K" });
      if (h.select.strict) {
        note("pos", { head: h.name, side: "Q" });
        note("pos", { head: h.name, side: "K" });
      }
    }
  }

  const blocks: Block[] = [];
  let offset = 0;
  const push = (b: Omit<Block, "offset" | "size" | "readBy">) => {
    blocks.push({ ...b, offset, size: b.labels.length, readBy: readers.get(b.name) ?? [] });
    offset += b.labels.length;
  };
  const valuesOf = (name: string, domain: DomainKind) =>
    Array.from({ length: domainSize(program, domain) }, (_, v) => dirLabel(program, name, domain, v));

  push({ name: "one", kind: "one", labels: ["one"], domain: null, layer: 0, writtenBy: null });
  push({ name: "bos", kind: "bos", labels: ["bos"], domain: null, layer: 0, writtenBy: null });
  push({ name: "token", kind: "token", labels: valuesOf("token", "token"), domain: "token", layer: 0, writtenBy: null });
  const countKeys = countHeads(program).length ? ["pos.u", "pos.u2"] : [];
  push({ name: "position", kind: "position", labels: ["pos.lin", ...clockLabels(clockPeriods(program)), ...countKeys], domain: null, layer: 0, writtenBy: null });
  if (needsPositionOneHot(program)) {
    push({ name: "pos", kind: "pos", labels: valuesOf("pos", "pos"), domain: "pos", layer: 0, writtenBy: null });
  }
  for (const f of program.features.values()) {
    if (f.layer === 0) continue;
    push({ name: f.name, kind: "feature", labels: valuesOf(f.name, f.domain), domain: f.domain, layer: f.layer, writtenBy: f.head });
  }
  for (const h of countHeads(program)) {
    const name = inverseBlockName(h.name);
    push({ name, kind: "count", labels: [name], domain: null, layer: h.layer - 1, writtenBy: meanHeadName(h.name) });
  }
  return { dModel: offset, blocks, space: new Space(blocks.flatMap((b) => b.labels)) };
}

/** The block of a given name; throws if the layout has none. */
export function blockOf(layout: Layout, name: string): Block {
  const b = layout.blocks.find((x) => x.name === name);
  if (!b) throw new Error(`layout has no block '${name}'`);
  return b;
}

/** Layout as plain JSON (structured, never a string to re-parse). */
export function layoutToJson(layout: Layout): unknown {
  return {
    d_model: layout.dModel,
    blocks: layout.blocks.map((b) => ({
      name: b.name,
      kind: b.kind,
      offset: b.offset,
      size: b.size,
      labels: b.labels,
      domain: b.domain,
      layer: b.layer,
      writtenBy: b.writtenBy,
      readBy: b.readBy,
    })),
  };
}
