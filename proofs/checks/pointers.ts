/**
 * Checks behind Theorem 7's collapse half (proofs/07-pointers.md): random
 * pointer programs, greedy trajectories keyed by `pointerStateKey`, the walk
 * to the first repeated state, and the computable bound on the states.
 */
import fc from "fast-check";
import { load } from "../../src/lang/check.ts";
import type { Program } from "../../src/lang/program.ts";
import { type Cycle, minimalCycle } from "../../src/generate/cycles.ts";
import { SymbolicRun } from "../../src/semantics/interpret.ts";
import { type PointerShape, pointerObstacle, pointerShape, pointerStateKey } from "../../src/semantics/pointerState.ts";
import { mode } from "../../src/semantics/values.ts";

/** One head of a random pointer program, as independent picks resolved against what earlier layers wrote. */
interface HeadPick {
  readonly kind: "offset" | "table" | "deref";
  readonly k: number;
  readonly rule: "latest" | "earliest";
  readonly strict: boolean;
  readonly key: number;
  readonly query: number;
  readonly ptr: number;
  readonly shift: number;
  readonly extra: boolean;
  readonly copyTok: number;
  readonly copyPos: boolean;
}

const headPick: fc.Arbitrary<HeadPick> = fc.record({
  kind: fc.constantFrom("offset", "table", "deref"),
  k: fc.integer({ min: 1, max: 2 }),
  rule: fc.constantFrom("latest", "earliest"),
  strict: fc.boolean(),
  key: fc.nat(9),
  query: fc.nat(9),
  ptr: fc.nat(9),
  shift: fc.integer({ min: -2, max: 2 }),
  extra: fc.boolean(),
  copyTok: fc.nat(9),
  copyPos: fc.boolean(),
});

/** Source text of a pointer program from picks: 2–3 layers, 1–2 heads each, V = 2 or 3. */
function render(V: number, layers: readonly (readonly HeadPick[])[]): string {
  const toks = ["token"];
  const ptrs = ["pos"];
  const lines = [`vocab ${["a", "b", "c"].slice(0, V).join(" ")}`, "context 64"];
  let n = 0;
  let lastTok = "token";
  layers.forEach((heads, l) => {
    lines.push(`layer ${l + 1}`);
    const newToks: string[] = [];
    const newPtrs: string[] = [];
    heads.forEach((p, h) => {
      const pick = (xs: readonly string[], k: number) => xs[k % xs.length]!;
      const copyT = pick(toks, p.copyTok);
      const out = `t${++n}`;
      const copies = [`${copyT}[j] as ${out}`];
      newToks.push(out);
      if (p.copyPos) {
        copies.push(`pos[j] as p${n}`);
        newPtrs.push(`p${n}`);
      }
      const bound = p.strict ? "<" : "<=";
      let select: string;
      if (p.kind === "offset") select = `select j = i - ${p.k}`;
      else if (p.kind === "table") select = `select ${p.rule} j ${bound} i where ${pick(toks, p.key)}[j] == ${pick(toks, p.query)}[i]`;
      else {
        const sh = p.shift > 0 ? ` + ${p.shift}` : p.shift < 0 ? ` - ${-p.shift}` : "";
        const extra = p.extra ? ` and ${pick(toks, p.key)}[j] == ${pick(toks, p.query)}[i]` : "";
        select = `select ${p.rule} j ${bound} i where pos[j] == ${pick(ptrs, p.ptr)}[i]${sh}${extra}`;
      }
      lines.push(`  head h${l + 1}_${h}: ${select}; copy ${copies.join(", ")}`);
      lastTok = out;
    });
    toks.push(...newToks);
    ptrs.push(...newPtrs);
  });
  lines.push(`output ${lastTok}`, "");
  return lines.join("\n");
}

/** Random pointer programs (class P): each loads, and `pointerObstacle` finds nothing. */
export const arbPointerProgram: fc.Arbitrary<{ source: string; program: Program }> = fc
  .record({
    V: fc.integer({ min: 2, max: 3 }),
    layers: fc.array(fc.array(headPick, { minLength: 1, maxLength: 2 }), { minLength: 2, maxLength: 3 }),
  })
  .map(({ V, layers }) => {
    const source = render(V, layers);
    const program = load({ path: "pointer", text: source });
    const why = pointerObstacle(program);
    if (why) throw new Error(`generated program is not a pointer program: ${why}\n${source}`);
    return { source, program };
  });

/** Greedy steps with the state key before each, on an unbounded-context copy (⊥ emits token 0). */
export function pointerTrajectory(
  program: Program, prompt: readonly number[], steps: number, key: (run: SymbolicRun, shape: PointerShape) => string = pointerStateKey,
): { keys: string[]; emitted: number[] } {
  const shape = pointerShape(program);
  const run = new SymbolicRun({ ...program, context: prompt.length + steps + 2 });
  for (const t of prompt) run.push(t);
  const keys: string[] = [];
  const emitted: number[] = [];
  for (let s = 0; s < steps; s++) {
    keys.push(key(run, shape));
    const next = mode(run.prediction(run.length - 1)) ?? 0;
    emitted.push(next);
    run.push(next);
  }
  return { keys, emitted };
}

/** Pairs (step in a, step in b) with equal keys whose next `n` tokens differ: counterexamples to the lemma. */
export function lemmaBreaks(a: { keys: string[]; emitted: number[] }, b: { keys: string[]; emitted: number[] }): { merges: number; breaks: [number, number][] } {
  const at = new Map(a.keys.map((k, s) => [k, s] as const));
  const breaks: [number, number][] = [];
  let merges = 0;
  b.keys.forEach((k, sb) => {
    const sa = at.get(k);
    if (sa === undefined) return;
    merges++;
    const n = Math.min(a.keys.length - sa, b.keys.length - sb);
    if (a.emitted.slice(sa, sa + n).join() !== b.emitted.slice(sb, sb + n).join()) breaks.push([sa, sb]);
  });
  return { merges, breaks };
}

/** Theorem 7's bound (V+1)^{W·F} · Π_h (1 + R + (V+1)^{F(2R+1)})^{V^{c_h}} on the number of states, exactly. */
export function pointerStateBound(program: Program): bigint {
  const shape = pointerShape(program);
  const V = BigInt(program.vocab.length);
  const F = BigInt([...program.features.values()].filter((f) => f.domain !== "pos").length);
  const R = BigInt(shape.reach);
  let bound = (V + 1n) ** (BigInt(shape.window) * F);
  for (const name of shape.tables) {
    const h = program.layers.flat().find((x) => x.name === name)!;
    const c = h.select.kind === "match" ? h.select.conditions.length : 0;
    bound *= (1n + R + (V + 1n) ** (F * (2n * R + 1n))) ** (V ** BigInt(c));
  }
  return bound;
}

/** Greedy generation until the pointer state repeats: the proved cycle, the tokens, the states visited. */
export function pointerLoop(program: Program, prompt: readonly number[], maxSteps = 4096): { cycle: Cycle; emitted: number[]; states: number } {
  const shape = pointerShape(program);
  const run = new SymbolicRun({ ...program, context: prompt.length + maxSteps + 2 });
  for (const t of prompt) run.push(t);
  const seen = new Map<string, number>();
  const emitted: number[] = [];
  for (let step = 0; step < maxSteps; step++) {
    const key = pointerStateKey(run, shape);
    const first = seen.get(key);
    emitted.push(mode(run.prediction(run.length - 1)) ?? 0);
    if (first !== undefined) return { cycle: minimalCycle(emitted, first, step - first), emitted, states: seen.size };
    seen.set(key, step);
    run.push(emitted[step]!);
  }
  throw new Error(`pointerLoop: no state repeated within ${maxSteps} steps`);
}
