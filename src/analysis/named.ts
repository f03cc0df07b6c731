/**
 * Named residual directions for analyses: the layout a compiled model carries
 * in its file metadata (src/compiler/layout.ts `layoutToJson`), validated and
 * typed, and the names of heads.
 *
 * The analyses use a layout only for *names* — which dimensions form the
 * block `prev`, that dimension 7 is `prev:c`, which head's name the block
 * records as its writer. They never use the layout's `readBy` lists: those
 * record which heads read which blocks, i.e. the composition graph itself,
 * and the point of the analyses is to rediscover that graph from the weights.
 */
import type { HeadRef, HeadWeights } from "./circuits.ts";
import { CircuitsError } from "../errors.ts";

/** One named block of residual dimensions, as the compiler's layout describes it. */
export interface NamedBlock {
  readonly name: string;
  readonly kind: string;
  readonly offset: number;
  readonly size: number;
  /** Direction labels, e.g. "prev:a". */
  readonly labels: readonly string[];
  readonly domain: "token" | "pos" | null;
  /** Layer that writes the block (1-based); 0 for embeddings. */
  readonly layer: number;
  readonly writtenBy: string | null;
}

/** The residual stream as named blocks (a compiler Layout satisfies this). */
export interface NamedLayout {
  readonly dModel: number;
  readonly blocks: readonly NamedBlock[];
}

/** Raised for a layout that is not the compiler's JSON or does not fit the weights. */
export class LayoutError extends CircuitsError {
  override name = "LayoutError";
  readonly kind = "weights";
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** Validate layout JSON (as stored in a weights file) against d_model; throws LayoutError in one line. */
export function layoutFromJson(json: unknown, dModel: number): NamedLayout {
  const fail = (msg: string): never => {
    throw new LayoutError(`layout: ${msg}`);
  };
  if (!isObj(json) || !Array.isArray(json.blocks)) return fail("expected an object with a 'blocks' array");
  if (json.d_model !== dModel) fail(`d_model ${JSON.stringify(json.d_model)} does not match the weights' d_model ${dModel}`);
  let next = 0;
  const blocks = json.blocks.map((b, k): NamedBlock => {
    if (!isObj(b)) return fail(`block ${k} is not an object`);
    const { name, kind, offset, size, labels, domain, layer, writtenBy } = b;
    if (typeof name !== "string" || typeof kind !== "string") return fail(`block ${k} has no name or kind`);
    if (offset !== next || typeof size !== "number" || !Number.isInteger(size) || size < 0) {
      return fail(`block '${name}' has offset ${JSON.stringify(offset)}, size ${JSON.stringify(size)} (blocks must tile 0…d_model-1 in order)`);
    }
    if (!Array.isArray(labels) || labels.length !== size || !labels.every((l) => typeof l === "string")) {
      return fail(`block '${name}' must have ${size} string labels`);
    }
    if (domain !== null && domain !== "token" && domain !== "pos") return fail(`block '${name}' has domain ${JSON.stringify(domain)}`);
    if (typeof layer !== "number" || !Number.isInteger(layer) || layer < 0) return fail(`block '${name}' has layer ${JSON.stringify(layer)}`);
    if (writtenBy !== null && typeof writtenBy !== "string") return fail(`block '${name}' has writtenBy ${JSON.stringify(writtenBy)}`);
    next = offset + size;
    return { name, kind, offset, size, labels: labels as string[], domain, layer, writtenBy };
  });
  if (next !== dModel) fail(`blocks cover ${next} dimensions, the weights have d_model ${dModel}`);
  return { dModel, blocks };
}

/** The block holding residual dimension d, if any. */
export function blockAtIndex(layout: NamedLayout, d: number): NamedBlock | undefined {
  return layout.blocks.find((b) => d >= b.offset && d < b.offset + b.size);
}

/** The block of a given name, if any. */
export function namedBlock(layout: NamedLayout, name: string): NamedBlock | undefined {
  return layout.blocks.find((b) => b.name === name);
}

/** Label of residual dimension d: "prev:a" with a layout, "d7" without. */
export function labelAt(layout: NamedLayout | undefined, d: number): string {
  const b = layout && blockAtIndex(layout, d);
  return b ? b.labels[d - b.offset]! : `d${d}`;
}

/** TransformerLens-style head id "L0H1" (block and head, both 0-based). */
export const headId = (h: HeadRef): string => `L${h.block}H${h.head}`;

/**
 * Name of every head: the writer that the layout records for the blocks the
 * head's W_O actually writes (all of them must agree), else its id "L0H1".
 * Reading the writer off W_O, not off the layout alone, keeps names honest
 * when a layout and weights disagree.
 */
export function headNames(heads: readonly HeadWeights[], layout?: NamedLayout): Map<string, string> {
  const names = new Map<string, string>();
  for (const h of heads) {
    const writers = new Set(writtenBlocks(h, layout).map((b) => b.writtenBy));
    const only = writers.size === 1 ? [...writers][0] : null;
    names.set(headId(h), only ?? headId(h));
  }
  return names;
}

/** Blocks into which a head's W_O writes something (feature blocks, for compiled heads). */
export function writtenBlocks(h: HeadWeights, layout: NamedLayout | undefined): NamedBlock[] {
  if (!layout) return [];
  const { rows: E, cols: D, data } = h.W_O;
  return layout.blocks.filter((b) => {
    for (let e = 0; e < E; e++) for (let d = b.offset; d < b.offset + b.size && d < D; d++) if (data[e * D + d] !== 0) return true;
    return false;
  });
}
