/** The table of CLI commands, in the order --help lists them. */
import { analyzeCommand } from "./analyzeCmd.ts";
import { checkCommand } from "./checkCmd.ts";
import { checkSyntaxCommand } from "./checkSyntax.ts";
import type { Command } from "./command.ts";
import { compileCommand } from "./compileCmd.ts";
import { decompileCommand } from "./decompileCmd.ts";
import { generateCommand } from "./generateCmd.ts";
import { hypothesisCommand } from "./hypothesisCmd.ts";
import { layoutCommand } from "./layoutCmd.ts";
import { mergeCommand } from "./mergeCmd.ts";
import { reportCommand } from "./reportCmd.ts";
import { runCommand } from "./run.ts";
import { trainCommand } from "./trainCmd.ts";

export const commands: readonly Command[] = [runCommand, generateCommand, checkCommand, mergeCommand, compileCommand, layoutCommand, analyzeCommand, decompileCommand, reportCommand, trainCommand, hypothesisCommand, checkSyntaxCommand];
