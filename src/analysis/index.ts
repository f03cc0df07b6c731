/**
 * The weight analyses, as one import: QK/OV circuits, composition scores and
 * the composition graph, copying scores, head detection, decompilation.
 */
export { activeHeads, fullOVCircuit, fullQKCircuit, headWeights, largestEntries, ovCircuit, qkCircuit, sparseCircuit } from "./circuits.ts";
export type { HeadRef, HeadWeights, LargestOptions, NamedEntry, SparseCircuit } from "./circuits.ts";
export { analyzeComposition, compareGraphs, compositionScore, DEFAULT_SIGMAS, randomBaseline, formatEdge, headLevel } from "./composition.ts";
export type { BaselineCell, CompositionAnalysis, CompositionOptions, CompositionScore, GraphEdge } from "./composition.ts";
export { COPIER_SCORE, copyingScoreOf, copyingScores, headCopying } from "./copying.ts";
export type { HeadCopying, MatrixCopying } from "./copying.ts";
export { defaultRepeatLength, detectHeads, headKind, repeatedSequences } from "./detect.ts";
export type { DetectionReport, DetectOptions, HeadDetection } from "./detect.ts";
export { decompile, DecompileError, noLayoutExplanation, renderSelect } from "./decompile.ts";
export type { DecompileOptions, Decompiled } from "./decompile.ts";
export type { RecoveredCondition, RecoveredHead, RecoveredSelect } from "./readHead.ts";
export { analyzeModel, formatAnalysis } from "./analyze.ts";
export type { AnalyzeOptions, GraphComparison, ModelAnalysis } from "./analyze.ts";
export { headId, headNames, LayoutError, layoutFromJson } from "./named.ts";
export type { NamedBlock, NamedLayout } from "./named.ts";
export { eigenvalues, type Complex } from "./spectrum.ts";
export { fromRows, type Mat } from "./linalg.ts";
