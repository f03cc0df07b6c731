/**
 * Layout → per-head circuits in named directions. Each head gets its own
 * small d_head spaces (one for QK, one for OV) whose directions say what the
 * head computes: `c0:a` ("conjunct 0 matches value a"), `bos`, `tie`,
 * `self:p`, `off.cos16`/`off.sin16`, and for values `next:a`. The scale
 * constants and why they suffice are in scales.ts.
 */
import type { Head, Program } from "../lang/program.ts";
import { domainSize } from "../lang/program.ts";
import { blockOf, clockCos, clockPeriods, clockSin, countHeads, dirLabel, inverseBlockName, type Layout, meanHeadName } from "./layout.ts";
import type { Scales } from "./scales.ts";
import { NamedMap, Space } from "./space.ts";

export interface HeadCircuit {
  readonly head: Head;
  /** TransformerLens block `blocks.N` (0-based): the head's program layer minus 1. */
  readonly block: number;
  /** Head index within its layer. */
  readonly index: number;
  readonly qkSpace: Space;
  readonly ovSpace: Space;
  readonly W_Q: NamedMap; // resid → qk
  readonly W_K: NamedMap; // resid → qk
  readonly W_V: NamedMap; // resid → ov
  readonly W_O: NamedMap; // ov → resid
}

/**
 * Build every head's QK and OV maps from the meaning of the layout's
 * directions; each count head also gets its `.mean` head, appended after the
 * program's own heads of the layer before it.
 */
export function layoutToHeads(program: Program, layout: Layout, scales: Scales): HeadCircuit[] {
  const circuits = program.layers.flatMap((heads, l) => heads.map((h, index) => headCircuit(program, layout, scales, h, l, index)));
  const extra = new Map<number, number>();
  for (const h of countHeads(program)) {
    const layer = h.layer - 2; // 0-based block of the program layer before the count
    const index = program.layers[layer]!.length + (extra.get(layer) ?? 0);
    extra.set(layer, (extra.get(layer) ?? 0) + 1);
    circuits.push(meanCircuit(program, layout, scales, h, layer, index));
  }
  return circuits;
}

/** The conjunct directions of a match: key value v of conjunct k scores β against the query value v − shift. */
function addConditions(program: Program, sel: Extract<Head["select"], { kind: "match" }>, s: Scales, W_Q: NamedMap, W_K: NamedMap): void {
  sel.conditions.forEach((c, k) => {
    const kf = program.features.get(c.key)!;
    const qf = program.features.get(c.query)!;
    const n = domainSize(program, kf.domain);
    for (let v = 0; v < n; v++) {
      const dir = dirLabel(program, `c${k}`, kf.domain, v);
      W_K.add(dirLabel(program, kf.name, kf.domain, v), dir, 1);
      const u = v - c.shift; // query value u matches key value u + shift
      if (u >= 0 && u < domainSize(program, qf.domain)) {
        W_Q.add(dirLabel(program, qf.name, qf.domain, u), dir, s.beta);
      }
    }
  });
}

/** The QK labels of a match's conjuncts. */
function conditionLabels(program: Program, sel: Extract<Head["select"], { kind: "match" }>): string[] {
  return sel.conditions.flatMap((c, k) => {
    const d = program.features.get(c.key)!.domain;
    return Array.from({ length: domainSize(program, d) }, (_, v) => dirLabel(program, `c${k}`, d, v));
  });
}

/**
 * A count's first layer: every matching key and BOS score β·m, the same, so
 * the attention is uniform over the m matches and BOS, and BOS's weight
 * 1/(m + 1) is copied (from the `bos` direction) into the count's .inv block.
 * Partial matches and ⊥ keys sit ≥ β lower; a strict count sinks the query's
 * own key by P.
 */
function meanCircuit(program: Program, layout: Layout, s: Scales, head: Head, layer: number, index: number): HeadCircuit {
  const sel = head.select;
  if (sel.kind !== "match" || sel.rule !== "count") throw new Error(`meanCircuit: '${head.name}' is not a count`);
  const C = program.context;
  const qkSpace = new Space([...conditionLabels(program, sel), "bos", ...(sel.strict ? Array.from({ length: C - 1 }, (_, p) => `self:${p + 1}`) : [])]);
  const W_Q = new NamedMap(layout.space, qkSpace);
  const W_K = new NamedMap(layout.space, qkSpace);
  addConditions(program, sel, s, W_Q, W_K);
  W_K.add("bos", "bos", 1);
  W_Q.add("one", "bos", s.beta * sel.conditions.length);
  if (sel.strict) {
    for (let p = 1; p < C; p++) {
      W_K.add(`pos:${p}`, `self:${p}`, 1);
      W_Q.add(`pos:${p}`, `self:${p}`, -s.penalty);
    }
  }
  const inv = inverseBlockName(head.name);
  const ovSpace = new Space([inv]);
  const W_V = new NamedMap(layout.space, ovSpace).add("bos", inv, 1);
  const W_O = new NamedMap(ovSpace, layout.space).add(inv, inv, 1);
  const mean: Head = { name: meanHeadName(head.name), layer: layer + 1, select: sel, copies: [], span: head.span };
  return { head: mean, block: layer, index, qkSpace, ovSpace, W_Q, W_K, W_V, W_O };
}

function headCircuit(program: Program, layout: Layout, s: Scales, head: Head, layer: number, index: number): HeadCircuit {
  const C = program.context;
  const resid = layout.space;
  const qkLabels: string[] = [];
  const sel = head.select;
  const periods = clockPeriods(program);
  if (sel.kind === "offset") {
    for (const n of periods) qkLabels.push(`off.cos${n}`, `off.sin${n}`);
    qkLabels.push("bos");
  } else if (sel.rule === "count") {
    qkLabels.push("u", "u2");
  } else {
    qkLabels.push(...conditionLabels(program, sel));
    qkLabels.push("bos");
    if (sel.rule !== "every") qkLabels.push("tie");
    if (sel.strict) for (let p = 1; p < C; p++) qkLabels.push(`self:${p}`);
  }
  const qkSpace = new Space(qkLabels);
  const W_Q = new NamedMap(resid, qkSpace);
  const W_K = new NamedMap(resid, qkSpace);

  if (sel.kind === "offset") {
    // Each hand of the clock scores A·cos(2π(j − (i − k))/n): the query is its
    // own hand turned back by k (a fixed rotation, so linear in the
    // embedding). The target gets A per hand; any other key j ≥ 1 is off by a
    // non-multiple of 4 in some hand and loses ≥ A there. BOS (clock zero)
    // sits at A·(hands − ½), in the middle: it wins exactly when i − k ≤ 0.
    const A = s.clockAmplitude;
    for (const n of periods) {
      const c = clockCos(sel.k, n);
      const sn = clockSin(sel.k, n);
      W_K.add(`pos.cos${n}`, `off.cos${n}`, 1).add(`pos.sin${n}`, `off.sin${n}`, 1);
      W_Q.add(`pos.cos${n}`, `off.cos${n}`, A * c).add(`pos.sin${n}`, `off.cos${n}`, A * sn);
      W_Q.add(`pos.sin${n}`, `off.sin${n}`, A * c).add(`pos.cos${n}`, `off.sin${n}`, -A * sn);
    }
    W_K.add("bos", "bos", 1);
    W_Q.add("one", "bos", A * (periods.length - 0.5));
  } else if (sel.rule === "count") {
    // Key p scores λ'·(2(p+1) − x·(p+1)²) with x ≈ 1/(m+1) from the .mean head:
    // λ'·((m+1) − (p − m)²/(m+1)), largest at p = m (BOS for m = 0: ⊥). See scales.ts.
    W_K.add("pos.u", "u", 1).add("pos.u2", "u2", 1);
    W_Q.add("one", "u", 2 * s.countScale).add(inverseBlockName(head.name), "u2", -s.countScale);
  } else {
    addConditions(program, sel, s, W_Q, W_K);
    const m = sel.conditions.length;
    W_K.add("bos", "bos", 1);
    W_Q.add("one", "bos", s.beta * (m - 0.5));
    if (sel.rule !== "every") {
      W_K.add("pos.lin", "tie", 1);
      W_Q.add("one", "tie", sel.rule === "latest" ? s.gamma : -s.gamma);
    }
    if (sel.strict) {
      for (let p = 1; p < C; p++) {
        W_K.add(`pos:${p}`, `self:${p}`, 1);
        W_Q.add(`pos:${p}`, `self:${p}`, -s.penalty);
      }
    }
  }

  const ovLabels: string[] = [];
  for (const c of head.copies) {
    const f = program.features.get(c.to)!;
    for (let v = 0; v < domainSize(program, f.domain); v++) ovLabels.push(dirLabel(program, c.to, f.domain, v));
  }
  const ovSpace = new Space(ovLabels);
  const W_V = new NamedMap(resid, ovSpace);
  const W_O = new NamedMap(ovSpace, resid);
  for (const c of head.copies) {
    const src = blockOf(layout, c.from);
    const dst = blockOf(layout, c.to);
    src.labels.forEach((label, v) => {
      W_V.add(label, dst.labels[v]!, 1);
      W_O.add(dst.labels[v]!, dst.labels[v]!, 1);
    });
  }
  return { head, block: layer, index, qkSpace, ovSpace, W_Q, W_K, W_V, W_O };
}
