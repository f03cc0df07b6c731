/** The table of CLI commands, in the order --help lists them. */
import { checkSyntaxCommand } from "./checkSyntax.ts";
import type { Command } from "./command.ts";
import { runCommand } from "./run.ts";

export const commands: readonly Command[] = [runCommand, checkSyntaxCommand];
