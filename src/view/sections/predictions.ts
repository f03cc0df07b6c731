/**
 * Predictions per position: the program's (symbolic) beside the weights'
 * — decoded from the residual stream for a program compiled here, the
 * greedy token of the logits otherwise — with disagreements marked. Without
 * a program the model's greedy token is set beside the input's next token.
 */
import { decodedAgrees, decodeFeature } from "../../compiler/decode.ts";
import { formatDecoded } from "../../report/format.ts";
import type { SymbolicRun } from "../../semantics/interpret.ts";
import { formatValue, mode } from "../../semantics/values.ts";
import type { ActivationCache } from "../../sim/forward.ts";
import { esc, htmlTable, section } from "../html.ts";
import type { ReportSubject } from "../subject.ts";
import { modelVocabSize, tokenId, vocabIndex } from "../../model/tokenIds.ts";

/** One row of the table. */
export interface PredictionRow {
  readonly pos: number;
  readonly token: string;
  readonly symbolic: string | null;
  readonly model: string;
  /** The input's next token (models without a program). */
  readonly next: string | null;
  /** The weights disagree with the program (or, without one, miss the next token); null where nothing is compared. */
  readonly disagree: boolean | null;
}

/** Greedy token id in [from, to) and its softmax probability over all outputs. */
function top(logits: Float64Array, Vo: number, p: number, from: number, to: number): { id: number; prob: number } {
  let id = from;
  let max = -Infinity;
  for (let v = 0; v < Vo; v++) max = Math.max(max, logits[p * Vo + v]!);
  let z = 0;
  for (let v = 0; v < Vo; v++) z += Math.exp(logits[p * Vo + v]! - max);
  for (let v = from; v < to; v++) if (logits[p * Vo + v]! > logits[p * Vo + id]!) id = v;
  return { id, prob: Math.exp(logits[p * Vo + id]! - max) / z };
}

/** Every position's row (BOS excluded). */
export function predictionRows(subject: ReportSubject, ids: readonly number[], logits: Float64Array, cache: ActivationCache, run: SymbolicRun | null): PredictionRow[] {
  const { d_vocab_out: Vo, n_layers: L } = subject.weights.config;
  const first = subject.bos === null ? 0 : 1;
  const rows: PredictionRow[] = [];
  const program = subject.program;
  const out = program?.features.get(program.output);
  const resid = cache.get(`blocks.${L - 1}.hook_resid_post`)!;
  const D = subject.weights.config.d_model;
  for (let p = first; p < ids.length; p++) {
    const token = subject.tokenNames[ids[p]!]!;
    if (program && run && out) {
      const sym = run.prediction(p);
      if (subject.compiled) {
        const tol = subject.compiled.scales.distTolerance;
        const decoded = decodeFeature(subject.compiled.layout, out, resid.data.subarray(p * D, (p + 1) * D), tol);
        rows.push({ pos: p, token, symbolic: formatValue(program, out.domain, sym), model: formatDecoded(program, out.domain, decoded), next: null, disagree: !decodedAgrees(sym, decoded, tol) });
      } else {
        const t = top(logits, Vo, p, tokenId(0), modelVocabSize(program.vocab.length));
        const m = mode(sym);
        rows.push({
          pos: p, token, symbolic: formatValue(program, out.domain, sym), model: `${program.vocab[vocabIndex(t.id)]} (${t.prob.toFixed(3)})`, next: null,
          disagree: m === null ? null : vocabIndex(t.id) !== m,
        });
      }
    } else {
      const t = top(logits, Vo, p, subject.bos === 0 ? 1 : 0, Vo);
      const next = p + 1 < ids.length ? subject.tokenNames[ids[p + 1]!]! : null;
      rows.push({ pos: p, token, symbolic: null, model: `${subject.tokenNames[t.id] ?? String(t.id)} (${t.prob.toFixed(3)})`, next, disagree: next === null ? null : t.id !== ids[p + 1] });
    }
  }
  return rows;
}

/** Longest table shown at once; longer ones wait in a <template> (see predictionsSection). */
const INLINE_ROWS = 200;

/** The section. */
export function predictionsSection(rows: readonly PredictionRow[], subject: ReportSubject, why: string | null): string {
  if (why) return section("predictions", "Predictions", `<p class="note">Not run: ${esc(why)}.</p>`);
  const withProgram = rows.some((r) => r.symbolic !== null);
  const modelHead = subject.compiled ? "compiled (decoded)" : "model (greedy, p)";
  const header = withProgram ? ["pos", "token", "symbolic", modelHead, ""] : ["pos", "token", "model (greedy, p)", "next in input", ""];
  const body = rows.map((r) => {
    const mark = r.disagree === null ? "" : r.disagree ? `<span class="mark-bad">${withProgram ? "disagree" : "miss"}</span>` : `<span class="mark-ok">✓</span>`;
    return withProgram ? [String(r.pos), esc(r.token), esc(r.symbolic!), esc(r.model), mark] : [String(r.pos), esc(r.token), esc(r.model), esc(r.next ?? "—"), mark];
  });
  const compared = rows.filter((r) => r.disagree !== null);
  const bad = compared.filter((r) => r.disagree).length;
  const summary = withProgram
    ? bad === 0 ? `The weights agree with the program at all ${compared.length} compared positions.` : `The weights disagree with the program at ${bad} of ${compared.length} compared positions.`
    : `The model's greedy token is the input's next token at ${compared.length - bad} of ${compared.length} positions.`;
  const table = htmlTable(header, body, "predictions", (k) => (rows[k]!.disagree ? "disagree" : ""));
  const head = `<p class="summary" data-disagreements="${bad}">${esc(summary)}</p>`;
  if (rows.length <= INLINE_ROWS) return section("predictions", "Predictions", `${head}\n<div class="scroll">${table}</div>`);
  // A long table costs the browser more to lay out than everything else on the page: it stays an inert
  // <template> until asked for, and only the disagreements are shown at once.
  const worst = rows.map((r, k) => ({ r, k })).filter(({ r }) => r.disagree).slice(0, INLINE_ROWS);
  const shown = worst.length
    ? `<div class="scroll">${htmlTable(header, worst.map(({ k }) => body[k]!), "predictions disagreements", () => "disagree")}</div>${bad > worst.length ? `<p class="note">(the first ${worst.length} of ${bad})</p>` : ""}`
    : "";
  return section("predictions", "Predictions", `${head}\n${shown}\n<button type="button" class="show-all" data-template="predictions-all">Show all ${rows.length} positions</button><template id="predictions-all"><div class="scroll">${table}</div></template>`);
}
