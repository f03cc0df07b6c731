/**
 * The QK and OV circuits of every head (Elhage et al. 2021, "A Mathematical
 * Framework for Transformer Circuits"), in TransformerLens's row-vector
 * convention: with residual rows x_i (query) and x_j (key),
 *
 *   score(i, j) = x_i W_Q W_Kᵀ x_jᵀ / √d_head      → W_QK = W_Q W_Kᵀ   [D, D]
 *   head output at i = Σ_j a_ij x_j W_V W_O         → W_OV = W_V W_O    [D, D]
 *
 * so W_QK's rows are query directions and its columns key directions, and
 * W_OV's rows are the directions a head reads at the key, its columns the
 * directions it writes. The full circuits put tokens on both ends:
 * W_E W_QK W_Eᵀ [V, V] (query token × key token) and W_E W_OV W_U [V, Vo]
 * (attended token × logit). Biases are left out, as TransformerLens does.
 *
 * Dense [D, D] matrices cost D² memory, which a compiled model with a large
 * context cannot afford, so the named-direction helpers work on the sparse
 * sum of per-dimension outer products instead.
 */
import type { Weights } from "../model/weights.ts";
import { type Mat, isZero, matmul, matmulT, sliceMat, tensorToMat } from "./linalg.ts";
import { labelAt, type NamedLayout, namedBlock } from "./named.ts";

/** A head by position: TransformerLens block (0-based `blocks.N`) and head index. */
export interface HeadRef {
  readonly block: number;
  readonly head: number;
}

/** One head's weights: W_Q, W_K, W_V [D, E] and W_O [E, D]. */
export interface HeadWeights extends HeadRef {
  readonly W_Q: Mat;
  readonly W_K: Mat;
  readonly W_V: Mat;
  readonly W_O: Mat;
  /** d_head, for the 1/√d_head of attention scores. */
  readonly dHead: number;
}

/** The weights of head `head` in layer `layer`. */
export function headWeights(weights: Weights, layer: number, head: number): HeadWeights {
  const b = weights.blocks[layer];
  if (!b || head < 0 || head >= weights.config.n_heads) throw new Error(`headWeights: no head L${layer}H${head}`);
  return {
    block: layer,
    head,
    W_Q: sliceMat(b.W_Q, head),
    W_K: sliceMat(b.W_K, head),
    W_V: sliceMat(b.W_V, head),
    W_O: sliceMat(b.W_O, head),
    dHead: weights.config.d_head,
  };
}

/**
 * Every head with any nonzero weight, in layer order. A compiled layer with
 * fewer heads than n_heads is padded with all-zero heads; they compute
 * nothing and are left out of every analysis.
 */
export function activeHeads(weights: Weights): HeadWeights[] {
  const out: HeadWeights[] = [];
  weights.blocks.forEach((_, l) => {
    for (let h = 0; h < weights.config.n_heads; h++) {
      const w = headWeights(weights, l, h);
      if (![w.W_Q, w.W_K, w.W_V, w.W_O].every(isZero)) out.push(w);
    }
  });
  return out;
}

/** W_OV = W_V W_O [D, D]: rows read at the attended position, columns written. */
export function ovCircuit(h: HeadWeights): Mat {
  return matmul(h.W_V, h.W_O);
}

/** W_QK = W_Q W_Kᵀ [D, D]: rows are query directions, columns key directions (no 1/√d_head). */
export function qkCircuit(h: HeadWeights): Mat {
  return matmulT(h.W_Q, h.W_K);
}

/** Full QK circuit W_E W_QK W_Eᵀ [V, V]: query token × key token (no 1/√d_head). */
export function fullQKCircuit(weights: Weights, h: HeadWeights): Mat {
  const E = tensorToMat(weights.W_E);
  return matmulT(matmul(E, h.W_Q), matmul(E, h.W_K));
}

/** Full OV circuit W_E W_OV W_U [V, Vo]: attended token × output logit. */
export function fullOVCircuit(weights: Weights, h: HeadWeights): Mat {
  return matmul(matmul(tensorToMat(weights.W_E), h.W_V), matmul(h.W_O, tensorToMat(weights.W_U)));
}

/** A [D, D] circuit stored as its nonzero entries. */
export interface SparseCircuit {
  readonly size: number;
  /** Entry (row, col); 0 where nothing is stored. */
  get(row: number, col: number): number;
  /** Every stored (row, col, value). */
  entries(): Generator<[number, number, number]>;
}

/**
 * A head's QK or OV circuit as a sparse [D, D] map: Σ_e A[:,e] B[e,:] over the
 * nonzero entries only. QK is in attention-score units (divided by √d_head),
 * so its entries are the logits a query direction gives a key direction.
 */
export function sparseCircuit(h: HeadWeights, which: "QK" | "OV"): SparseCircuit {
  const D = h.W_Q.rows;
  const E = h.dHead;
  // Left factor columns and right factor rows, both as [E] lists of (index, value).
  const left = which === "QK" ? h.W_Q : h.W_V; // [D, E]
  const right = which === "QK" ? h.W_K : null; // [D, E] (transposed use) or W_O [E, D]
  const factor = which === "QK" ? 1 / Math.sqrt(E) : 1;
  const nz = (get: (d: number) => number): [number, number][] => {
    const out: [number, number][] = [];
    for (let d = 0; d < D; d++) {
      const x = get(d);
      if (x !== 0) out.push([d, x]);
    }
    return out;
  };
  const store = new Map<number, number>();
  for (let e = 0; e < E; e++) {
    const a = nz((d) => left.data[d * E + e]!);
    if (!a.length) continue;
    const b = right ? nz((d) => right.data[d * E + e]!) : nz((d) => h.W_O.data[e * D + d]!);
    for (const [r, x] of a) for (const [c, y] of b) store.set(r * D + c, (store.get(r * D + c) ?? 0) + x * y * factor);
  }
  return {
    size: D,
    get: (r, c) => store.get(r * D + c) ?? 0,
    *entries() {
      for (const [k, v] of store) if (v !== 0) yield [Math.floor(k / D), k % D, v];
    },
  };
}

/** One circuit entry between two named directions. */
export interface NamedEntry {
  /** QK: the query direction; OV: the direction read. */
  readonly row: string;
  /** QK: the key direction; OV: the direction written. */
  readonly col: string;
  readonly value: number;
}

/** Options of {@link largestEntries}. */
export interface LargestOptions {
  /** How many entries (default 10). */
  readonly top?: number;
  /** Only rows in these blocks (names); default all. */
  readonly rowBlocks?: readonly string[];
  /** Only columns in these blocks (names); default all. */
  readonly colBlocks?: readonly string[];
}

/** The largest-magnitude entries of a head's QK or OV circuit, labelled by direction names. */
export function largestEntries(h: HeadWeights, which: "QK" | "OV", layout: NamedLayout | undefined, opts: LargestOptions = {}): NamedEntry[] {
  const within = (names: readonly string[] | undefined) => {
    if (!names || !layout) return () => true;
    const ranges = names.map((n) => {
      const b = namedBlock(layout, n);
      if (!b) throw new Error(`largestEntries: the layout has no block '${n}'`);
      return [b.offset, b.offset + b.size] as const;
    });
    return (d: number) => ranges.some(([s, e]) => d >= s && d < e);
  };
  const rowOk = within(opts.rowBlocks);
  const colOk = within(opts.colBlocks);
  const picked: [number, number, number][] = [];
  for (const [r, c, v] of sparseCircuit(h, which).entries()) if (rowOk(r) && colOk(c)) picked.push([r, c, v]);
  picked.sort((x, y) => Math.abs(y[2]) - Math.abs(x[2]) || x[0] - y[0] || x[1] - y[1]);
  return picked.slice(0, opts.top ?? 10).map(([r, c, v]) => ({ row: labelAt(layout, r), col: labelAt(layout, c), value: v }));
}
