/**
 * induction-circuits: the typed library behind the `circuits` CLI.
 * parse → check → interpret (reference semantics) → compile → simulate → analyse.
 */
export type * from "./lang/ast.ts";
export { parse, grammar } from "./lang/parse.ts";
export { check, load, LIMITS } from "./lang/check.ts";
export { ProgramError, formatDiagnostic, formatDiagnostics, type Diagnostic, type Source } from "./lang/diagnostics.ts";
export type * from "./lang/program.ts";
export { allHeads, domainSize, valueName } from "./lang/program.ts";
export { encodeInput, decodeTokens, InputError } from "./lang/tokens.ts";
export { interpret, SymbolicRun } from "./semantics/interpret.ts";
export { type Dist, type Value, valueEquals, mode, mass, formatValue, valueToJson } from "./semantics/values.ts";
export type * from "./model/weights.ts";
