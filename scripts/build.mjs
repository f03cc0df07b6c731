#!/usr/bin/env node
// `npm run build` (and `prepack`): compile src/ to JavaScript + declarations
// in dist/, then write the grammar's Ohm recipe beside the parser so the
// built CLI starts without re-parsing grammar/circuits.ohm, and a stamp that
// tells bin/circuits.js the build is newer than the sources it came from.
import { execFileSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = `${root}dist`;
// The stamp goes first, so that bin/circuits.js runs the sources (tsx) while
// dist/ is half built; and all of dist/, so no module of a deleted source survives.
rmSync(`${dist}/BUILD_STAMP`, { force: true });
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", `${root}tsconfig.build.json`], { stdio: "inherit" });

// Files the sources read from beside themselves at run time (the report page's
// browser script and style sheet) are not TypeScript: tsc leaves them out.
for (const entry of readdirSync(`${root}src`, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !/\.(js|css)$/.test(entry.name)) continue;
  const rel = `${entry.parentPath}/${entry.name}`.slice(`${root}src/`.length);
  copyFileSync(`${root}src/${rel}`, `${dist}/${rel}`);
}

const { grammarRecipe, RECIPE_PATH } = await import(`${dist}/lang/grammarRecipe.js`);
writeFileSync(RECIPE_PATH, JSON.stringify(grammarRecipe(readFileSync(`${root}grammar/circuits.ohm`, "utf8"))));
writeFileSync(`${dist}/BUILD_STAMP`, `${new Date().toISOString()}\n`);
