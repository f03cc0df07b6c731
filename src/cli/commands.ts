/** The table of CLI commands, in the order --help lists them. */
import { checkCommand } from "./checkCmd.ts";
import { checkSyntaxCommand } from "./checkSyntax.ts";
import type { Command } from "./command.ts";
import { compileCommand } from "./compileCmd.ts";
import { generateCommand } from "./generateCmd.ts";
import { hypothesisCommand } from "./hypothesisCmd.ts";
import { layoutCommand } from "./layoutCmd.ts";
import { runCommand } from "./run.ts";

export const commands: readonly Command[] = [runCommand, generateCommand, checkCommand, compileCommand, layoutCommand, hypothesisCommand, checkSyntaxCommand];
