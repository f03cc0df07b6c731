/**
 * Finding non-finite and extreme entries in tensors, so that loaders can
 * refuse NaN/±Inf by name and index, and analyses can name the tensor whose
 * magnitude makes a forward pass overflow.
 */
import type { Tensor } from "./weights.ts";

/** A located entry of a named tensor. */
export interface TensorEntry {
  readonly name: string;
  /** Multi-index into the tensor's shape. */
  readonly index: readonly number[];
  readonly value: number;
}

/** Turn a flat row-major offset into a multi-index of `shape`. */
export function unflatten(shape: readonly number[], flat: number): number[] {
  const out = new Array<number>(shape.length).fill(0);
  let rest = flat;
  for (let k = shape.length - 1; k >= 0; k--) {
    const d = shape[k]!;
    out[k] = d === 0 ? 0 : rest % d;
    rest = d === 0 ? 0 : Math.floor(rest / d);
  }
  return out;
}

/** The first NaN or ±Inf in a tensor (row-major order), or null when every entry is finite. */
export function firstNonFinite(name: string, t: Tensor): TensorEntry | null {
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    // x - x is 0 for finite x and NaN for NaN and ±Inf: one test for both.
    if (x - x !== 0) return { name, index: unflatten(t.shape, i), value: x };
  }
  return null;
}

/** The entry of largest magnitude over named tensors (first one on ties), or null when there are no entries. */
export function largestEntry(tensors: Iterable<readonly [string, Tensor]>): TensorEntry | null {
  let best: { name: string; t: Tensor; i: number; abs: number } | null = null;
  for (const [name, t] of tensors) {
    const data = t.data;
    for (let i = 0; i < data.length; i++) {
      const abs = Math.abs(data[i]!);
      if (best === null || abs > best.abs) best = { name, t, i, abs };
    }
  }
  return best === null ? null : { name: best.name, index: unflatten(best.t.shape, best.i), value: best.t.data[best.i]! };
}

/** "embed.W_E[3,5] = NaN", for one-line messages. */
export function formatEntry(e: TensorEntry): string {
  return `${e.name}[${e.index.join(",")}] = ${e.value}`;
}
