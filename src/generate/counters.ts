/**
 * Two-counter (Minsky) machines run by greedy generation of a 3-layer
 * program of positional, `earliest` and `every` heads (proofs/08).
 *
 * The program U has no token literals, so everything machine-specific is in
 * the prompt: a table of four maps per token (H1, H2 on the key side, G1, G2
 * on the query side), read by `earliest` lookups, and a list of records
 * (key pair ↦ token) for one `every` head. That head's multiset under a
 * counter's key holds one P per increment and one Z per decrement; its mode
 * (ties to the lower index, and Z < P) is Z exactly when the counter is 0 —
 * the zero test. Every other key the head reads holds one record, so there
 * the mode is the next control token.
 */
import { load } from "../lang/check.ts";
import { printHead, printVocab } from "../lang/print.ts";
import type { Head, Program } from "../lang/program.ts";

/** One instruction of a two-counter machine; counters are 0 and 1, states 0 … n−1. */
export type Instruction =
  | { readonly op: "inc"; readonly counter: 0 | 1; readonly next: number }
  | { readonly op: "jzdec"; readonly counter: 0 | 1; readonly zero: number; readonly nonzero: number }
  | { readonly op: "halt" };

/** A machine: instruction q is run in state q; it starts in state 0 with both counters 0. */
export type CounterMachine = readonly Instruction[];

export interface MachineRun {
  /** States visited, from state 0 (the halting state last if it halted). */
  readonly states: number[];
  /** Counter values before each visited state's instruction. */
  readonly counters: [number, number][];
  readonly halted: boolean;
}

/** Run a machine directly for at most `steps` instructions. */
export function runMachine(m: CounterMachine, steps: number): MachineRun {
  let q = 0;
  const c: [number, number] = [0, 0];
  const states: number[] = [];
  const counters: [number, number][] = [];
  for (let s = 0; s <= steps; s++) {
    states.push(q);
    counters.push([c[0], c[1]]);
    const ins = m[q]!;
    if (ins.op === "halt") return { states, counters, halted: true };
    if (s === steps) break;
    if (ins.op === "inc") {
      c[ins.counter]++;
      q = ins.next;
    } else if (c[ins.counter] === 0) q = ins.zero;
    else {
      c[ins.counter]--;
      q = ins.nonzero;
    }
  }
  return { states, counters, halted: false };
}

const NO_SPAN = { start: 0, end: 0 } as const;

function offset(name: string, k: number, to: string): Head {
  return { name, layer: 1, select: { kind: "offset", k }, copies: [{ from: "token", to }], span: NO_SPAN };
}

/**
 * The map lookup `earliest j <= i where lag{d+1}[j] == first[i] and lag{d}[j] == arg[i]; copy token[j]`:
 * in a table row `N t h1 h2 g1 g2` (N the prompt's first token) the token d places after t.
 */
function mapHead(name: string, d: number, arg: string, to: string): Head {
  return {
    name,
    layer: 2,
    select: {
      kind: "match",
      rule: "earliest",
      strict: false,
      conditions: [
        { key: `lag${d + 1}`, query: "first", shift: 0 },
        { key: `lag${d}`, query: arg, shift: 0 },
      ],
    },
    copies: [{ from: "token", to }],
    span: NO_SPAN,
  };
}

/** The program U over a vocabulary (its shape does not depend on the machine). */
export function counterProgram(vocab: readonly string[], context: number): Program {
  const layers: Head[][] = [
    [
      ...[1, 2, 3, 4, 5].map((d) => offset(`lag${d}`, d, `lag${d}`)),
      { name: "first", layer: 1, select: { kind: "match", rule: "earliest", strict: false, conditions: [] }, copies: [{ from: "token", to: "first" }], span: NO_SPAN },
    ],
    [
      // Key side at j: H1 of s[j−1] and H2 of s[j−2]; query side at i: G1 of s[i] and G2 of s[i−1].
      mapHead("h1", 1, "lag1", "h1"),
      mapHead("h2", 2, "lag2", "h2"),
      mapHead("g1", 3, "token", "g1"),
      mapHead("g2", 4, "lag1", "g2"),
    ],
    [
      {
        name: "records",
        layer: 3,
        select: {
          kind: "match",
          rule: "every",
          strict: false,
          conditions: [
            { key: "h1", query: "g1", shift: 0 },
            { key: "h2", query: "g2", shift: 0 },
          ],
        },
        copies: [{ from: "token", to: "next" }],
        span: NO_SPAN,
      },
    ],
  ];
  const lines = [`vocab ${printVocab(vocab)}`, `context ${context}`];
  layers.forEach((heads, l) => {
    lines.push("", `layer ${l + 1}`);
    for (const h of heads) lines.push(`  ${printHead(h)}`);
  });
  lines.push("", "output next", "");
  return load({ path: "<two-counter program>", text: lines.join("\n") });
}

/** A machine's prompt for U, its vocabulary, and the token names generation should emit. */
export interface MachineEncoding {
  readonly vocab: readonly string[];
  /** Vocabulary indices. */
  readonly prompt: readonly number[];
  /** The tokens greedy generation emits for a run, as names (the expansion of each instruction). */
  expand(run: MachineRun): string[];
}

/**
 * The prompt π(M). Vocabulary: `H` (index 0, never emitted by a running
 * machine), then `Z` < `P`, the states `q0 …`, per state its instruction
 * tokens (`a{q}` increment, `t{q}` test, `d{q}` decrement), key-only tokens
 * (`U`, `C0`, `C1`, `_`), aliases for the records (`x_{k}`, `y_{k}`) and
 * the separators `N` (map rows) and `S` (records).
 */
export function encodeMachine(m: CounterMachine): MachineEncoding {
  const q = (s: number) => `q${s}`;
  const C = (c: 0 | 1) => `C${c}`;
  const vocab: string[] = ["H", "Z", "P"];
  m.forEach((_, s) => vocab.push(q(s)));
  m.forEach((ins, s) => {
    if (ins.op === "inc") vocab.push(`a${s}`);
    if (ins.op === "jzdec") vocab.push(`t${s}`, `d${s}`);
  });
  vocab.push("U", "C0", "C1", "_", "N", "S");

  // Maps (H1, H2, G1, G2) per token; a token without a row maps to ⊥.
  const rows: [string, string, string, string, string][] = [];
  rows.push(["Z", "_", "_", "Z", "U"], ["P", "_", "U", "P", "U"]);
  m.forEach((ins, s) => {
    rows.push([q(s), "_", "U", q(s), "U"]);
    if (ins.op === "inc") rows.push([`a${s}`, C(ins.counter), "_", `a${s}`, `a${s}`]);
    if (ins.op === "jzdec") rows.push([`t${s}`, "_", "_", C(ins.counter), `t${s}`], [`d${s}`, C(ins.counter), "_", `d${s}`, `d${s}`]);
  });

  // Records (k1, k2) ↦ v of the every head.
  const records: [string, string, string][] = [];
  m.forEach((ins, s) => {
    if (ins.op === "inc") records.push([q(s), "U", `a${s}`], [`a${s}`, "U", "P"], ["P", `a${s}`, q(ins.next)]);
    if (ins.op === "jzdec") {
      records.push([q(s), "U", `t${s}`], ["Z", `t${s}`, q(ins.zero)], ["P", `t${s}`, `d${s}`], [`d${s}`, "U", "Z"], ["Z", `d${s}`, q(ins.nonzero)]);
    }
  });
  for (const c of [0, 1] as const) records.push([C(c), "U", "Z"], [C(c), "U", "P"]); // both counters start at 0

  // One alias per key component: H1(x_k) = k, H2(y_k) = k, and ⊥-like "_" elsewhere.
  const k1s = [...new Set(records.map((r) => r[0]))];
  const k2s = [...new Set(records.map((r) => r[1]))];
  for (const k of k1s) {
    vocab.push(`x_${k}`);
    rows.push([`x_${k}`, k, "_", "_", "_"]);
  }
  for (const k of k2s) {
    vocab.push(`y_${k}`);
    rows.push([`y_${k}`, "_", k, "_", "_"]);
  }

  const names: string[] = [];
  for (const r of rows) names.push("N", ...r);
  for (const [k1, k2, v] of records) names.push("S", `y_${k2}`, `x_${k1}`, v);
  names.push("S", "P", q(0)); // the start: state 0 after a token whose G2 is U
  const index = new Map(vocab.map((t, k) => [t, k]));
  const prompt = names.map((t) => index.get(t)!);

  const expand = (run: MachineRun): string[] => {
    const out: string[] = [];
    for (let k = 0; k + 1 < run.states.length; k++) {
      const s = run.states[k]!;
      const ins = m[s]!;
      if (ins.op === "inc") out.push(`a${s}`, "P", q(run.states[k + 1]!));
      else if (ins.op === "jzdec") {
        if (run.counters[k]![ins.counter] === 0) out.push(`t${s}`, "Z", q(run.states[k + 1]!));
        else out.push(`t${s}`, "P", `d${s}`, "Z", q(run.states[k + 1]!));
      }
    }
    return out;
  };
  return { vocab, prompt, expand };
}
