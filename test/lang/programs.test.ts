/**
 * The example programs: each parses and checks, and its composition graph is
 * the one its header comment describes.
 */
import { describe, expect, it } from "vitest";
import { parse } from "../../src/lang/parse.ts";
import type { CompositionEdge } from "../../src/lang/program.ts";
import { loadProgram, programNames, programSource } from "../support/programs.ts";

/** Composition edges read off each header comment by hand. */
const EXPECTED: Record<string, { edges: CompositionEdge[]; beyondInduction: string[]; heads: string[][]; output: string }> = {
  induction: {
    edges: [{ from: "previous", to: "induction", kind: "K", feature: "prev" }],
    beyondInduction: [],
    heads: [["previous"], ["induction"]],
    output: "next",
  },
  "induction-earliest": {
    edges: [{ from: "previous", to: "induction", kind: "K", feature: "prev" }],
    beyondInduction: [],
    heads: [["previous"], ["induction"]],
    output: "next",
  },
  "previous-token": { edges: [], beyondInduction: [], heads: [["previous"]], output: "prev" },
  "v-composition": {
    edges: [{ from: "previous", to: "back", kind: "V", feature: "prev" }],
    beyondInduction: [],
    heads: [["previous"], ["back"]],
    output: "prev3",
  },
  "duplicate-token": {
    edges: [{ from: "previous", to: "duplicate", kind: "V", feature: "prev" }],
    beyondInduction: [],
    heads: [["previous"], ["duplicate"]],
    output: "before",
  },
  "every-average": {
    edges: [{ from: "previous", to: "successors", kind: "K", feature: "prev" }],
    beyondInduction: [],
    heads: [["previous"], ["successors"]],
    output: "next",
  },
  "q-composition": {
    edges: [{ from: "seen", to: "after", kind: "Q", feature: "seen" }],
    beyondInduction: ["after"],
    heads: [["seen"], ["after"]],
    output: "next",
  },
  "bigram-induction": {
    edges: [
      { from: "previous", to: "induction", kind: "K", feature: "prev" },
      { from: "previous2", to: "induction", kind: "K", feature: "prev2" },
      { from: "previous", to: "induction", kind: "Q", feature: "prev" },
    ],
    beyondInduction: [],
    heads: [["previous", "previous2"], ["induction"]],
    output: "next",
  },
};

const key = (e: CompositionEdge) => `${e.from}→${e.to} ${e.kind} ${e.feature}`;

/**
 * The composition kinds a header comment claims: the single letters K, Q, V in
 * its "Composition: …" sentence (none for "Composition: none"), or the X in
 * "through X-composition".
 */
function headerKinds(text: string): Set<string> | null {
  const header = text
    .split("\n")
    .filter((l) => l.startsWith("#"))
    .map((l) => l.replace(/^#\s?/, ""))
    .join(" ");
  const sentence = /Composition:\s*([^.]*)/.exec(header);
  if (sentence) return new Set(sentence[1]!.match(/\b[KQV]\b/g) ?? []);
  const through = /through ([KQV])-composition/.exec(header);
  return through ? new Set([through[1]!]) : null;
}

describe("example programs", () => {
  it("are exactly the ones this test knows", () => {
    expect(programNames()).toEqual(Object.keys(EXPECTED).sort());
  });

  describe.each(programNames())("%s", (name) => {
    const want = EXPECTED[name]!;

    it("parses and checks", () => {
      expect(() => parse(programSource(name))).not.toThrow();
      const program = loadProgram(name);
      expect(program.layers.map((l) => l.map((h) => h.name))).toEqual(want.heads);
      expect(program.output).toBe(want.output);
      expect(program.features.get(program.output)!.domain).toBe("token");
    });

    it("has the composition graph its header describes", () => {
      const program = loadProgram(name);
      expect(program.composition.map(key).sort()).toEqual(want.edges.map(key).sort());
      expect([...program.beyondInduction]).toEqual(want.beyondInduction);
      const claimed = headerKinds(programSource(name).text);
      expect(claimed, "the header names its composition").not.toBeNull();
      expect([...claimed!].sort()).toEqual([...new Set(program.composition.map((e) => e.kind))].sort());
    });
  });

  it("records what the checker resolves: sides, shifts, domains and distributions", () => {
    const q = loadProgram("q-composition");
    const after = q.layers[1]![0]!;
    expect(after.select).toEqual({
      kind: "match",
      rule: "latest",
      strict: false,
      conditions: [{ key: "pos", query: "seen", shift: 1 }],
    });
    expect(q.features.get("seen")).toMatchObject({ domain: "pos", distribution: false, layer: 1, head: "seen" });

    const every = loadProgram("every-average");
    expect(every.features.get("next")).toMatchObject({ domain: "token", distribution: true, layer: 2, head: "successors" });
    expect(every.features.get("prev")).toMatchObject({ domain: "token", distribution: false, layer: 1 });

    const bigram = loadProgram("bigram-induction");
    expect(bigram.layers[1]![0]!.select).toMatchObject({
      conditions: [
        { key: "prev", query: "token", shift: 0 },
        { key: "prev2", query: "prev", shift: 0 },
      ],
    });
    expect([...bigram.features.keys()]).toEqual(["token", "pos", "prev", "prev2", "next"]);
    expect(bigram.vocab).toEqual(["a", "b", "c", "d"]);
    expect(bigram.context).toBe(64);
  });
});
