/**
 * The example programs in programs/, loaded by name ("induction" →
 * programs/induction.circ). Loading is memoised: a checked Program is
 * immutable, so every test and stage may share one.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load } from "../../src/lang/check.ts";
import type { Source } from "../../src/lang/diagnostics.ts";
import type { Program } from "../../src/lang/program.ts";

/** The repository root (absolute, no trailing slash). */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** Absolute path of the programs/ folder. */
export const PROGRAMS_DIR = `${REPO_ROOT}/programs`;

/** Names (file names without `.circ`) of every example program, sorted. */
export function programNames(): string[] {
  return readdirSync(PROGRAMS_DIR)
    .filter((f) => f.endsWith(".circ"))
    .map((f) => f.slice(0, -".circ".length))
    .sort();
}

/** Absolute path of programs/NAME.circ. */
export function programPath(name: string): string {
  return `${PROGRAMS_DIR}/${name}.circ`;
}

/** The source of programs/NAME.circ, reported under its repository-relative path. */
export function programSource(name: string): Source {
  return { path: `programs/${name}.circ`, text: readFileSync(programPath(name), "utf8") };
}

const loaded = new Map<string, Program>();

/** Parse and check programs/NAME.circ (throws ProgramError if it has mistakes). */
export function loadProgram(name: string): Program {
  let p = loaded.get(name);
  if (!p) {
    p = load(programSource(name));
    loaded.set(name, p);
  }
  return p;
}

/** Load program text given inline (path defaults to "<inline>"). */
export function loadSource(text: string, path = "<inline>"): Program {
  return load({ path, text });
}

/** Everything the checker derived from a program, minus source spans: equal for programs that mean the same. */
export function canonical(p: Program) {
  return {
    vocab: p.vocab,
    context: p.context,
    output: p.output,
    layers: p.layers.map((hs) => hs.map((h) => ({ name: h.name, layer: h.layer, select: h.select, copies: h.copies }))),
    features: [...p.features.values()].map(({ name, domain, distribution, layer, head }) => ({ name, domain, distribution, layer, head })),
    composition: p.composition,
    beyondInduction: p.beyondInduction,
  };
}
