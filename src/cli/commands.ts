/**
 * The table of CLI commands, in the order --help lists them. Each command's
 * module is imported only when that command runs, so `circuits --help` and a
 * single command load none of the others (start-up is most of a short run).
 * The summary is repeated here for the same reason; test/cli/commands.test.ts
 * checks that it is the module's own.
 */
import type { Command } from "./command.ts";

/** A command's name and one-line summary, and how to load the rest of it. */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

export const commands: readonly CommandEntry[] = [
  {
    name: "run",
    summary: "run a program on an input: symbolic and compiled predictions side by side",
    load: async () => (await import("./run.ts")).runCommand,
  },
  {
    name: "generate",
    summary: "generate tokens (compiled weights and semantics side by side) and find the loop",
    load: async () => (await import("./generateCmd.ts")).generateCommand,
  },
  {
    name: "check",
    summary: "compile, simulate and compare with the semantics on random or all sequences",
    load: async () => (await import("./checkCmd.ts")).checkCommand,
  },
  {
    name: "merge",
    summary: "add up the --json results of the shards of an exhaustive check",
    load: async () => (await import("./mergeCmd.ts")).mergeCommand,
  },
  {
    name: "compile",
    summary: "compile a program to safetensors weights (TransformerLens names) plus a JSON sidecar",
    load: async () => (await import("./compileCmd.ts")).compileCommand,
  },
  {
    name: "layout",
    summary: "print the residual-stream layout: blocks, dimensions, writers and readers",
    load: async () => (await import("./layoutCmd.ts")).layoutCommand,
  },
  {
    name: "analyze",
    summary: "analyse weights: composition scores and graph, copying scores, head detection",
    load: async () => (await import("./analyzeCmd.ts")).analyzeCommand,
  },
  {
    name: "decompile",
    summary: "recover the program a model implements: read from a compiled model, searched for in any other",
    load: async () => (await import("./decompileCmd.ts")).decompileCommand,
  },
  {
    name: "report",
    summary: "write a self-contained HTML report: attention heatmaps, composition graph, predictions, loops, training",
    load: async () => (await import("./reportCmd.ts")).reportCommand,
  },
  {
    name: "train",
    summary: "train an attention-only transformer (repeats, a program as teacher, or text) and measure the induction bump",
    load: async () => (await import("./trainCmd.ts")).trainCommand,
  },
  {
    name: "hypothesis",
    summary: "test a named hypothesis on random programs; print the shrunk counterexample as source",
    load: async () => (await import("./hypothesisCmd.ts")).hypothesisCommand,
  },
  {
    name: "check-syntax",
    summary: "parse and type-check a program; print nothing but errors",
    load: async () => (await import("./checkSyntax.ts")).checkSyntaxCommand,
  },
];
