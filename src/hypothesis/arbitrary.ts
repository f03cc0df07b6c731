/**
 * fast-check arbitraries for random well-formed programs and their inputs.
 *
 * How it is built, and why. A program's valid choices depend on what earlier
 * layers wrote (a head may read only features of earlier layers, compare only
 * same-domain, non-distribution features …). Generating that with `chain`
 * would make shrinking restart the dependent part from scratch. Instead we
 * draw a *plan* whose every choice is independent — "pick the 3rd candidate"
 * as a plain natural number — and resolve it against the features actually
 * available (`pick mod candidates`). Every plan resolves to a valid program,
 * and plans shrink like ordinary records: fewer layers, fewer heads, fewer
 * conditions, offset heads before match and count heads, picks toward 0
 * (= `token`). Counts respect E038: none in layer 1, and their conditions
 * read only features written two layers earlier.
 * The resolved spec is rendered to source text and loaded with the real
 * checker, so a generated program that does not load is a checker bug (the
 * arbitrary throws and fast-check reports the shrunk plan).
 *
 * Names are readable and stable: heads h1, h2 … and features f1, f2 … in
 * writing order; vocabulary a b c d e.
 */
import fc from "fast-check";
import { load } from "../lang/check.ts";
import type { CompositionEdge, DomainKind, Program } from "../lang/program.ts";

export type RuleName = "latest" | "earliest" | "every" | "count";

/** One `where` conjunct as written: f[j] (+ keyShift) == g[i] (+ queryShift). */
export interface GenEquality {
  readonly key: string;
  readonly query: string;
  readonly keyShift: number;
  readonly queryShift: number;
  /** Written query side first: `g[i] == f[j]`. */
  readonly flip: boolean;
}

export type GenSelect =
  | { readonly kind: "offset"; readonly k: number }
  | { readonly kind: "match"; readonly rule: RuleName; readonly strict: boolean; readonly where: readonly GenEquality[] };

export interface GenHead {
  readonly name: string;
  readonly select: GenSelect;
  readonly copies: readonly { readonly from: string; readonly to: string }[];
}

export interface GenFeature {
  readonly name: string;
  readonly domain: DomainKind;
  readonly distribution: boolean;
  /** Head that writes it; null for the built-ins. */
  readonly head: string | null;
}

/** What the generator meant: compare the checker's Program against it. */
export interface ProgramSpec {
  readonly vocab: readonly string[];
  readonly context: number;
  readonly layers: readonly (readonly GenHead[])[];
  readonly output: string;
  /** Built-ins, then every written feature in order. */
  readonly features: readonly GenFeature[];
}

export interface GeneratedProgram {
  readonly source: string;
  readonly program: Program;
  readonly spec: ProgramSpec;
}

// ── plans: independent choices only ─────────────────────────────────────────

interface EqualityPlan {
  readonly key: number;
  readonly query: number;
  readonly shift: number;
  readonly shiftOnKey: boolean;
  readonly flip: boolean;
}

type HeadPlan =
  | { readonly kind: "offset"; readonly k: number; readonly copies: readonly number[] }
  | {
      readonly kind: "match";
      readonly rule: RuleName;
      readonly strict: boolean;
      readonly where: readonly EqualityPlan[];
      readonly copies: readonly number[];
    }
  | { readonly kind: "count"; readonly strict: boolean; readonly where: readonly EqualityPlan[]; readonly copies: readonly number[] };

interface ProgramPlan {
  readonly layers: readonly (readonly HeadPlan[])[];
  readonly vocabSize: number;
  readonly context: number;
  readonly output: number;
}

const pick = fc.nat({ max: 15 });

const arbEqualityPlan: fc.Arbitrary<EqualityPlan> = fc.record({
  key: pick,
  query: pick,
  shift: fc.constantFrom(0, 1, -1),
  shiftOnKey: fc.boolean(),
  flip: fc.boolean(),
});

const arbCopies = fc.array(pick, { minLength: 1, maxLength: 2 });

// With cross-shrinking, oneof shrinks toward its first alternative: a count
// or match head becomes an offset head when the failure allows it.
const arbHeadPlan: fc.Arbitrary<HeadPlan> = fc.oneof(
  { withCrossShrink: true },
  fc.record({ kind: fc.constant("offset" as const), k: fc.integer({ min: 0, max: 3 }), copies: arbCopies }),
  fc.record({
    kind: fc.constant("match" as const),
    rule: fc.constantFrom<RuleName>("latest", "earliest", "every"),
    strict: fc.boolean(),
    where: fc.array(arbEqualityPlan, { maxLength: 2 }),
    copies: arbCopies,
  }),
  fc.record({
    kind: fc.constant("count" as const),
    strict: fc.boolean(),
    where: fc.array(arbEqualityPlan, { maxLength: 2 }),
    copies: arbCopies,
  }),
);

const arbProgramPlan: fc.Arbitrary<ProgramPlan> = fc.record({
  layers: fc.array(fc.array(arbHeadPlan, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
  vocabSize: fc.integer({ min: 2, max: 5 }),
  context: fc.integer({ min: 4, max: 16 }),
  output: pick,
});

// ── resolving a plan ────────────────────────────────────────────────────────

const VOCAB = ["a", "b", "c", "d", "e"];

/** Turn a plan into a spec in which every choice is valid. */
export function resolvePlan(plan: ProgramPlan): ProgramSpec {
  const features: GenFeature[] = [
    { name: "token", domain: "token", distribution: false, head: null },
    { name: "pos", domain: "pos", distribution: false, head: null },
  ];
  let headCount = 0;
  const layers: GenHead[][] = [];
  // Program layer (built-ins 0) of every feature written so far.
  const writtenIn = new Map<string, number>([["token", 0], ["pos", 0]]);
  plan.layers.forEach((layerPlan, l) => {
    // Only features written by earlier layers are visible in this one.
    const visible = [...features];
    // A count's conditions must be written two layers before it (E038: the
    // compiled count averages over its matches one layer early).
    const countable = visible.filter((f) => !f.distribution && writtenIn.get(f.name)! <= l - 1);
    const heads: GenHead[] = [];
    for (const hp of layerPlan) {
      const name = `h${++headCount}`;
      let select: GenSelect;
      if (hp.kind === "offset") {
        select = { kind: "offset", k: hp.k };
      } else {
        // Layer 1 holds no count: there the plan resolves to a `latest` head.
        const counting = hp.kind === "count" && l >= 1;
        const comparable = counting ? countable : visible.filter((f) => !f.distribution);
        const where = hp.where.map((e): GenEquality => {
          const key = comparable[e.key % comparable.length]!;
          const partners = comparable.filter((f) => f.domain === key.domain);
          const query = partners[e.query % partners.length]!;
          const shift = key.domain === "pos" ? e.shift : 0;
          // key + keyShift == query + queryShift; the checker's shift is queryShift - keyShift.
          return {
            key: key.name,
            query: query.name,
            keyShift: e.shiftOnKey ? -shift : 0,
            queryShift: e.shiftOnKey ? 0 : shift,
            flip: e.flip,
          };
        });
        const rule: RuleName = hp.kind === "match" ? hp.rule : counting ? "count" : "latest";
        select = { kind: "match", rule, strict: hp.strict, where };
      }
      const copies = hp.copies.map((p) => {
        const from = visible[p % visible.length]!;
        const to = `f${features.length - 1}`;
        features.push({
          name: to,
          domain: from.domain,
          distribution: from.distribution || (select.kind === "match" && select.rule === "every"),
          head: name,
        });
        writtenIn.set(to, l + 1);
        return { from: from.name, to };
      });
      heads.push({ name, select, copies });
    }
    layers.push(heads);
  });
  // Output candidates: written token features, newest first, then `token`
  // itself, so the usual (and shrunk-to) output is the last head's result.
  const outputs = features.filter((f) => f.domain === "token" && f.head !== null).reverse();
  outputs.push(features[0]!);
  return {
    vocab: VOCAB.slice(0, plan.vocabSize),
    context: plan.context,
    layers,
    output: outputs[plan.output % outputs.length]!.name,
    features,
  };
}

const shiftText = (s: number) => (s > 0 ? ` + ${s}` : s < 0 ? ` - ${-s}` : "");

/** The spec as program text in the language of grammar/circuits.ohm. */
export function renderSpec(spec: ProgramSpec): string {
  const lines = [`# generated`, `vocab ${spec.vocab.join(" ")}`, `context ${spec.context}`];
  spec.layers.forEach((heads, l) => {
    lines.push("", `layer ${l + 1}`);
    for (const h of heads) {
      let select: string;
      if (h.select.kind === "offset") {
        select = h.select.k === 0 ? "select j = i" : `select j = i - ${h.select.k}`;
      } else {
        const conds = h.select.where.map((e) => {
          const k = `${e.key}[j]${shiftText(e.keyShift)}`;
          const q = `${e.query}[i]${shiftText(e.queryShift)}`;
          return e.flip ? `${q} == ${k}` : `${k} == ${q}`;
        });
        const where = conds.length ? ` where ${conds.join(" and ")}` : "";
        select = `select ${h.select.rule} j ${h.select.strict ? "<" : "<="} i${where}`;
      }
      const copies = h.copies.map((c) => `${c.from}[j] as ${c.to}`).join(", ");
      lines.push(`  head ${h.name}: ${select}; copy ${copies}`);
    }
  });
  lines.push("", `output ${spec.output}`, "");
  return lines.join("\n");
}

/** The composition edges the spec implies, derived without the checker. */
export function specComposition(spec: ProgramSpec): CompositionEdge[] {
  const writer = new Map(spec.features.map((f) => [f.name, f.head]));
  const edges: CompositionEdge[] = [];
  const seen = new Set<string>();
  const add = (to: string, kind: "Q" | "K" | "V", feature: string) => {
    const from = writer.get(feature);
    const id = `${from}/${to}/${kind}/${feature}`;
    if (from && !seen.has(id)) {
      seen.add(id);
      edges.push({ from, to, kind, feature });
    }
  };
  for (const h of spec.layers.flat()) {
    if (h.select.kind === "match") {
      for (const e of h.select.where) {
        add(h.name, "K", e.key);
        add(h.name, "Q", e.query);
      }
    }
    for (const c of h.copies) add(h.name, "V", c.from);
  }
  return edges;
}

function generated(spec: ProgramSpec): GeneratedProgram {
  const source = renderSpec(spec);
  return { source, program: load({ path: "<generated>", text: source }), spec };
}

/** Random well-formed programs, loaded by the real checker. Shrinks to smaller programs first. */
export function arbProgram(): fc.Arbitrary<GeneratedProgram> {
  return arbProgramPlan.map((plan) => generated(resolvePlan(plan)));
}

/** Inputs for a program: token indices, length 0 … context-1. */
export function arbInput(program: Program, maxLength = program.context - 1): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: program.vocab.length - 1 }), {
    maxLength: Math.min(maxLength, program.context - 1),
  });
}

/**
 * A program together with an input for it. The input is drawn independently
 * (raw picks reduced mod the vocabulary, cut to the context), so the program
 * and the input shrink separately instead of through a `chain`.
 */
export function arbProgramWithInput(): fc.Arbitrary<GeneratedProgram & { readonly input: number[] }> {
  return fc.tuple(arbProgram(), fc.array(fc.nat({ max: 4 }), { maxLength: 15 })).map(([g, raw]) => ({
    ...g,
    input: raw.slice(0, g.program.context - 1).map((t) => t % g.program.vocab.length),
  }));
}
