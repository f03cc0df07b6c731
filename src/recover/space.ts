/**
 * The bounded space of programs the search reads weights against,
 * enumerated canonically: each program appears once up to renaming.
 *
 * The bound (SPACE_BOUND): token-valued features only (no `pos`, no shifts);
 * at most two layers; every head copies one feature; the last head writes
 * the output and every other head is read by it (no dead heads, so layer 1
 * holds at most two heads and layer 2 at most one, and a program is its
 * head graph); selections `j = i − k` for k in the offsets (default 1–3) or
 * `latest | earliest | every` j `<` / `<=` i with 1 … maxConjuncts
 * conjuncts `f[j] == g[i]` over `token` and the layer-1 features that hold
 * single tokens; copies of `token` or a layer-1 feature (an `every` head
 * copies only single-token features, so a distribution is never averaged).
 * Canonical: a head sits in the first layer it can (layer 2 only if it reads
 * a layer-1 feature), two layer-1 heads are an unordered pair of distinct
 * heads, and conjuncts are a set (sorted).
 */
import { load } from "../lang/check.ts";
import type { Rule } from "../lang/ast.ts";
import type { Head, Program, Selection } from "../lang/program.ts";
import { printHead, printVocab } from "../lang/print.ts";

/** 0 is `token`; k ≥ 1 is the feature written by the candidate's head k − 1. */
export type FeatureRef = number;

export type SelectSpec =
  | { readonly kind: "offset"; readonly k: number }
  | { readonly kind: "match"; readonly rule: Rule; readonly strict: boolean; readonly conds: readonly (readonly [FeatureRef, FeatureRef])[] };

/** One head: what it selects and which feature it copies. */
export interface HeadSpec {
  readonly select: SelectSpec;
  readonly source: FeatureRef;
}

/** A program of the space: heads[k] reads features 0 … k only; the last head writes the output. */
export interface Candidate {
  readonly heads: readonly HeadSpec[];
}

/** Knobs of the space. */
export interface SpaceOptions {
  /** Offsets k of `j = i − k` heads (default 1, 2, 3). */
  readonly offsets?: readonly number[];
  /** Conjuncts per match, 1 … this (default 1). */
  readonly maxConjuncts?: number;
}

/** The bound, in words, for reports. */
export function spaceBound(o: SpaceOptions = {}): string {
  const ks = (o.offsets ?? DEFAULT_OFFSETS).join(", ");
  const m = o.maxConjuncts ?? 1;
  return (
    `≤ 2 layers (≤ 2 heads in layer 1, 1 in layer 2, every head read by the output head), one copy per head; ` +
    `selections j = i − k (k ∈ {${ks}}) or latest/earliest/every j < i | j <= i with ${m === 1 ? "one conjunct" : `1–${m} conjuncts`} f[j] == g[i] ` +
    `over token and layer-1 single-token features; copies of token or a layer-1 feature; token-valued features only (no pos, no shifts)`
  );
}

const DEFAULT_OFFSETS = [1, 2, 3] as const;
const RULES: readonly Rule[] = ["latest", "earliest", "every"];

/** Whether feature f of a candidate is a distribution (written by or copied from an `every` head). */
export function isDistribution(heads: readonly HeadSpec[], f: FeatureRef): boolean {
  if (f === 0) return false;
  const h = heads[f - 1]!;
  return (h.select.kind === "match" && h.select.rule === "every") || isDistribution(heads, h.source);
}

/** Every head over the features 0 … n−1 that reads each of `required`. */
function headsOver(prior: readonly HeadSpec[], required: readonly FeatureRef[], o: SpaceOptions): HeadSpec[] {
  const n = prior.length + 1;
  const all = Array.from({ length: n }, (_, f) => f);
  const single = all.filter((f) => !isDistribution(prior, f));
  const readsAll = (reads: readonly FeatureRef[]) => required.every((r) => reads.includes(r));
  const out: HeadSpec[] = [];
  for (const k of o.offsets ?? DEFAULT_OFFSETS) {
    for (const source of all) if (readsAll([source])) out.push({ select: { kind: "offset", k }, source });
  }
  const pairs: [FeatureRef, FeatureRef][] = [];
  for (const key of single) for (const query of single) pairs.push([key, query]);
  const condSets: (readonly [FeatureRef, FeatureRef])[][] = [];
  const grow = (from: number, acc: [FeatureRef, FeatureRef][]) => {
    if (acc.length) condSets.push([...acc]);
    if (acc.length === (o.maxConjuncts ?? 1)) return;
    for (let p = from; p < pairs.length; p++) grow(p + 1, [...acc, pairs[p]!]);
  };
  grow(0, []);
  for (const rule of RULES) {
    for (const strict of [true, false]) {
      for (const conds of condSets) {
        for (const source of rule === "every" ? single : all) {
          if (readsAll([...conds.flat(), source])) out.push({ select: { kind: "match", rule, strict, conds }, source });
        }
      }
    }
  }
  return out;
}

/** The layer-1 heads of the space (they read `token` only). */
export function layerOneHeads(o: SpaceOptions = {}): HeadSpec[] {
  return headsOver([], [], o);
}

/** Layer-2 heads above the given layer-1 heads, reading every one of them. */
export function layerTwoHeads(below: readonly HeadSpec[], o: SpaceOptions = {}): HeadSpec[] {
  return headsOver(below, below.map((_, k) => k + 1), o);
}

/** Every candidate of the space, one-head programs first. */
export function* enumerateSpace(o: SpaceOptions = {}): Generator<Candidate> {
  const l1 = layerOneHeads(o);
  for (const h of l1) yield { heads: [h] };
  for (const a of l1) for (const top of layerTwoHeads([a], o)) yield { heads: [a, top] };
  for (let x = 0; x < l1.length; x++) {
    for (let y = x + 1; y < l1.length; y++) {
      const below = [l1[x]!, l1[y]!];
      for (const top of layerTwoHeads(below, o)) yield { heads: [...below, top] };
    }
  }
}

/** Program layer (1-based) of each head: layer 2 when it reads a layer-1 feature. */
export function headLayers(c: Candidate): number[] {
  const layers: number[] = [];
  c.heads.forEach((h, k) => {
    const reads = [h.source, ...(h.select.kind === "match" ? h.select.conds.flat() : [])];
    layers[k] = Math.max(0, ...reads.map((f) => (f === 0 ? 0 : layers[f - 1]!))) + 1;
  });
  return layers;
}

/** For each head, the candidate heads whose features it reads. */
export function headParents(c: Candidate): number[][] {
  return c.heads.map((h) => {
    const reads = [h.source, ...(h.select.kind === "match" ? h.select.conds.flat() : [])];
    return [...new Set(reads.filter((f) => f > 0).map((f) => f - 1))].sort((a, b) => a - b);
  });
}

/** Readable names: the output is `next`, a previous-token copy `prev`/`prevK`, heads h1, h2 …; others f1, f2 … */
export function candidateNames(c: Candidate): { heads: string[]; features: string[] } {
  const features = ["token"];
  const last = c.heads.length - 1;
  c.heads.forEach((h, k) => {
    let name = `f${k + 1}`;
    if (k === last) name = "next";
    else if (h.select.kind === "offset" && h.source === 0) name = h.select.k === 1 ? "prev" : `prev${h.select.k}`;
    while (features.includes(name)) name = `${name}_`;
    features.push(name);
  });
  return { heads: c.heads.map((_, k) => `h${k + 1}`), features };
}

/** A candidate as a checked program over the given vocabulary and context. */
export function candidateProgram(c: Candidate, vocab: readonly string[], context: number): Program {
  const { heads: hn, features: fn } = candidateNames(c);
  const layers = headLayers(c);
  const lines = [`vocab ${printVocab(vocab)}`, `context ${context}`];
  for (const layer of [...new Set(layers)].sort()) {
    lines.push("", `layer ${layer}`);
    c.heads.forEach((h, k) => {
      if (layers[k] !== layer) return;
      const select: Selection =
        h.select.kind === "offset"
          ? h.select
          : { ...h.select, conditions: h.select.conds.map(([key, query]) => ({ key: fn[key]!, query: fn[query]!, shift: 0 })) };
      const head: Head = { name: hn[k]!, layer, select, copies: [{ from: fn[h.source]!, to: fn[k + 1]! }], span: { start: 0, end: 0 } };
      lines.push(`  ${printHead(head)}`);
    });
  }
  lines.push("", `output ${fn[c.heads.length]}`, "");
  return load({ path: "<candidate>", text: lines.join("\n") });
}

/** Whether a checked program lies in the space; its candidate (head order: layer order) if so. */
export function programToCandidate(p: Program, o: SpaceOptions = {}): Candidate | null {
  const heads = p.layers.flat();
  if (p.layers.length > 2 || heads.length > 3 || heads.length === 0) return null;
  const ref = new Map<string, FeatureRef>([["token", 0]]);
  const specs: HeadSpec[] = [];
  for (const [k, h] of heads.entries()) {
    if (h.copies.length !== 1) return null;
    const source = ref.get(h.copies[0]!.from);
    if (source === undefined) return null;
    let select: SelectSpec;
    if (h.select.kind === "offset") {
      if (!(o.offsets ?? DEFAULT_OFFSETS).includes(h.select.k)) return null;
      select = h.select;
    } else {
      const conds: [FeatureRef, FeatureRef][] = [];
      for (const c of h.select.conditions) {
        const key = ref.get(c.key);
        const query = ref.get(c.query);
        if (key === undefined || query === undefined || c.shift !== 0) return null;
        conds.push([key, query]);
      }
      const sorted = [...conds].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const distinct = sorted.filter((x, n) => n === 0 || x[0] !== sorted[n - 1]![0] || x[1] !== sorted[n - 1]![1]);
      if (distinct.length < 1 || distinct.length > (o.maxConjuncts ?? 1)) return null;
      select = { kind: "match", rule: h.select.rule, strict: h.select.strict, conds: distinct };
    }
    specs.push({ select, source });
    ref.set(h.copies[0]!.to, k + 1);
  }
  if (p.output !== heads[heads.length - 1]!.copies[0]!.to) return null;
  // It must be exactly what the enumeration produces (same layers, all heads read by the last),
  // with two layer-1 heads in either order.
  const keys = new Set([candidateKey({ heads: specs })]);
  if (specs.length === 3) keys.add(candidateKey({ heads: [specs[1]!, specs[0]!, swapRefs(specs[2]!)] }));
  for (const e of enumerateSpace(o)) if (keys.has(candidateKey(e))) return e;
  return null;
}

/** The head with feature references 1 and 2 exchanged (its conjuncts re-sorted). */
function swapRefs(h: HeadSpec): HeadSpec {
  const s = (f: FeatureRef) => (f === 1 ? 2 : f === 2 ? 1 : f);
  const select: SelectSpec =
    h.select.kind === "offset"
      ? h.select
      : { ...h.select, conds: h.select.conds.map(([k, q]) => [s(k), s(q)] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]) };
  return { select, source: s(h.source) };
}

/** A string that identifies a candidate (equal keys, equal programs up to renaming). */
export function candidateKey(c: Candidate): string {
  return c.heads.map((h) => `${selectKey(h.select)}>${h.source}`).join(";");
}

function selectKey(s: SelectSpec): string {
  return s.kind === "offset" ? `o${s.k}` : `${s.rule}${s.strict ? "<" : "<="}${s.conds.map(([k, q]) => `${k}=${q}`).join("&")}`;
}
