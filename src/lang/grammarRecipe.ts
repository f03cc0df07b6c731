/**
 * The grammar, built fast. Building an Ohm grammar from its source text runs
 * Ohm's own parser over it (about 0.3 s, most of a CLI start-up); building it
 * from a recipe — Ohm's serialised form of an already-built grammar — takes a
 * few milliseconds. The package build writes the recipe beside this module
 * (`npm run build` → dist/lang/circuits.recipe.json), together with the
 * source it was made from; a recipe is used only while that source is still
 * byte-for-byte the grammar file's text, so grammar/circuits.ohm stays the
 * single source of truth and a stale or missing recipe costs only time.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as OhmModule from "ohm-js";

// Ohm's CommonJS build is one bundled file; its ES-module entry is some fifty
// files, which take Node two to three times as long to load (a third of a
// short CLI run). Both expose the same API.
const ohm = createRequire(import.meta.url)("ohm-js") as typeof OhmModule;

/** What the build writes: the grammar text and Ohm's recipe for it. */
export interface GrammarRecipeFile {
  readonly source: string;
  readonly recipe: string;
}

// Ohm 17 has both at run time but leaves them out of its type declarations.
const ohmRecipes = ohm as unknown as { makeRecipe(recipe: string): OhmModule.Grammar };
type WithRecipe = OhmModule.Grammar & { toRecipe(): string };

/** Where the build puts the recipe: beside the compiled module. */
export const RECIPE_PATH = fileURLToPath(new URL("./circuits.recipe.json", import.meta.url));

/** The recipe file's contents for grammar source `source`. */
export function grammarRecipe(source: string): GrammarRecipeFile {
  return { source, recipe: (ohm.grammar(source) as WithRecipe).toRecipe() };
}

/** The grammar of `source`: from the recipe at `recipePath` when it was made from this very text, else from the text. */
export function buildGrammar(source: string, recipePath: string = RECIPE_PATH): OhmModule.Grammar {
  if (existsSync(recipePath)) {
    try {
      const file = JSON.parse(readFileSync(recipePath, "utf8")) as Partial<GrammarRecipeFile>;
      if (file.source === source && typeof file.recipe === "string") return ohmRecipes.makeRecipe(file.recipe);
    } catch {
      // An unreadable recipe is only a missed shortcut: build from the text.
    }
  }
  return ohm.grammar(source);
}
