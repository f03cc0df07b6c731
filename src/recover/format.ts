/**
 * Text reports of the search and of `check --weights`. Every line of the
 * search report is a comment except the program, so the whole output is a
 * program file: `circuits decompile m.safetensors > m.circ` loads.
 */
import type { PredictionAgreement } from "./agreement.ts";
import type { CheckWeightsResult } from "./checkWeights.ts";
import { type MappedHead, pct, type RecoverResult, score } from "./search.ts";

const frac = (x: number | null) => (x === null ? "—" : pct(x));

/** Agreement lines: overall, then one per class. */
export function formatPrediction(p: PredictionAgreement, prefix = ""): string[] {
  const lines = [
    `${prefix}prediction agreement: ${frac(p.fraction)} of the ${p.defined} positions where the program predicts a token ` +
      `(⊥ at ${p.none}${p.ties ? `, a tied mode at ${p.ties}` : ""}, not scored); explains ${pct(p.explained)} of all ${p.total}`,
  ];
  const w = Math.max(...p.classes.map((c) => c.class.length));
  for (const c of p.classes) {
    lines.push(`${prefix}  ${c.class.padEnd(w)}  ${frac(c.fraction).padStart(7)}  (${c.agree} / ${c.defined})  ⊥ ${c.none}${c.ties ? `  tied ${c.ties}` : ""}`);
  }
  return lines;
}

/** One line per mapped head. */
export function formatHeads(heads: readonly MappedHead[], prefix = ""): string[] {
  const w = Math.max(...heads.map((h) => h.head.length));
  return heads.map((h) => {
    const where = h.block < 0 ? "(no model head)" : `blocks.${h.block} head ${h.index}`;
    const bos = h.bosWhenNone === null ? "" : `; on BOS ${pct(h.bosWhenNone)} at ${h.none} ⊥`;
    return `${prefix}  ${h.head.padEnd(w)} → ${where}: ${frac(h.attention)} of attention on the selection at ${h.defined} positions${bos}   [${h.select}]`;
  });
}

/** The search report; the program (when one was found) is uncommented source. */
export function formatRecovery(r: RecoverResult, source: string): string {
  const out = [
    `# ${source}: no layout in the file — searched ${r.space.candidates} programs (${r.space.mappable} with every head on an agreeing model head) in ${r.seconds.toFixed(2)} s`,
    `# space: ${r.space.bound}`,
    `# probes: ${r.probes.repeats} [BOS] r r + ${r.probes.uniform} uniform random (seed ${r.probes.seed}), ${r.probes.positions} positions; ` +
      `a head maps where its attention agreement is ≥ ${pct(r.thresholds.minAttention)}`,
  ];
  if (r.vocabularyNote) out.push(`# note: ${r.vocabularyNote}`);
  out.push(`# ${r.verdict}`);
  // A near miss predicts better than anything within the threshold: it is the program shown.
  const shown = r.nearMiss ?? r.best;
  if (!shown) return `${out.join("\n")}\n`;
  out.push("", shown.text.trimEnd(), "");
  out.push("# head mapping (program head → model head, attention where the selection is defined):", ...formatHeads(shown.heads, "#"));
  out.push(...formatPrediction(shown.prediction, "# "));
  if (r.nearMiss && r.best) {
    out.push("", "# the best program with every head at or above the attention threshold:");
    for (const l of r.best.text.split("\n")) if (/^\s*(layer|head|output) /.test(l)) out.push(`#   ${l.trim()}`);
    out.push(...formatHeads(r.best.heads, "#"), ...formatPrediction(r.best.prediction, "# ").slice(0, 1));
  }
  if (!r.best) return `${out.join("\n")}\n`;
  if (r.equivalentOnProbes) out.push(`# ${r.equivalentOnProbes} other program(s) of the space predict exactly the same at every probe position`);
  if (r.runnerUp && r.margin) {
    out.push(
      `# runner-up (predicts differently somewhere): score ${pct(score(r.runnerUp))} (margin ${pct(r.margin.score)}; score = (right − wrong) / positions, best ${pct(score(r.best))}), ` +
        `explains ${pct(r.runnerUp.prediction.explained)} (margin ${pct(r.margin.explained)}), ` +
        `agreement ${frac(r.runnerUp.prediction.fraction)} where defined, mean attention ${pct(r.runnerUp.attention)} (margin ${pct(r.margin.attention)})`,
    );
    for (const l of r.runnerUp.text.split("\n")) if (/^\s+head /.test(l)) out.push(`#   ${l.trim()}`);
  }
  return `${out.join("\n")}\n`;
}

/** The `check --weights` report. */
export function formatCheckWeights(r: CheckWeightsResult, program: string, model: string): string {
  const how = r.mode === "exhaustive" ? `every sequence of length ${r.length} (${r.sequences}; shorter ones are their prefixes)` : `${r.sequences} random sequences (half [BOS] r r)`;
  const out = [`${program} vs ${model}: ${how}`, ...formatPrediction(r.prediction)];
  const mapping = r.mapping === "given" ? "as given by --map" : r.mapping === "found" ? "by best agreement in layer order" : "no placement: the model has too few layers or heads";
  out.push(`attention on ${r.attentionSequences} sequences, heads placed ${mapping}:`, ...formatHeads(r.heads));
  return `${out.join("\n")}\n`;
}
