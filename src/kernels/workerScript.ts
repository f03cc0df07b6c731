/**
 * Where a worker thread finds one of this package's modules: run from the
 * TypeScript sources (tsx, vitest, the bench) it loads the .ts file through
 * tsx; run from the built package (dist/) it loads the .js file with plain
 * Node (no transpiling per worker).
 */
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/** A module as a worker entry point. */
export interface WorkerScript {
  readonly url: string;
  /** Flags for a worker that loads `url` as its file (piscina's): tsx's loader from the sources, none from dist/. */
  readonly execArgv?: string[];
  /** Source of an `eval: true` worker that loads the module (no flags needed). */
  readonly bootstrap: string;
}

/** The module `name` (a path without extension, relative to `base`) as a worker entry point. */
export function workerScript(base: string, name: string): WorkerScript {
  const fromSource = base.endsWith(".ts");
  const url = new URL(`${name}${fromSource ? ".ts" : ".js"}`, base).href;
  if (!fromSource) return { url, bootstrap: `import(${JSON.stringify(url)})` };
  // Under Node 20 a worker's import() of a .ts file fails even with tsx's loader in its flags
  // (ERR_UNKNOWN_FILE_EXTENSION), while tsx's require hook, registered inside the worker, works.
  const require = createRequire(import.meta.url);
  const loader = require.resolve("tsx");
  return {
    url,
    execArgv: ["--import", pathToFileURL(loader).href],
    bootstrap: `require(${JSON.stringify(require.resolve("tsx/cjs"))}); require(${JSON.stringify(fileURLToPath(url))})`,
  };
}
