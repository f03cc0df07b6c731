/**
 * Source text of the k-gram induction program I_k (the proofs' notation):
 * k−1 previous-token heads lay the last k tokens side by side, and one match
 * head finds the latest (or earliest) j whose k tokens ending at j−1 equal
 * the k tokens ending at i, copying token[j]. With `j <= i` this is exactly
 * I_k (the occurrence ending at i−1 counts); `j < i` skips that one.
 */

export interface IkOptions {
  readonly k: number;
  readonly vocab: readonly string[];
  readonly context: number;
  readonly rule?: "latest" | "earliest" | "every";
  readonly strict?: boolean;
}

/** The I_k program as source text (load it with `load`). */
export function inductionProgramText(o: IkOptions): string {
  const { k } = o;
  if (!Number.isInteger(k) || k < 1) throw new Error(`I_k: k must be a positive integer, got ${k}`);
  const lag = (d: number) => (d === 0 ? "token" : `lag${d}`);
  const lines = [
    `# I_${k}: ${o.rule ?? "latest"} ${k}-gram induction${o.strict ? " (j < i)" : ""}`,
    `vocab ${o.vocab.join(" ")}`,
    `context ${o.context}`,
    "",
    "layer 1",
  ];
  for (let d = 1; d <= k; d++) lines.push(`  head lag${d}: select j = i - ${d}; copy token[j] as ${lag(d)}`);
  const where = Array.from({ length: k }, (_, d) => `${lag(d + 1)}[j] == ${lag(d)}[i]`).join(" and ");
  lines.push(
    "",
    "layer 2",
    `  head induction: select ${o.rule ?? "latest"} j ${o.strict ? "<" : "<="} i where ${where}; copy token[j] as next`,
    "",
    "output next",
    "",
  );
  return lines.join("\n");
}
