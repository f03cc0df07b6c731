/**
 * Program families: mutations of real programs (the examples and generated
 * ones) and random token soup, run through the library — parse and check,
 * and for programs that load, the reference semantics on a random input,
 * the size estimate, compilation and a compiled-vs-symbolic comparison.
 */
import fc from "fast-check";
import { readdirSync, readFileSync } from "node:fs";
import { CompileError, compile } from "../src/compiler/compile.ts";
import { estimateSize, sizeProblem } from "../src/compiler/size.ts";
import { arbProgram } from "../src/hypothesis/arbitrary.ts";
import { load } from "../src/lang/check.ts";
import { ProgramError } from "../src/lang/diagnostics.ts";
import { interpret } from "../src/semantics/interpret.ts";
import { mulberry32 } from "../src/sim/random.ts";
import { compareSequence } from "../src/verify/check.ts";
import { cleanMessage, type Finding, LIMITS, shorten } from "./outcome.ts";

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);

const SNIPPETS = [
  "vocab", "context", "layer", "head", "select", "latest", "earliest", "every", "where", "and", "copy", "as", "output",
  "j", "i", "=", "==", "<", "<=", "-", "+", ";", ",", ":", "[j]", "[i]", "..", "token", "pos", "prev", "next",
  "0", "1", "7", "64", "8192", "8193", "99999999999999999999", "9".repeat(400), "-1", "\n", "  ", "\t", "# comment\n",
  "\u0000", "\uFEFF", "\u001b[31m", "\u007f", "\u0085", "\u2028", "é", "名", "\r\n", "x".repeat(300), "'",
  "select j = i - 1", "select latest j < i where prev[j] == token[i]", "pos[j] == pos[i] + 3", "copy token[j] as f",
  "layer 1", "layer 2", "layer 99", "head h:", "output next",
];

/** The example programs' sources plus `n` generated ones (seeded). */
export function seedCorpus(seed: number, n: number): string[] {
  const dir = new URL("../programs/", import.meta.url);
  const examples = readdirSync(dir).filter((f) => f.endsWith(".circ")).map((f) => readFileSync(new URL(f, dir), "utf8"));
  const generated = fc.sample(arbProgram(), { seed, numRuns: n }).map((g) => g.source);
  return [...examples, ...generated];
}

/** One to four random edits of `text`: deletions, insertions, duplicated or swapped lines, numbers and bytes replaced. */
export function mutate(text: string, rng: Rng): string {
  let t = text;
  const edits = 1 + int(rng, 4);
  for (let e = 0; e < edits; e++) {
    const at = int(rng, t.length + 1);
    switch (int(rng, 7)) {
      case 0:
        t = t.slice(0, at) + t.slice(at + 1 + int(rng, 10));
        break;
      case 1:
        t = `${t.slice(0, at)}${pick(rng, SNIPPETS)}${t.slice(at)}`;
        break;
      case 2: {
        const lines = t.split("\n");
        const k = int(rng, lines.length);
        lines.splice(k, 0, lines[k]!);
        t = lines.join("\n");
        break;
      }
      case 3: {
        const lines = t.split("\n");
        const a = int(rng, lines.length);
        const b = int(rng, lines.length);
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        t = lines.join("\n");
        break;
      }
      case 4:
        t = t.replace(/\d+/, () => pick(rng, ["0", "1", "2", "4095", "4097", "8192", "9007199254740993", "1".repeat(30)]));
        break;
      case 5:
        t = `${t.slice(0, at)}${String.fromCharCode(int(rng, 256))}${t.slice(at + 1)}`;
        break;
      default:
        t = `${t.slice(0, at)} ${pick(rng, SNIPPETS)} ${pick(rng, SNIPPETS)} ${t.slice(at)}`;
    }
  }
  return t;
}

/** Random token soup: 5–60 snippets joined by blanks. */
export function soup(rng: Rng): string {
  const n = 5 + int(rng, 56);
  return Array.from({ length: n }, () => pick(rng, SNIPPETS)).join(pick(rng, [" ", "\n", " \n  "]));
}

/** Most parameters a fuzz case compiles (bigger programs are only sized): keeps cases fast. */
const COMPILE_BUDGET = 2_000_000;

/** Run one program through the library; returns the findings (empty when it was accepted or refused cleanly). */
export function runProgramCase(family: string, text: string, seed: number): { findings: Finding[]; ms: number } {
  const findings: Finding[] = [];
  // CPU time, not wall time: the machine is shared, and a hang is work, not waiting.
  const t0 = process.cpuUsage();
  const input = shorten(text);
  try {
    const program = load({ path: "fuzz.circ", text });
    const rng = mulberry32(seed);
    const len = int(rng, Math.min(program.context - 1, 12) + 1);
    const tokens = Array.from({ length: len }, () => int(rng, program.vocab.length));
    interpret(program, tokens);
    const est = estimateSize(program);
    if (sizeProblem(program, est) === null && est.parameters <= COMPILE_BUDGET) {
      const model = compile(program);
      const d = compareSequence(model, tokens);
      if (d) {
        // A one-token vocabulary is the lead's defect 2; any other disagreement is a real finding.
        findings.push({ family, kind: "silent", ...(program.vocab.length === 1 ? { defect: 2 } : {}), detail: `compiled and symbolic disagree at position ${d.position} (${d.feature})`, input });
      }
    } else if (sizeProblem(program, est) !== null) {
      try {
        compile(program);
        findings.push({ family, kind: "silent", defect: 5, detail: "compile accepted a program the estimate refuses", input });
      } catch (e) {
        if (!(e instanceof CompileError)) throw e;
      }
    }
  } catch (e) {
    if (e instanceof ProgramError || e instanceof CompileError) {
      if (!cleanMessage(e.message)) {
        findings.push({ family, kind: "silent", defect: e instanceof ProgramError ? 4 : 5, detail: `unbounded or raw message (${e.message.length} chars)`, input });
      }
    } else {
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      findings.push({ family, kind: "crash", detail: msg.slice(0, 300), input });
    }
  }
  const used = process.cpuUsage(t0);
  const ms = (used.user + used.system) / 1000;
  if (ms > LIMITS.caseMs) findings.push({ family, kind: "hang", detail: `${ms.toFixed(0)} ms CPU`, input });
  return { findings, ms };
}

/** The k-th input of a family, deterministic in (seed, k). */
export function programInput(family: "mutated" | "random", corpus: readonly string[], seed: number, k: number): string {
  const rng = mulberry32((seed * 0x9e3779b1 + k) >>> 0);
  return family === "mutated" ? mutate(pick(rng, corpus), rng) : soup(rng);
}
