/**
 * The composition graph a compiled program's weights should show, which is
 * the program's own graph except at counts. A count compiles to two heads
 * (compiler/layout.ts): its hidden `.mean` head, one layer earlier, reads the
 * count's conditions and writes 1/(m + 1) into the `.inv` block; the count's
 * own head reads that block on its query side and copies. So the count's
 * K and Q edges sit on the `.mean` head, and the `.mean` head feeds the count
 * by Q-composition through `.inv`.
 */
import { countHeads, inverseBlockName, meanHeadName } from "../compiler/layout.ts";
import type { Program } from "../lang/program.ts";
import type { GraphEdge } from "./composition.ts";

/** The program's composition edges as its compiled weights carry them, named by head and feature. */
export function compiledComposition(program: Program): GraphEdge[] {
  const counts = new Set(countHeads(program).map((h) => h.name));
  const edges: GraphEdge[] = program.composition.map((e) =>
    counts.has(e.to) && e.kind !== "V" ? { ...e, to: meanHeadName(e.to) } : { ...e },
  );
  for (const c of counts) edges.push({ from: meanHeadName(c), to: c, kind: "Q", feature: inverseBlockName(c) });
  return edges;
}

/**
 * Head ids (`L<block>H<index>`) of the compiled model by head name: the
 * program's heads in order, then each count's `.mean` head appended to the
 * block before the count, in the order the compiler appends them.
 */
export function compiledHeadIds(program: Program): Map<string, string> {
  const ids = new Map(program.layers.flatMap((heads, l) => heads.map((h, k) => [h.name, `L${l}H${k}`] as const)));
  const extra = new Map<number, number>();
  for (const h of countHeads(program)) {
    const block = h.layer - 2;
    const index = program.layers[block]!.length + (extra.get(block) ?? 0);
    extra.set(block, (extra.get(block) ?? 0) + 1);
    ids.set(meanHeadName(h.name), `L${block}H${index}`);
  }
  return ids;
}
