/**
 * induction-circuits: the typed library behind the `circuits` CLI.
 * parse → check → interpret (reference semantics) → compile → simulate → analyse.
 */
export type * from "./lang/ast.ts";
export { parse, grammar } from "./lang/parse.ts";
export { checkSyntax, load, LIMITS } from "./lang/check.ts";
export { CircuitsError, WeightsFileError, type ErrorKind, type WeightsFileReason } from "./errors.ts";
export { ProgramError, formatDiagnostic, formatDiagnostics, type Diagnostic, type Source } from "./lang/diagnostics.ts";
export type * from "./lang/program.ts";
export { allHeads, domainSize, valueName } from "./lang/program.ts";
export { encodeInput, decodeTokens, InputError } from "./lang/tokens.ts";
export { interpret, SymbolicRun } from "./semantics/interpret.ts";
export { type Dist, type Value, valueEquals, mode, mass, formatValue, valueToJson } from "./semantics/values.ts";
export type * from "./model/weights.ts";
export { compile, CompileError, COMPILE_LIMITS, type CompiledModel, type CompileOptions } from "./compiler/compile.ts";
export { checkedToLayout, layoutToJson, blockOf, type Layout, type Block } from "./compiler/layout.ts";
export { chooseScales, type Scales } from "./compiler/scales.ts";
export { decodeFeature, decodedAgrees, type Decoded } from "./compiler/decode.ts";
export { BOS_ID, modelInput, tokenId, vocabIndex } from "./model/tokenIds.ts";
export {
  forward, forwardBatch, forwardHelperReady, forwardThreadCount, IncrementalRun, referenceForward, randomWeights, type ActivationCache,
} from "./sim/index.ts";
export { saveWeights, loadWeights } from "./model/weightsFile.ts";
export { encodeSafetensors, decodeSafetensors } from "./model/safetensors.ts";
export { checkExhaustive, checkRandom, compareSequence, type CheckResult } from "./verify/check.ts";
export type { Disagreement } from "./verify/compare.ts";
export { checkExhaustiveBySymmetry, countClasses } from "./verify/classes.ts";
export { symmetryObstacle } from "./verify/symmetry.ts";
export { generate, type GenerateOptions } from "./generate/generate.ts";
export { generateSymbolic, FALLBACK_TOKEN, type NoneRule } from "./generate/symbolic.ts";
export { generateCompiled } from "./generate/compiled.ts";
export { findCycle, minimalCycle, type Cycle } from "./generate/cycles.ts";
export { asInduction, predictInductionCycle } from "./generate/predict.ts";
export { inductionProgramText } from "./generate/ik.ts";
export type { Strategy } from "./generate/strategy.ts";
export * from "./analysis/index.ts";
export { finiteStateLoop, stateWindow } from "./generate/finiteState.ts";
export { finiteStateObstacle, stateKey } from "./semantics/interpret.ts";
export { testHypothesis, type Hypothesis, type SomeHypothesis, eraseCaseType, type HypothesisResult } from "./hypothesis/hypothesis.ts";
export { HYPOTHESES, hypothesisNamed, programWithPrompt, showCase, words as promptWords, type ProgramCase } from "./hypothesis/catalog.ts";
export { testExhaustive, promptsUpTo, type ExhaustiveOptions } from "./hypothesis/exhaustive.ts";
export { loadHypothesisFile, hypothesesOf, HypothesisFileError } from "./hypothesis/userFile.ts";
export { arbProgram, arbInput, arbProgramWithInput } from "./hypothesis/arbitrary.ts";
export { printProgram, printHead, printSelection, printCondition, printVocab, type PrintOptions } from "./lang/print.ts";
export { recoverProgram, score as recoverScore, type RecoverOptions, type RecoverResult, type Recovered, type MappedHead } from "./recover/search.ts";
export { checkWeights, CheckWeightsError, type CheckWeightsOptions, type CheckWeightsResult, type HeadPlace } from "./recover/checkWeights.ts";
export { disguiseWeights, type DisguiseOptions } from "./recover/disguise.ts";
export { enumerateSpace, spaceBound, candidateProgram, programToCandidate, type Candidate, type HeadSpec, type SpaceOptions } from "./recover/space.ts";
export { makeProbes, type Probe, type ProbeSet, type ProbeOptions } from "./recover/probes.ts";
export { observe, type Observation } from "./recover/observe.ts";
export type { PredictionAgreement, ClassAgreement } from "./recover/agreement.ts";
export { formatRecovery, formatCheckWeights } from "./recover/format.ts";
export { train, trainThroughput, loadCheckpoint, DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainLog, type EvalRecord, type PhaseReport } from "./train/index.ts";
