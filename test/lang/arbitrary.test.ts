/**
 * Random well-formed programs (src/hypothesis/arbitrary.ts) all load, and the
 * checker's Program is exactly what the generator meant: layers, heads,
 * normalised conditions, feature domains and distribution flags, composition.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { load } from "../../src/lang/check.ts";
import { parse } from "../../src/lang/parse.ts";
import { arbInput, arbProgram, type GeneratedProgram, renderSpec, specComposition } from "../../src/hypothesis/arbitrary.ts";
import { fcParams } from "../support/seed.ts";

const edgeKey = (e: { from: string; to: string; kind: string; feature: string }) => `${e.from}→${e.to} ${e.kind} ${e.feature}`;

describe("arbProgram", () => {
  it("every generated program loads and matches its spec", () => {
    fc.assert(
      fc.property(arbProgram(), ({ source, program, spec }) => {
        expect(program.vocab).toEqual(spec.vocab);
        expect(program.context).toBe(spec.context);
        expect(program.output).toBe(spec.output);
        expect(program.layers.map((l) => l.map((h) => h.name))).toEqual(spec.layers.map((l) => l.map((h) => h.name)));
        program.layers.flat().forEach((h, k) => {
          const g = spec.layers.flat()[k]!;
          expect(h.copies).toEqual(g.copies);
          if (g.select.kind === "offset") {
            expect(h.select).toEqual({ kind: "offset", k: g.select.k });
          } else {
            expect(h.select).toEqual({
              kind: "match",
              rule: g.select.rule,
              strict: g.select.strict,
              conditions: g.select.where.map((e) => ({ key: e.key, query: e.query, shift: e.queryShift - e.keyShift })),
            });
          }
        });
        expect([...program.features.keys()]).toEqual(spec.features.map((f) => f.name));
        for (const f of spec.features) {
          expect(program.features.get(f.name), f.name).toMatchObject({ domain: f.domain, distribution: f.distribution, head: f.head });
        }
        expect(program.composition.map(edgeKey).sort()).toEqual(specComposition(spec).map(edgeKey).sort());
        // A head is beyond pure induction exactly when it counts or compares positions.
        const beyond = spec.layers
          .flat()
          .filter((h) => h.select.kind === "match" && (h.select.rule === "count" || h.select.where.some((e) => spec.features.find((f) => f.name === e.key)!.domain === "pos")))
          .map((h) => h.name);
        expect([...program.beyondInduction]).toEqual(beyond);
        expect(renderSpec(spec)).toBe(source);
      }),
      fcParams({ numRuns: 300 }),
    );
  });

  it("stays within the promised bounds and never compares a distribution", () => {
    fc.assert(
      fc.property(arbProgram(), ({ program, spec }) => {
        expect(program.vocab.length).toBeGreaterThanOrEqual(2);
        expect(program.vocab.length).toBeLessThanOrEqual(5);
        expect(program.context).toBeGreaterThanOrEqual(4);
        expect(program.context).toBeLessThanOrEqual(16);
        expect(program.layers.length).toBeGreaterThanOrEqual(1);
        expect(program.layers.length).toBeLessThanOrEqual(3);
        for (const layer of program.layers) {
          expect(layer.length).toBeGreaterThanOrEqual(1);
          expect(layer.length).toBeLessThanOrEqual(3);
        }
        for (const h of program.layers.flat()) {
          expect(h.copies.length).toBeGreaterThanOrEqual(1);
          expect(h.copies.length).toBeLessThanOrEqual(2);
          if (h.select.kind === "offset") expect(h.select.k).toBeLessThanOrEqual(3);
          else {
            expect(h.select.conditions.length).toBeLessThanOrEqual(2);
            for (const c of h.select.conditions) {
              const k = program.features.get(c.key)!;
              const q = program.features.get(c.query)!;
              expect(k.distribution || q.distribution).toBe(false);
              expect(k.domain).toBe(q.domain);
              expect(Math.abs(c.shift)).toBeLessThanOrEqual(k.domain === "pos" ? 1 : 0);
              expect(k.layer).toBeLessThan(h.layer);
              expect(q.layer).toBeLessThan(h.layer);
              // E038: a count's conditions are written two layers before it.
              if (h.select.rule === "count") expect(Math.max(k.layer, q.layer)).toBeLessThanOrEqual(h.layer - 2);
            }
            if (h.select.rule === "count") expect(h.layer).toBeGreaterThanOrEqual(2);
          }
        }
        expect(program.features.get(program.output)!.domain).toBe("token");
        expect(spec.features.every((f, k) => k < 2 || f.name === `f${k - 1}`)).toBe(true);
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  it("reaches every construct: each rule (count included), both bounds, shifts on both sides, flipped sides, distributions, 3 layers", () => {
    const seen = new Set<string>();
    for (const { spec, source } of fc.sample(arbProgram(), { numRuns: 150, seed: 7 })) {
      for (const h of spec.layers.flat()) {
        if (h.select.kind === "offset") seen.add(`offset ${h.select.k}`);
        else {
          seen.add(h.select.rule);
          seen.add(h.select.strict ? "<" : "<=");
          if (h.select.where.length === 2) seen.add("two conditions");
          for (const e of h.select.where) {
            if (e.keyShift !== 0) seen.add("key shift");
            if (e.queryShift !== 0) seen.add("query shift");
            if (e.flip) seen.add("flipped");
          }
        }
      }
      if (spec.layers.length === 3) seen.add("3 layers");
      if (spec.features.find((f) => f.name === spec.output)?.distribution) seen.add("distribution output");
      expect(() => parse({ path: "g", text: source })).not.toThrow();
    }
    for (const want of ["offset 0", "offset 3", "latest", "earliest", "every", "count", "<", "<=", "two conditions", "key shift", "query shift", "flipped", "3 layers", "distribution output"]) {
      expect(seen, want).toContain(want);
    }
  });

  it("shrinks a failure to a one-layer, one-head program", () => {
    // Any property failing on every program must shrink to the smallest one.
    const result = fc.check(fc.property(arbProgram(), (_g: GeneratedProgram) => false), { seed: 1 });
    expect(result.failed).toBe(true);
    const { program } = result.counterexample![0];
    expect(program.layers.map((l) => l.length)).toEqual([1]);
    expect(program.layers[0]![0]!.select).toEqual({ kind: "offset", k: 0 });
    expect(program.layers[0]![0]!.copies).toEqual([{ from: "token", to: "f1" }]);
  });

  it("shrinks a failure needing an every head to trivial heads around one bare every head", () => {
    for (const seed of [1, 2, 3]) {
      const result = fc.check(
        fc.property(arbProgram(), ({ program }) => !program.layers.flat().some((h) => h.select.kind === "match" && h.select.rule === "every")),
        { seed },
      );
      expect(result.failed).toBe(true);
      const { program, source } = result.counterexample![0];
      const heads = program.layers.flat();
      const every = heads.filter((h) => h.select.kind === "match");
      expect(every.map((h) => h.select), source).toEqual([{ kind: "match", rule: "every", strict: false, conditions: [] }]);
      // Whatever fast-check's array shrinker leaves besides is the simplest head there is.
      for (const h of heads.filter((h) => h.select.kind === "offset")) {
        expect(h.select, source).toEqual({ kind: "offset", k: 0 });
        expect(h.copies.map((c) => c.from), source).toEqual(["token"]);
      }
      expect(program.vocab, source).toEqual(["a", "b"]);
      expect(program.context, source).toBe(4);
    }
  });
});

describe("arbInput", () => {
  it("gives token indices of length 0 … context-1", () => {
    const arb = arbProgram().chain(({ program }) => arbInput(program).map((input) => ({ program, input })));
    fc.assert(
      fc.property(arb, ({ program, input }) => {
        expect(input.length).toBeLessThanOrEqual(program.context - 1);
        for (const t of input) expect(t >= 0 && t < program.vocab.length && Number.isInteger(t)).toBe(true);
      }),
      fcParams({ numRuns: 100 }),
    );
  });

  it("generated sources load on their own (no hidden state between generations)", () => {
    for (const { source, program } of fc.sample(arbProgram(), { numRuns: 20, seed: 11 })) {
      expect(load({ path: "again", text: source }).composition).toEqual(program.composition);
    }
  });
});
