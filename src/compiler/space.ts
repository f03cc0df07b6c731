/**
 * Named vector spaces and the maps between them. The compiler never writes a
 * raw index: it says "the query direction `prev:c` reads `token:c` with weight
 * β", and only `toTensor` turns such statements into a dense matrix. This
 * keeps every weight explainable by the names of its row and column.
 */
import type { Tensor } from "../model/weights.ts";

/** An ordered set of named directions (basis labels). */
export class Space {
  private readonly index = new Map<string, number>();

  constructor(readonly labels: readonly string[]) {
    labels.forEach((l, k) => {
      if (this.index.has(l)) throw new Error(`Space: duplicate direction '${l}'`);
      this.index.set(l, k);
    });
  }

  get size(): number {
    return this.labels.length;
  }

  /** Index of a direction; throws naming the direction if it is absent. */
  at(label: string): number {
    const k = this.index.get(label);
    if (k === undefined) throw new Error(`Space: no direction '${label}'`);
    return k;
  }

  has(label: string): boolean {
    return this.index.has(label);
  }
}

/** A sparse linear map described entry by entry in named directions. */
export class NamedMap {
  private readonly entries = new Map<string, number>();

  constructor(
    readonly from: Space,
    readonly to: Space,
  ) {}

  /** Add `value` to the weight from direction `row` (input) to `col` (output). */
  add(row: string, col: string, value: number): this {
    const key = `${this.from.at(row)},${this.to.at(col)}`;
    this.entries.set(key, (this.entries.get(key) ?? 0) + value);
    return this;
  }

  /** The (row, col, value) triples, by index. */
  *triples(): Generator<[number, number, number]> {
    for (const [key, v] of this.entries) {
      const [r, c] = key.split(",").map(Number) as [number, number];
      yield [r, c, v];
    }
  }

  /**
   * Write the map as a dense row-major [from, to] matrix into `out` starting
   * at `offset`, with `cols` columns (so a [d_model, d_head] slab of W_Q may
   * be wider than this map's own output space).
   */
  writeInto(out: Float64Array, offset: number, cols: number, scale = 1): void {
    for (const [r, c, v] of this.triples()) out[offset + r * cols + c] = v * scale;
  }

  /** A standalone dense tensor of this map. */
  toTensor(): Tensor {
    const data = new Float64Array(this.from.size * this.to.size);
    this.writeInto(data, 0, this.to.size);
    return { shape: [this.from.size, this.to.size], data };
  }
}
