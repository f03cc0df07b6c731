/**
 * When may an exhaustive check visit one sequence per renaming class? The
 * language has no token literals, so the semantics commutes with every
 * renaming π of the vocabulary (proofs/12-renaming-symmetry.md); what must be
 * established per model is that the *float computation* of the compiled
 * weights commutes with π bit for bit, so that a class member's verdict is
 * its representative's. That needs three things, each decided here with the
 * reason when it fails:
 *
 *  1. the program is equivariant (no token shift, no token/position mix, a
 *     token-valued output) — the checker already refuses the rest, so this
 *     is a guard for programs built some other way;
 *  2. the weights are equivariant: under every transposition of two adjacent
 *     tokens, W_E, W_U, b_U and every head's matrices equal themselves with
 *     the token-indexed rows and columns swapped, bit for bit;
 *  3. every floating-point sum the simulator forms meets at most one nonzero
 *     term per token-indexed block, so permuting the block permutes where the
 *     term sits but not the order of the nonzero terms: every linear map's
 *     column has ≤ 1 nonzero weight per token block of its input, no head
 *     writes the `token` block (it stays an exact one-hot), and every match
 *     conjunct over tokens reads the exact `token` block on one side, so its
 *     query·key products have ≤ 1 nonzero term in that conjunct's block.
 */
import type { CompiledModel } from "../compiler/compile.ts";
import type { Tensor } from "../model/weights.ts";
import type { Program } from "../lang/program.ts";
import { tokenId } from "../model/tokenIds.ts";

/** Why the semantics of a program may not commute with renaming tokens, or null. */
export function semanticObstacle(program: Program): string | null {
  const out = program.features.get(program.output);
  if (!out || out.domain !== "token") return `output '${program.output}' is not token-valued`;
  for (const h of program.layers.flat()) {
    if (h.select.kind !== "match") continue;
    for (const c of h.select.conditions) {
      const kd = program.features.get(c.key)!.domain;
      const qd = program.features.get(c.query)!.domain;
      if (kd !== qd) return `head '${h.name}' compares '${c.key}' (${kd}) with '${c.query}' (${qd})`;
      if (kd === "token" && c.shift !== 0) return `head '${h.name}' shifts token values (${c.key}[j] == ${c.query}[i] + ${c.shift}): that orders tokens`;
    }
  }
  return null;
}

/** Why the float run of the compiled program may not be bit-for-bit equivariant (a program-level reason), or null. */
export function floatObstacle(program: Program): string | null {
  for (const h of program.layers.flat()) {
    if (h.select.kind !== "match") continue;
    // The semantics of a count is equivariant, but its compiled form (a `.mean` head one
    // layer early, an inverse-count block) is not among the token blocks weightObstacle maps.
    if (h.select.rule === "count") return `head '${h.name}' is a count: the bit-for-bit check of its compiled form is not implemented`;
    for (const c of h.select.conditions) {
      if (program.features.get(c.key)!.domain !== "token") continue;
      if (c.key !== "token" && c.query !== "token") {
        return `head '${h.name}' compares two head-written token features (${c.key}[j] == ${c.query}[i]): its scores add several nonzero products in an order a renaming changes`;
      }
    }
  }
  return null;
}

/** How the token transposition (v, v+1) acts on one index space: the partner of each index (itself if fixed). */
type Swap = (i: number) => number;

/** Index maps of the model's spaces under the transposition of vocabulary indices v and v+1. */
interface Transposition {
  readonly resid: Swap;
  readonly id: Swap;
  /** Per layer, per head: the QK and OV index maps. */
  readonly qk: Swap[][];
  readonly ov: Swap[][];
}

/** Offsets of the token-indexed blocks of each space (each block V long, value v at offset + v). */
interface TokenBlocks {
  readonly resid: number[];
  readonly qk: number[][][];
  readonly ov: number[][][];
  /** Per layer, per head, per conjunct over tokens: the QK block and which side reads `token` exactly. */
  readonly conjuncts: { layer: number; head: number; name: string; offset: number; key: string; query: string }[][];
}

function tokenBlocks(model: CompiledModel): TokenBlocks {
  const { program, layout, circuits } = model;
  const vocab = program.vocab;
  const resid = layout.blocks.filter((b) => b.domain === "token").map((b) => b.offset);
  const L = program.layers.length;
  const qk: number[][][] = Array.from({ length: L }, (_, l) => program.layers[l]!.map(() => []));
  const ov: number[][][] = Array.from({ length: L }, (_, l) => program.layers[l]!.map(() => []));
  const conjuncts: TokenBlocks["conjuncts"] = [];
  for (const c of circuits) {
    const sel = c.head.select;
    const list: TokenBlocks["conjuncts"][number] = [];
    if (sel.kind === "match") {
      sel.conditions.forEach((cond, k) => {
        if (program.features.get(cond.key)!.domain !== "token") return;
        const offset = c.qkSpace.at(`c${k}:${vocab[0]}`);
        qk[c.block]![c.index]!.push(offset);
        list.push({ layer: c.block, head: c.index, name: c.head.name, offset, key: cond.key, query: cond.query });
      });
    }
    for (const copy of c.head.copies) {
      if (program.features.get(copy.to)!.domain === "token") ov[c.block]![c.index]!.push(c.ovSpace.at(`${copy.to}:${vocab[0]}`));
    }
    conjuncts.push(list);
  }
  return { resid, qk, ov, conjuncts };
}

function swapIn(offsets: readonly number[], v: number): Swap {
  const moved = new Map<number, number>();
  for (const o of offsets) {
    moved.set(o + v, o + v + 1);
    moved.set(o + v + 1, o + v);
  }
  return (i) => moved.get(i) ?? i;
}

function transposition(blocks: TokenBlocks, v: number): Transposition {
  return {
    resid: swapIn(blocks.resid, v),
    id: swapIn([tokenId(0)], v),
    qk: blocks.qk.map((layer) => layer.map((o) => swapIn(o, v))),
    ov: blocks.ov.map((layer) => layer.map((o) => swapIn(o, v))),
  };
}

/**
 * Whether M[base + r·cols + c] = M[base + σ(r)·cols + τ(c)] for every r, c
 * (only the moved rows and columns can differ). Returns the first [r, c]
 * that differs, or null.
 */
function firstAsymmetry(t: Tensor, base: number, rows: number, cols: number, sigma: Swap, tau: Swap): [number, number] | null {
  const d = t.data;
  const movedRows: number[] = [];
  const movedCols: number[] = [];
  for (let r = 0; r < rows; r++) if (sigma(r) !== r) movedRows.push(r);
  for (let c = 0; c < cols; c++) if (tau(c) !== c) movedCols.push(c);
  const same = (r: number, c: number) => d[base + r * cols + c] === d[base + sigma(r) * cols + tau(c)];
  for (const r of movedRows) for (let c = 0; c < cols; c++) if (!same(r, c)) return [r, c];
  for (const c of movedCols) for (let r = 0; r < rows; r++) if (!same(r, c)) return [r, c];
  return null;
}

/** Index of each token block a row index falls in (-1: none). */
function blockIndexOf(offsets: readonly number[], V: number): (i: number) => number {
  return (i) => offsets.findIndex((o) => i >= o && i < o + V);
}

/**
 * A column of M (rows × cols at base) with two nonzero weights in one token
 * block of its rows: then a sum over that block would meet two nonzero terms
 * whose order a renaming could swap. Returns [column, block row offset] or null.
 */
function crowdedColumn(t: Tensor, base: number, rows: number, cols: number, offsets: readonly number[], V: number): [number, number] | null {
  if (V < 2) return null;
  const d = t.data;
  for (const o of offsets) {
    for (let c = 0; c < cols; c++) {
      let n = 0;
      for (let r = o; r < o + V; r++) if (d[base + r * cols + c] !== 0 && ++n > 1) return [c, o];
    }
  }
  return null;
}

/**
 * Why the compiled weights may not be exactly equivariant under renaming
 * tokens, or may not be computed equivariantly in floating point; null when
 * both hold (conditions 2 and 3 of this module's comment).
 */
export function weightObstacle(model: CompiledModel): string | null {
  const { program, weights } = model;
  const V = program.vocab.length;
  const { d_model: D, d_head: E, n_heads: H, d_vocab: Vi, d_vocab_out: Vo } = weights.config;
  const blocks = tokenBlocks(model);
  const name = (v: number) => `${program.vocab[v]}↔${program.vocab[v + 1]}`;
  const id: Swap = (i) => i;
  for (let v = 0; v + 1 < V; v++) {
    const t = transposition(blocks, v);
    const at = (what: string, rc: [number, number] | null) => (rc ? `${what}[${rc[0]}, ${rc[1]}] changes under renaming ${name(v)}` : null);
    const bad =
      at("W_E", firstAsymmetry(weights.W_E, 0, Vi, D, t.id, t.resid)) ??
      at("W_pos", firstAsymmetry(weights.W_pos, 0, weights.config.n_ctx, D, id, t.resid)) ??
      at("W_U", firstAsymmetry(weights.W_U, 0, D, Vo, t.resid, t.id)) ??
      at("b_U", firstAsymmetry(weights.b_U, 0, 1, Vo, id, t.id));
    if (bad) return bad;
    for (let l = 0; l < weights.blocks.length; l++) {
      const b = weights.blocks[l]!;
      for (let h = 0; h < H; h++) {
        const qk = t.qk[l]?.[h] ?? id;
        const ov = t.ov[l]?.[h] ?? id;
        const m = (n: string) => `blocks.${l}.attn.${n}[${h}]`;
        const bad2 =
          at(m("W_Q"), firstAsymmetry(b.W_Q, h * D * E, D, E, t.resid, qk)) ??
          at(m("W_K"), firstAsymmetry(b.W_K, h * D * E, D, E, t.resid, qk)) ??
          at(m("W_V"), firstAsymmetry(b.W_V, h * D * E, D, E, t.resid, ov)) ??
          at(m("W_O"), firstAsymmetry(b.W_O, h * E * D, E, D, ov, t.resid)) ??
          at(m("b_Q"), firstAsymmetry(b.b_Q, h * E, 1, E, id, qk)) ??
          at(m("b_K"), firstAsymmetry(b.b_K, h * E, 1, E, id, qk)) ??
          at(m("b_V"), firstAsymmetry(b.b_V, h * E, 1, E, id, ov));
        if (bad2) return bad2;
      }
      const bo = at(`blocks.${l}.attn.b_O`, firstAsymmetry(b.b_O, 0, 1, D, id, t.resid));
      if (bo) return bo;
    }
  }
  // Condition 3: sums meet ≤ 1 nonzero term per token block.
  const crowded = (what: string, rc: [number, number] | null) =>
    rc ? `${what}: column ${rc[0]} reads two directions of the token block at row ${rc[1]}, so its sum's order changes under renaming` : null;
  const crowd = crowded("W_U", crowdedColumn(weights.W_U, 0, D, Vo, blocks.resid, V));
  if (crowd) return crowd;
  const tokenBlock = model.layout.blocks.find((b) => b.name === "token")!;
  // The token block enters as an exact one-hot (≤ 1 nonzero per embedding row, nothing from W_pos)…
  for (let t = 0; t < Vi; t++) {
    let n = 0;
    for (let x = 0; x < V; x++) if (weights.W_E.data[t * D + tokenBlock.offset + x] !== 0) n++;
    if (n > 1) return `W_E row ${t} has ${n} nonzero token directions: the token block is not a one-hot`;
  }
  for (let p = 0; p < weights.config.n_ctx; p++) {
    for (let x = 0; x < V; x++) if (weights.W_pos.data[p * D + tokenBlock.offset + x] !== 0) return `W_pos row ${p} writes the token block`;
  }
  for (let l = 0; l < weights.blocks.length; l++) {
    const b = weights.blocks[l]!;
    for (let h = 0; h < H; h++) {
      const m = (n: string) => `blocks.${l}.attn.${n}[${h}]`;
      const c =
        crowded(m("W_Q"), crowdedColumn(b.W_Q, h * D * E, D, E, blocks.resid, V)) ??
        crowded(m("W_K"), crowdedColumn(b.W_K, h * D * E, D, E, blocks.resid, V)) ??
        crowded(m("W_V"), crowdedColumn(b.W_V, h * D * E, D, E, blocks.resid, V)) ??
        crowded(m("W_O"), crowdedColumn(b.W_O, h * E * D, E, D, blocks.ov[l]?.[h] ?? [], V));
      if (c) return c;
      // …and stays one: no head writes it.
      for (let e = 0; e < E; e++) {
        for (let x = 0; x < V; x++) {
          if (b.W_O.data[h * E * D + e * D + tokenBlock.offset + x] !== 0) return `${m("W_O")} writes the token block (column ${tokenBlock.offset + x})`;
        }
      }
    }
    for (let x = 0; x < V; x++) if (b.b_O.data[tokenBlock.offset + x] !== 0) return `blocks.${l}.attn.b_O writes the token block`;
  }
  // Each conjunct over tokens reads the exact token block on one side: its
  // block's columns on that side read only token rows, each row at most one column.
  const inToken = blockIndexOf([tokenBlock.offset], V);
  for (const list of blocks.conjuncts) {
    for (const cj of list) {
      const b = weights.blocks[cj.layer]!;
      const exact = (W: Tensor) => {
        const base = cj.head * D * E;
        const perRow = new Map<number, number>();
        for (let r = 0; r < D; r++) {
          for (let c = cj.offset; c < cj.offset + V; c++) {
            if (W.data[base + r * E + c] === 0) continue;
            if (inToken(r) < 0) return false;
            perRow.set(r, (perRow.get(r) ?? 0) + 1);
            if (perRow.get(r)! > 1) return false;
          }
        }
        return true;
      };
      if (!exact(b.W_Q) && !exact(b.W_K)) {
        return `head '${cj.name}' compares ${cj.key}[j] with ${cj.query}[i] and neither side reads the exact token block: its scores add several nonzero products in an order a renaming changes`;
      }
    }
  }
  return null;
}

/** Why an exhaustive check of this model may not use renaming classes, or null when it may. */
export function symmetryObstacle(model: CompiledModel): string | null {
  return semanticObstacle(model.program) ?? floatObstacle(model.program) ?? weightObstacle(model);
}
