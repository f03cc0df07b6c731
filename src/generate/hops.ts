/**
 * The k-hop induction program H_k by pointer doubling (proofs/13). Layer 2
 * gives every position t the pointer find(t) — the position right after the
 * latest earlier occurrence of token[t] — and the token there. Each later
 * layer composes pointers by looking one up at the position another names
 * (`pos[j] == p[i]`), so hop counts double per layer and the binary digits
 * of k are added along the way: ⌈log₂ k⌉ + 2 layers in all.
 *
 * The program is built as values (heads, then printed and checked by
 * `load`), never by editing text.
 */
import { load } from "../lang/check.ts";
import { printHead, printVocab } from "../lang/print.ts";
import type { Head, Program } from "../lang/program.ts";

export interface HopOptions {
  readonly k: number;
  readonly vocab: readonly string[];
  readonly context: number;
}

/** Number of layers of H_k: ⌈log₂ k⌉ + 2. */
export function hopDepth(k: number): number {
  return Math.ceil(Math.log2(k)) + 2;
}

const NO_SPAN = { start: 0, end: 0 } as const;

/** A head that reads the pointer `via` at i and copies `copies` from the position it names. */
function lookup(name: string, layer: number, via: string, copies: readonly [string, string][]): Head {
  return {
    name,
    layer,
    // The pointer never exceeds i (find(t) ≤ t), so `j <= i` holds the one position named; `latest` is moot.
    select: { kind: "match", rule: "latest", strict: false, conditions: [{ key: "pos", query: via, shift: 0 }] },
    copies: copies.map(([from, to]) => ({ from, to })),
    span: NO_SPAN,
  };
}

/**
 * H_k as a checked program: its output `tok{k}` at position i is the token
 * at find^k(i), or ⊥ when the chain reaches 0 (no earlier occurrence).
 */
export function hopProgram(o: HopOptions): Program {
  const { k } = o;
  if (!Number.isInteger(k) || k < 1) throw new Error(`hop program: k must be a positive integer, got ${k}`);
  const top = Math.floor(Math.log2(k));
  const layers: Head[][] = [
    [{ name: "previous", layer: 1, select: { kind: "offset", k: 1 }, copies: [{ from: "token", to: "prev" }], span: NO_SPAN }],
    [
      {
        name: "find",
        layer: 2,
        select: { kind: "match", rule: "latest", strict: false, conditions: [{ key: "prev", query: "token", shift: 0 }] },
        copies: [
          { from: "pos", to: "hop1" },
          { from: "token", to: "tok1" },
        ],
        span: NO_SPAN,
      },
    ],
  ];
  const at = (layer: number): Head[] => (layers[layer - 1] ??= []);
  // Doubling: hop{2^m} = hop{2^(m-1)} ∘ hop{2^(m-1)}, in layer 2 + m.
  for (let m = 1; m <= top; m++) {
    const h = 2 ** (m - 1);
    at(2 + m).push(lookup(`double${2 * h}`, 2 + m, `hop${h}`, [[`hop${h}`, `hop${2 * h}`], [`tok${h}`, `tok${2 * h}`]]));
  }
  // The binary digits of k, lowest first: the lowest is a doubling feature itself; each
  // higher digit m is composed in layer 3 + m, after hop{2^m} and the running sum exist.
  let sum = 0;
  for (let m = 0; m <= top; m++) {
    if (((k >> m) & 1) === 0) continue;
    if (sum === 0) {
      sum = 2 ** m;
      continue;
    }
    const d = 2 ** m;
    at(3 + m).push(lookup(`compose${sum + d}`, 3 + m, `hop${sum}`, [[`hop${d}`, `hop${sum + d}`], [`tok${d}`, `tok${sum + d}`]]));
    sum += d;
  }
  const lines = [`# H_${k}: ${k}-hop induction by pointer doubling (proofs/13)`, `vocab ${printVocab(o.vocab)}`, `context ${o.context}`];
  layers.forEach((heads, l) => {
    lines.push("", `layer ${l + 1}`);
    for (const h of heads) lines.push(`  ${printHead(h)}`);
  });
  lines.push("", `output tok${k}`, "");
  return load({ path: `<hop ${k}>`, text: lines.join("\n") });
}
