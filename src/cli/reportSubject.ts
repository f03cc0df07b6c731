/**
 * `circuits report`'s subject from its PROGRAM or MODEL argument: the view
 * (src/view/) takes a loaded subject and never reads files or knows the CLI.
 */
import { compile } from "../compiler/compile.ts";
import { BOS_ID, vocabIndex } from "../model/tokenIds.ts";
import type { ReportSubject } from "../view/subject.ts";
import { loadAnalysisInput } from "./analyzeCmd.ts";
import { loadProgramFile } from "./command.ts";

/** Load PROGRAM.circ (compiled in float64, as analyze does) or MODEL.safetensors; failures are one-line errors. */
export function loadSubject(path: string | undefined, cmd: string): ReportSubject {
  if (path !== undefined && !path.endsWith(".safetensors")) {
    const compiled = compile(loadProgramFile(path, cmd), { precision: "float64" });
    return {
      path, weights: compiled.weights, program: compiled.program, compiled, layout: compiled.layout,
      tokenNames: compiled.tokens, bos: BOS_ID, notes: [], notRunnable: null,
    };
  }
  const input = loadAnalysisInput(path, cmd);
  const { d_vocab } = input.weights.config;
  const tokenNames = input.tokens && input.tokens.length === d_vocab
    ? input.tokens
    : Array.from({ length: d_vocab }, (_, id) => (input.bos === BOS_ID ? (id === BOS_ID ? "<bos>" : String(vocabIndex(id))) : String(id)));
  const notes = [...input.notes];
  if (!input.tokens) notes.push(input.bos === BOS_ID ? "the file has no token names: tokens are numbered (id v + 1)" : "the file has no token names: tokens are their ids");
  return {
    path: path!, weights: input.weights, program: input.program ?? null, compiled: null, layout: input.layout ?? null,
    tokenNames, bos: input.bos, notes, notRunnable: input.notRunnable ?? null,
  };
}
