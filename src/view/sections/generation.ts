/**
 * Generation: N tokens greedily from the weights after the input, the loop
 * they fall into (observed: two full periods) marked on the tokens, and —
 * for a program — the loop predicted without the model beside it (the I_k
 * successor table, or the first repeated state of a finite-state program),
 * and the semantics' own generation for comparison.
 */
import { generateCompiled } from "../../generate/compiled.ts";
import { type Cycle, findCycle, type ObservedCycle } from "../../generate/cycles.ts";
import { finiteStateLoop } from "../../generate/finiteState.ts";
import { generate } from "../../generate/generate.ts";
import { asInduction, predictInductionCycle } from "../../generate/predict.ts";
import { generateSymbolic } from "../../generate/symbolic.ts";
import { finiteStateObstacle } from "../../semantics/interpret.ts";
import { esc, section } from "../html.ts";
import type { ReportSubject } from "../subject.ts";
import { modelVocabSize, tokenId, vocabIndices } from "../../model/tokenIds.ts";

/** What generation produced and what was predicted. */
export interface GenerationView {
  readonly prompt: readonly string[];
  readonly generated: readonly string[];
  /** The semantics' generation (program known), else null. */
  readonly symbolic: readonly string[] | null;
  readonly stopped: boolean;
  readonly cycle: ObservedCycle | null;
  readonly predicted: (Cycle & { readonly method: string }) | null;
  /** Why no loop is predicted (no program, or not finite-state). */
  readonly notPredicted: string | null;
  /** Steps asked for but cut by the context. */
  readonly requested: number;
}

/** Generate greedily after the input ids (BOS first where the model has one). */
export function computeGeneration(subject: ReportSubject, ids: readonly number[], steps: number): GenerationView {
  const names = (ts: readonly number[]) => ts.map((t) => subject.tokenNames[t] ?? String(t));
  const first = subject.bos === null ? 0 : 1;
  const program = subject.program;
  const promptIds = ids.slice(first);
  let generatedIds: number[];
  let stopped = false;
  if (subject.compiled) {
    // The compiled generator: ⊥ (flat logits) emits the first vocabulary token, as `circuits generate` does.
    const g = generateCompiled(subject.compiled, vocabIndices(promptIds), { steps });
    generatedIds = g.generated.map(tokenId);
    stopped = g.stopped;
  } else {
    const range: [number, number] = program ? [tokenId(0), modelVocabSize(program.vocab.length)] : [subject.bos === 0 ? 1 : 0, subject.weights.config.d_vocab_out];
    generatedIds = generate(subject.weights, ids, { steps, range }).generated;
  }
  const cycle = findCycle(generatedIds);
  let symbolic: string[] | null = null;
  let predicted: GenerationView["predicted"] = null;
  let notPredicted: string | null = "no program is known for these weights";
  if (program) {
    const prompt = vocabIndices(promptIds);
    symbolic = generateSymbolic(program, prompt, { steps: generatedIds.length }).generated.map((t) => program.vocab[t]!);
    const shape = asInduction(program);
    const obstacle = finiteStateObstacle(program);
    const p = shape ? { ...predictInductionCycle(shape, prompt), method: `successor table of I_${shape.k} (${shape.rule})` }
      : obstacle === null ? { ...finiteStateLoop(program, prompt), method: "first repeated state of the finite-state program" } : null;
    predicted = p?.cycle ? { ...p.cycle, method: p.method } : null;
    notPredicted = p ? (p.cycle ? null : "generation stops before a loop") : `not a finite-state program: ${obstacle}`;
  }
  return { prompt: names(promptIds), generated: names(generatedIds), symbolic, stopped, cycle, predicted, notPredicted, requested: steps };
}

/** Tokens as spans, those from `start` on in the loop, each period's first token marked. */
function tokenRow(tokens: readonly string[], cycle: Cycle | null, cls: string): string {
  return tokens.map((t, k) => {
    const inLoop = cycle !== null && k >= cycle.prePeriod;
    const c = [cls, inLoop ? "loop" : "", inLoop && (k - cycle!.prePeriod) % cycle!.period === 0 ? "period-start" : ""].filter(Boolean).join(" ");
    return `<span class="${c}" data-step="${k}">${esc(t)}</span>`;
  }).join("");
}

/** The section. */
export function generationSection(g: GenerationView): string {
  const c = g.cycle;
  const p = g.predicted;
  const matches = c && p ? c.prePeriod === p.prePeriod && c.period === p.period : null;
  const lines = [
    `<p>Greedy generation of ${g.generated.length} tokens${g.generated.length < g.requested ? ` (${g.requested} asked for; the context ends there)` : ""} after the input.</p>`,
    `<div class="gen-row"><span class="gen-label">prompt</span><span class="tokens">${g.prompt.map((t) => `<span class="tok prompt">${esc(t)}</span>`).join("")}</span></div>`,
    `<div class="gen-row"><span class="gen-label">generated</span><span class="tokens" id="generated" data-pre-period="${c?.prePeriod ?? ""}" data-period="${c?.period ?? ""}">${tokenRow(g.generated, c, "tok gen")}</span></div>`,
  ];
  if (p) {
    const predictedTokens = g.symbolic ?? g.generated;
    lines.push(`<div class="gen-row"><span class="gen-label">predicted loop</span><span class="tokens" id="predicted" data-pre-period="${p.prePeriod}" data-period="${p.period}">${tokenRow(predictedTokens, p, "tok pred")}</span></div>`);
  }
  if (g.symbolic && g.symbolic.join(" ") !== g.generated.join(" ")) {
    lines.push(`<div class="gen-row"><span class="gen-label">semantics</span><span class="tokens">${g.symbolic.map((t) => `<span class="tok">${esc(t)}</span>`).join("")}</span></div>`);
  }
  lines.push(`<p class="loop-summary" data-mark="loop">${c ? `Observed loop: pre-period ${c.prePeriod}, period ${c.period} (${c.repetitions} periods seen).` : `No loop observed within ${g.generated.length} steps (a loop counts after two full periods).`}` +
    ` ${p ? `Predicted without the model: pre-period ${p.prePeriod}, period ${p.period} (${esc(p.method)})${matches === null ? "" : matches ? " — matches." : " — DOES NOT MATCH."}` : `No prediction: ${esc(g.notPredicted ?? "")}.`}` +
    `${g.symbolic ? g.symbolic.join(" ") === g.generated.join(" ") ? " The semantics generates the same tokens." : " The semantics generates different tokens (row above)." : ""}</p>`);
  return section("generation", "Generation", lines.join("\n"));
}
