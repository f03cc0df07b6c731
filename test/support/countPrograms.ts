/**
 * Programs with `count` heads for the semantics and compiler tests: a hand-written one and random
 * ones that count over layer-1 features in layer 3 and compare the counts with positions, with
 * other counts and with pointers in layer 4.
 */
import fc from "fast-check";
import { load } from "../../src/lang/check.ts";
import type { Program } from "../../src/lang/program.ts";

/** Three counts: every position, occurrences of the current token, earlier repeats of the (previous, current) pair. */
export const COUNTS = `vocab a b c
context 32
layer 1
  head lag: select j = i - 1; copy token[j] as prev
layer 2
  head same: select j = i; copy token[j] as tok
layer 3
  head all: select count j <= i; copy pos[j] as n
  head seen: select count j <= i where token[j] == token[i]; copy pos[j] as k, token[j] as kth
  head pairs: select count j < i where prev[j] == prev[i] and token[j] == token[i]; copy pos[j] as r
output kth
`;

/** Random programs with counts in layer 3 (over layer-1 features) and heads reading them in layer 4. */
export const arbCountProgram: fc.Arbitrary<{ source: string; program: Program }> = fc
  .record({
    V: fc.integer({ min: 2, max: 3 }),
    pointer: fc.boolean(),
    counts: fc.array(
      fc.record({ strict: fc.boolean(), conds: fc.subarray([0, 1, 2, 3], { maxLength: 2 }), copyTok: fc.boolean() }),
      { minLength: 1, maxLength: 2 },
    ),
    use: fc.record({ kind: fc.constantFrom("pos", "count", "pointer"), shift: fc.integer({ min: -2, max: 2 }), rule: fc.constantFrom("latest", "earliest") }),
  })
  .map(({ V, pointer, counts, use }) => {
    const lines = [`vocab ${["a", "b", "c"].slice(0, V).join(" ")}`, "context 32", "layer 1", "  head lag: select j = i - 1; copy token[j] as prev"];
    if (pointer) lines.push("  head back: select latest j < i where token[j] == token[i]; copy pos[j] as at");
    lines.push("layer 2", "  head same: select j = i; copy token[j] as tok", "layer 3");
    const condText = ["prev[j] == token[i]", "token[j] == prev[i]", "token[j] == token[i]", pointer ? "pos[j] == at[i] + 1" : "prev[j] == prev[i]"];
    counts.forEach((c, n) => {
      const where = c.conds.length ? ` where ${c.conds.map((k) => condText[k]).join(" and ")}` : "";
      lines.push(`  head c${n}: select count j ${c.strict ? "<" : "<="} i${where}; copy pos[j] as n${n}${c.copyTok ? `, token[j] as t${n}` : ""}`);
    });
    const sh = use.shift > 0 ? ` + ${use.shift}` : use.shift < 0 ? ` - ${-use.shift}` : "";
    const cond =
      use.kind === "pos" ? `pos[j] == n0[i]${sh}` : use.kind === "count" ? `n0[j] == n${counts.length - 1}[i]${sh}` : pointer ? `n0[j] == at[i]${sh}` : `pos[j] == n0[i]${sh}`;
    lines.push("layer 4", `  head use: select ${use.rule} j <= i where ${cond}; copy token[j] as out`, "output out", "");
    const source = lines.join("\n");
    return { source, program: load({ path: "count", text: source }) };
  });
