/**
 * Hypotheses from a user's own file: a module (.ts, .mts, .js, .mjs) whose
 * exports include `Hypothesis` objects, or arrays of them. TypeScript is
 * loaded through tsx's programmatic import, so it works from the built
 * JavaScript as well as under tsx. Every way a file can be wrong is a
 * `HypothesisFileError` with one line naming the file and the export.
 */
import { existsSync, statSync } from "node:fs";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { SomeHypothesis } from "./hypothesis.ts";
import { CircuitsError } from "../errors.ts";

/** A user's hypothesis file is missing, does not import, or exports something malformed. */
export class HypothesisFileError extends CircuitsError {
  override name = "HypothesisFileError";
  readonly kind = "data";
}

const TS_EXTENSIONS = new Set([".ts", ".mts", ".cts"]);
const JS_EXTENSIONS = new Set([".js", ".mjs", ".cjs"]);
const EXPECTED = new Set(["holds", "fails", "open"]);

/**
 * An error's message on one line: import failures from esbuild or node span
 * many. esbuild heads its list with "Transform failed with 1 error:", so a
 * first line ending in a colon is joined with the next, which says where.
 */
function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length === 0) return "unknown error";
  return lines[0]!.endsWith(":") && lines.length > 1 ? `${lines[0]} ${lines[1]}` : lines[0]!;
}

/** Import the module at `path` (TypeScript through tsx). */
async function importModule(path: string): Promise<Record<string, unknown>> {
  const abs = resolve(path);
  const ext = extname(abs);
  if (!existsSync(abs)) throw new HypothesisFileError(`${path}: no such file`);
  if (!statSync(abs).isFile()) throw new HypothesisFileError(`${path}: not a file`);
  if (!TS_EXTENSIONS.has(ext) && !JS_EXTENSIONS.has(ext)) {
    throw new HypothesisFileError(`${path}: expected a .ts, .mts, .js or .mjs module, not '${ext || "no extension"}'`);
  }
  const url = pathToFileURL(abs).href;
  try {
    if (TS_EXTENSIONS.has(ext)) {
      // Loaded only for TypeScript files: the built CLI does not otherwise need tsx.
      const { tsImport } = await import("tsx/esm/api");
      return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    }
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw new HypothesisFileError(`${path}: cannot import: ${firstLine(e)}`);
  }
}

/**
 * The module's exports as written. A .ts file outside a "type": "module"
 * package is compiled to CommonJS, and its namespace then holds the whole
 * exports object (with `__esModule`) under `default`: unwrap it, so that
 * `export default h` is still called 'default'.
 */
function exportsOf(mod: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const d = mod.default as Record<string, unknown> | undefined;
  if (typeof d !== "object" || d === null || d.__esModule !== true) return mod;
  return Object.fromEntries(Object.entries(d).filter(([k]) => k !== "__esModule"));
}

/** Whether a value is meant as a hypothesis: an object with a `check` or `cases`. */
function looksLikeHypothesis(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && ("check" in v || "cases" in v);
}

/** What is wrong with a would-be hypothesis, or null when it has the shape of `Hypothesis`. */
function shapeError(h: Record<string, unknown>): string | null {
  if (typeof h.name !== "string" || h.name.trim() === "") return "name must be a non-empty string";
  if (/\s/.test(h.name)) return `name '${h.name}' must not contain spaces (it is typed on the command line)`;
  if (typeof h.statement !== "string") return "statement must be a string";
  if (typeof h.expected !== "string" || !EXPECTED.has(h.expected)) return `expected must be "holds", "fails" or "open"`;
  const c = h.cases as Record<string, unknown> | null;
  // fast-check itself recognises an arbitrary by these members, so any copy of fast-check will do.
  if (typeof c !== "object" || c === null || typeof c.generate !== "function" || typeof c.shrink !== "function" || typeof c.canShrinkWithoutContext !== "function") {
    return "cases must be a fast-check arbitrary";
  }
  if (typeof h.check !== "function") return "check must be a function (case) => true | false | reason";
  if (typeof h.show !== "function") return "show must be a function (case) => text";
  if (h.exhaustiveCase !== undefined && typeof h.exhaustiveCase !== "function") return "exhaustiveCase must be a function ({source, program, prompt}) => case";
  return null;
}

/** The hypotheses among a module's exports, in export order; throws on a malformed one. */
export function hypothesesOf(path: string, mod: Readonly<Record<string, unknown>>): SomeHypothesis[] {
  const found: SomeHypothesis[] = [];
  const owner = new Map<string, string>();
  const seen = new Set<unknown>();
  const take = (exportName: string, v: Record<string, unknown>) => {
    // The same object exported twice (alone and in a list) is one hypothesis.
    if (seen.has(v)) return;
    seen.add(v);
    const problem = shapeError(v);
    if (problem) throw new HypothesisFileError(`${path}: export '${exportName}': ${problem}`);
    const h = v as unknown as SomeHypothesis;
    const other = owner.get(h.name);
    if (other !== undefined) throw new HypothesisFileError(`${path}: export '${exportName}': name '${h.name}' is also used by export '${other}'`);
    owner.set(h.name, exportName);
    found.push(h);
  };
  for (const [exportName, v] of Object.entries(exportsOf(mod))) {
    if (looksLikeHypothesis(v)) take(exportName, v);
    else if (Array.isArray(v) && v.some(looksLikeHypothesis)) {
      v.forEach((item, i) => {
        const label = `${exportName}[${i}]`;
        if (!looksLikeHypothesis(item)) throw new HypothesisFileError(`${path}: export '${label}': not a hypothesis (needs name, statement, expected, cases, check, show)`);
        take(label, item);
      });
    }
  }
  if (found.length === 0) {
    throw new HypothesisFileError(`${path}: exports no hypothesis (an object with name, statement, expected, cases, check, show)`);
  }
  return found;
}

/** Import a user's hypothesis file and return its hypotheses. */
export async function loadHypothesisFile(path: string): Promise<SomeHypothesis[]> {
  return hypothesesOf(path, await importModule(path));
}
