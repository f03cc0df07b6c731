/**
 * The composition graph as the report and the DOT export draw it: every
 * detected edge with its scores and the threshold it beat, and every program
 * edge the weights did not show, each marked by how it stands against the
 * program (both, only detected, only the program's).
 */
import type { ModelAnalysis } from "./analyze.ts";
import { formatEdge, type GraphEdge } from "./composition.ts";

/** How an edge stands against the program's own graph. */
export type EdgeStatus = "program" | "extra" | "missing" | "detected";

/** One edge to draw. */
export interface DrawnEdge extends GraphEdge {
  readonly status: EdgeStatus;
  /** TransformerLens's score and the written score that decides edges; null for a missing edge's scores when unscored. */
  readonly score: number | null;
  readonly written: number | null;
  /** The threshold of the reading layer (random baseline mean + k·sd, or the fixed threshold). */
  readonly threshold: number | null;
}

/**
 * Detected edges (status "program" when the program has them too, "extra"
 * when not, "detected" when no program is known) and the program's edges
 * the weights did not show ("missing"), with their scores.
 */
export function drawnEdges(a: ModelAnalysis): DrawnEdge[] {
  const comp = a.composition;
  const source = comp.featureScores.length ? comp.featureScores : comp.scores;
  const layerOf = new Map(comp.heads.map((h) => [h.name, h.block]));
  const thresholdOf = (to: string): number | null => comp.threshold ?? comp.randomBaseline.find((c) => c.block === layerOf.get(to))?.threshold ?? null;
  const truth = new Set((a.program?.truth ?? []).map(formatEdge));
  const detectedKeys = new Set(comp.detected.map(formatEdge));
  const edges: DrawnEdge[] = comp.detected.map((e) => ({
    from: e.from, to: e.to, kind: e.kind, feature: e.feature, score: e.score, written: e.written, threshold: thresholdOf(e.to),
    status: a.program ? (truth.has(formatEdge(e)) ? "program" : "extra") : "detected",
  }));
  for (const t of a.program?.truth ?? []) {
    if (detectedKeys.has(formatEdge(t))) continue;
    const s = source.find((x) => x.from === t.from && x.to === t.to && x.kind === t.kind && (t.feature === null || x.feature === t.feature));
    edges.push({ ...t, status: "missing", score: s?.score ?? null, written: s?.written ?? null, threshold: thresholdOf(t.to) });
  }
  return edges.sort((x, y) => formatEdge(x).localeCompare(formatEdge(y)));
}
