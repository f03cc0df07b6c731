/**
 * One compiled head, read back from its weights in named directions: the
 * inverse of src/compiler/heads.ts, working on the *products* W_QK and W_OV
 * (not the compiler's private d_head basis), so it would read any weights
 * that implement the same maps. In score units (W_QK / √d_head):
 *
 *   copy f[j] as g        W_OV block f → block g is the identity (value v → v)
 *   select j = i − k      per clock hand of period n, the 2×2 block of
 *                         W_QK on (pos.cosn, pos.sinn) is A times the rotation
 *                         by φ_n = 2πk/n: [cos,cos] = [sin,sin] = A·cos φ_n,
 *                         [sin,cos] = −[cos,sin] = A·sin φ_n; k is read from
 *                         the longest period and checked against every hand;
 *                         [one, bos] = A·(hands − ½)
 *   conjunct f[j] == g[i] + s
 *                         W_QK[g:u, f:u+s] = β for every u in range: a constant
 *                         diagonal of block (g, f) at offset s; a value of
 *                         c·β is c identical conjuncts
 *   BOS fallback          W_QK[one, bos] = β(m − ½), m conjuncts in all; with
 *                         S = Σ of the conjunct diagonals' values (= mβ) this
 *                         gives β = 2(S − [one, bos]) without knowing m
 *   latest / earliest / every
 *                         sign of the tie term W_QK[one, pos.lin] = ±γ, or none
 *   strict (j < i)        the self penalty W_QK[pos:p, pos:p] = −P for p ≥ 1;
 *                         a `pos[j] == pos[i]` conjunct shares that diagonal,
 *                         so the conjunct is read at p = 0 (which the penalty
 *                         never touches) and P from the difference
 *
 * Anything else in a circuit is an error that names the entry: weights that
 * are not a compiled program are refused, not guessed at.
 */
import { type HeadWeights, type SparseCircuit, sparseCircuit } from "./circuits.ts";
import { blockAtIndex, type NamedBlock, type NamedLayout } from "./named.ts";
import { CircuitsError } from "../errors.ts";

/** Raised when weights do not implement a program (the message names the head and entry). */
export class DecompileError extends CircuitsError {
  override name = "DecompileError";
  readonly kind = "weights";
}

/** A conjunct as the checker stores it: key[j] == query[i] + shift. */
export interface RecoveredCondition {
  readonly key: string;
  readonly query: string;
  readonly shift: number;
}

export type RecoveredSelect =
  | { readonly kind: "offset"; readonly k: number }
  | {
      readonly kind: "match";
      readonly rule: "latest" | "earliest" | "every";
      readonly strict: boolean;
      readonly conditions: readonly RecoveredCondition[];
    };

/** A head as read from the weights, with the scale constants found on the way. */
export interface RecoveredHead {
  /** TransformerLens block (0-based; program layer block + 1). */
  readonly block: number;
  readonly index: number;
  readonly select: RecoveredSelect;
  readonly copies: readonly { readonly from: string; readonly to: string }[];
  /** β, γ, P (match heads) or b (offset heads), in attention-score units. */
  readonly constants: Readonly<Record<string, number>>;
}

/** Entries closer to zero than this fraction of a circuit's largest one are rounding noise. */
const REL_TOL = 1e-5;

type Cell = { readonly r: number; readonly c: number; readonly v: number }; // indices within the blocks

/** A circuit's entries grouped by (row block, column block). */
function byBlocks(circuit: SparseCircuit, layout: NamedLayout): { groups: Map<string, Cell[]>; scale: number } {
  const all = [...circuit.entries()];
  const scale = Math.max(0, ...all.map(([, , v]) => Math.abs(v)));
  const groups = new Map<string, Cell[]>();
  for (const [r, c, v] of all) {
    if (Math.abs(v) <= REL_TOL * scale) continue;
    const rb = blockAtIndex(layout, r)!;
    const cb = blockAtIndex(layout, c)!;
    const key = `${rb.name}\u0000${cb.name}`;
    const list = groups.get(key) ?? [];
    list.push({ r: r - rb.offset, c: c - cb.offset, v });
    groups.set(key, list);
  }
  return { groups, scale };
}

const splitKey = (key: string) => key.split("\u0000") as [string, string];

/** Read a compiled head's selection and copies from its circuits. */
export function readHead(h: HeadWeights, layout: NamedLayout, context: number): RecoveredHead {
  const where = `head L${h.block}H${h.head}`;
  const fail = (msg: string): never => {
    throw new DecompileError(`${where}: ${msg}`);
  };
  const block = (name: string) => layout.blocks.find((b) => b.name === name) ?? fail(`the layout has no block '${name}'`);
  const copies = readCopies(sparseCircuit(h, "OV"), layout, block, fail);
  const { select, constants } = readSelect(h, layout, context, block, fail);
  return { block: h.block, index: h.head, select, copies, constants };
}

type Fail = (msg: string) => never;
type BlockOf = (name: string) => NamedBlock;

function readCopies(ov: SparseCircuit, layout: NamedLayout, block: BlockOf, fail: Fail): { from: string; to: string }[] {
  const { groups, scale } = byBlocks(ov, layout);
  const copies: { from: string; to: string; offset: number }[] = [];
  for (const [key, cells] of groups) {
    const [from, to] = splitKey(key);
    const src = block(from);
    const dst = block(to);
    if (dst.kind !== "feature") fail(`W_OV writes into '${to}', which no head may write`);
    if (copies.some((c) => c.to === to)) fail(`W_OV writes '${to}' from two blocks`);
    if (src.domain !== dst.domain || src.size !== dst.size) fail(`W_OV maps '${from}' (${src.domain}) into '${to}' (${dst.domain})`);
    const off = cells.find((x) => x.r !== x.c || Math.abs(x.v - 1) > REL_TOL * Math.max(1, scale));
    if (off || cells.length !== src.size) {
      fail(`W_OV ${from} → ${to} is not a copy (${off ? `entry ${src.labels[off.r]} → ${dst.labels[off.c]} = ${off.v}` : `${cells.length} of ${src.size} values`})`);
    }
    copies.push({ from, to, offset: dst.offset });
  }
  if (!copies.length) fail("W_OV is zero: the head copies nothing");
  return copies.sort((a, b) => a.offset - b.offset).map(({ from, to }) => ({ from, to }));
}

function readSelect(
  h: HeadWeights, layout: NamedLayout, C: number, block: BlockOf, fail: Fail,
): { select: RecoveredSelect; constants: Record<string, number> } {
  const { groups, scale } = byBlocks(sparseCircuit(h, "QK"), layout);
  const tol = REL_TOL * scale;
  const take = (q: string, k: string): Cell[] => {
    const cells = groups.get(`${q}\u0000${k}`) ?? [];
    groups.delete(`${q}\u0000${k}`);
    return cells;
  };
  const entry = (cells: Cell[], r: number, c: number) => cells.find((x) => x.r === r && x.c === c)?.v ?? 0;
  const leftover = () => {
    const [key, cells] = [...groups][0] ?? [];
    if (key && cells) {
      const [q, k] = splitKey(key);
      fail(`unexpected QK entry ${block(q).labels[cells[0]!.r]} · ${block(k).labels[cells[0]!.c]} = ${cells[0]!.v}`);
    }
  };
  const positionLabels = block("position").labels;
  const posLin = positionLabels.indexOf("pos.lin");
  const onePosition = take("one", "position");
  const tieTerm = entry(onePosition, 0, posLin);
  const stray = onePosition.find((x) => x.c !== posLin);
  if (stray) fail(`unexpected QK entry one · ${positionLabels[stray.c]}`);

  const positional = take("position", "position");
  if (positional.length) {
    if (tieTerm !== 0) fail("QK has both a clock and a tie-break: not a compiled selection");
    const { k, amplitude } = readClock(positional, positionLabels, tol, fail);
    const bosTerm = entry(take("one", "bos"), 0, 0);
    const hands = positionLabels.filter((l) => l.startsWith("pos.cos")).length;
    if (Math.abs(bosTerm - amplitude * (hands - 0.5)) > tol) fail(`the BOS term ${bosTerm} is not A·(hands − ½) = ${amplitude * (hands - 0.5)}`);
    leftover();
    return { select: { kind: "offset", k }, constants: { clockAmplitude: amplitude } };
  }

  const bosTerm = entry(take("one", "bos"), 0, 0);
  if (bosTerm === 0) fail("QK reads neither positions nor BOS: not a compiled selection");
  // Conjunct diagonals between value blocks (token, pos, features).
  const diagonals: { q: string; k: string; shift: number; value: number }[] = [];
  let penalty = 0;
  for (const [key, cells] of [...groups]) {
    const [q, k] = splitKey(key);
    const qb = block(q);
    const kb = block(k);
    if (qb.domain === null || kb.domain === null) continue; // left for leftover() to report
    if (qb.domain !== kb.domain) fail(`QK compares '${q}' (${qb.domain}) with '${k}' (${kb.domain})`);
    groups.delete(key);
    const n = qb.size;
    const shifts = new Map<number, Cell[]>();
    for (const x of cells) shifts.set(x.c - x.r, [...(shifts.get(x.c - x.r) ?? []), x]);
    for (const [shift, diag] of shifts) {
      const selfDiagonal = qb.kind === "pos" && kb.kind === "pos" && shift === 0;
      // On pos·pos the self penalty covers p ≥ 1; the conjunct alone shows at p = 0.
      const value = selfDiagonal ? entry(diag, 0, 0) : diag[0]!.v;
      const rest = selfDiagonal ? diag.filter((x) => x.r >= 1) : diag;
      const restValue = selfDiagonal ? value - (rest[0]?.v ?? value) : 0;
      if (selfDiagonal) penalty = restValue;
      const expected = selfDiagonal ? n - 1 : n - Math.abs(shift);
      if (rest.length !== expected || rest.some((x) => Math.abs(x.v - rest[0]!.v) > tol)) {
        fail(`QK ${q}[i] · ${k}[j] at shift ${shift} is not a constant diagonal`);
      }
      if (Math.abs(value) > tol) diagonals.push({ q, k, shift, value });
    }
  }
  leftover();
  const sum = diagonals.reduce((s, d) => s + d.value, 0);
  const beta = 2 * (sum - bosTerm);
  if (!(beta > tol)) fail(`the BOS term ${bosTerm} and the conjuncts (Σ ${sum}) give no positive β`);
  const conditions: (RecoveredCondition & { order: number })[] = [];
  for (const d of diagonals) {
    const mult = d.value / beta;
    if (Math.abs(mult - Math.round(mult)) > 1e-4 || Math.round(mult) < 1) {
      fail(`QK ${d.q}[i] · ${d.k}[j] has weight ${(d.value / beta).toFixed(4)}·β, not a whole number of conjuncts`);
    }
    const order = firstDim(h, block(d.q), block(d.k), d.shift);
    for (let c = 0; c < Math.round(mult); c++) conditions.push({ key: d.k, query: d.q, shift: d.shift, order });
  }
  const rule = Math.abs(tieTerm) <= tol ? "every" : tieTerm > 0 ? "latest" : "earliest";
  const strict = penalty > tol;
  if (penalty < -tol) fail(`the self term on pos·pos is a bonus (${-penalty}), not a penalty`);
  conditions.sort((a, b) => a.order - b.order);
  return {
    select: { kind: "match", rule, strict, conditions: conditions.map(({ key, query, shift }) => ({ key, query, shift })) },
    constants: { beta, gamma: Math.abs(tieTerm), penalty },
  };
}

/**
 * The offset k of a clock circuit: every hand's 2×2 block must be the same
 * amplitude times a rotation, and the rotations must all be by k (mod their
 * periods). The longest period exceeds C + k, so it alone fixes k.
 */
function readClock(cells: Cell[], labels: readonly string[], tol: number, fail: Fail): { k: number; amplitude: number } {
  const at = (q: string, key: string) => {
    const r = labels.indexOf(q);
    const c = labels.indexOf(key);
    return cells.find((x) => x.r === r && x.c === c)?.v ?? 0;
  };
  const periods = labels.filter((l) => l.startsWith("pos.cos")).map((l) => Number(l.slice("pos.cos".length)));
  const used = new Set<Cell>();
  let amplitude = 0;
  const hands: { n: number; phi: number }[] = [];
  for (const n of periods) {
    const [cc, sc, ss, cs] = [at(`pos.cos${n}`, `pos.cos${n}`), at(`pos.sin${n}`, `pos.cos${n}`), at(`pos.sin${n}`, `pos.sin${n}`), at(`pos.cos${n}`, `pos.sin${n}`)];
    if (Math.abs(cc - ss) > tol || Math.abs(sc + cs) > tol) fail(`clock hand ${n} of the positional QK is not a rotation`);
    const a = Math.hypot(cc, sc);
    if (hands.length && Math.abs(a - amplitude) > tol) fail(`clock hands have different amplitudes (${amplitude} and ${a})`);
    amplitude = a;
    hands.push({ n, phi: Math.atan2(sc, cc) });
    const hand = new Set([`pos.cos${n}`, `pos.sin${n}`]);
    for (const x of cells) if (hand.has(labels[x.r]!) && hand.has(labels[x.c]!)) used.add(x);
  }
  if (!(amplitude > tol) || used.size !== cells.length) fail("positional QK is not the j = i − k clock");
  const top = hands[hands.length - 1]!;
  const k = Math.round(((top.phi / (2 * Math.PI)) * top.n + top.n) % top.n);
  for (const { n, phi } of hands) {
    const want = (2 * Math.PI * (k % n)) / n;
    const diff = Math.abs(Math.atan2(Math.sin(phi - want), Math.cos(phi - want)));
    if (diff > 1e-6) fail(`clock hand ${n} turns by ${((phi / (2 * Math.PI)) * n).toFixed(4)} positions, not by the offset ${k}`);
  }
  return { k, amplitude };
}

/**
 * Cosmetic only: the first d_head dimension through which query block q
 * meets key block k at this shift, so conjuncts print in the order the
 * weights store them (the compiler's c0, c1, …). W_QK itself has no order.
 */
function firstDim(h: HeadWeights, q: NamedBlock, k: NamedBlock, shift: number): number {
  const E = h.dHead;
  for (let e = 0; e < E; e++) {
    for (let u = 0; u < q.size; u++) {
      const v = u + shift;
      if (v < 0 || v >= k.size) continue;
      if (h.W_Q.data[(q.offset + u) * E + e] !== 0 && h.W_K.data[(k.offset + v) * E + e] !== 0) return e;
    }
  }
  return E;
}
