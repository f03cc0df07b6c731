/**
 * The report without a browser: the packed patterns decode to the model's
 * weights, highlighting and script JSON escape everything, the CLI's errors
 * are one line and leave no file, the CircuitsVis and DOT exports hold what
 * the model computes, and the page is the same bytes for the same input.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import fc from "fast-check";
import { fcParams } from "../support/seed.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeModel } from "../../src/analysis/analyze.ts";
import { compositionDot } from "../../src/analysis/dot.ts";
import { analyzeCommand } from "../../src/cli/analyzeCmd.ts";
import { compile } from "../../src/compiler/compile.ts";
import { load } from "../../src/lang/check.ts";
import { reportCommand } from "../../src/cli/reportCmd.ts";
import { encodeSafetensors } from "../../src/model/safetensors.ts";
import { stateDict } from "../../src/model/weights.ts";
import { saveWeights } from "../../src/model/weightsFile.ts";
import { forward } from "../../src/sim/forward.ts";
import { randomWeights } from "../../src/sim/random.ts";
import { packPatterns, unpackWeight } from "../../src/view/attention.ts";
import { highlightSource } from "../../src/view/highlight.ts";
import { scriptJson } from "../../src/view/html.ts";
import { runInProcess } from "../support/inProcess.ts";

let dir: string;
let foreign: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "report-"));
  // A model with no program, no layout and no token names: what `analyze` accepts from elsewhere.
  foreign = join(dir, "random.safetensors");
  saveWeights(foreign, randomWeights({ d_model: 16, d_head: 4, n_heads: 3, n_layers: 2, n_ctx: 12, d_vocab: 6 }, 7));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const unescape = (html: string) => html.replace(/<[^>]*>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");

describe("packing", () => {
  it("every weight of every head comes back within half a quantisation step", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer(), (T, H, L, seed) => {
        let s = seed >>> 0;
        const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
        const patterns = Array.from({ length: L }, () => Float64Array.from({ length: H * T * T }, rand));
        const bytes = inflateSync(Buffer.from(packPatterns(patterns, H, T).packed, "base64"));
        expect(bytes.length).toBe(L * H * ((T * (T + 1)) / 2) * 2);
        for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) {
          expect(Math.abs(unpackWeight(bytes, l * H + h, T, i, j) - patterns[l]![(h * T + i) * T + j]!)).toBeLessThanOrEqual(0.5 / 65535 + 1e-12);
        }
      }),
      fcParams({ seed: 13, numRuns: 40 }),
    );
  });
});

describe("escaping", () => {
  it("highlighted source shows exactly the text, whatever it holds", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (text) => {
        const html = highlightSource(text);
        expect(html).not.toMatch(/<(?!\/?(span|pre|code)\b)/);
        const shown = unescape(html.replace(/^<pre class="source"><code>|<\/code><\/pre>$/g, ""));
        expect(shown).toBe(text.replace(/\r\n?/g, "\n").replace(/\n$/, ""));
      }),
      fcParams({ seed: 5, numRuns: 80 }),
    );
    expect(highlightSource("layer 1 # x")).toContain('<span class="tok-keyword">layer</span> <span class="tok-number">1</span> <span class="tok-comment"># x</span>');
  });

  it("script JSON cannot end its element and parses back to the value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), (v, s) => {
        for (const value of [v, s, { s: `</script>${s}<!--` }]) {
          const text = scriptJson(value);
          expect(text).not.toMatch(/<\/script|<!--|[\u2028\u2029]/i);
          expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        }
      }),
      fcParams({ seed: 9, numRuns: 200 }),
    );
  });
});

describe("circuits report (CLI)", () => {
  it("refuses bad input in one line and leaves no file", async () => {
    const out = join(dir, "bad.html");
    const cases: [string[], RegExp][] = [
      [[foreign], /has no program, so --input is required/],
      [["programs/induction.circ", "--input", Array(64).fill("a").join(" ")], /context 64 holds at most 63/],
      // No token names, so no BOS: all 12 positions are the input's.
      [[foreign, "--input", Array(13).fill("0").join(" ")], /input has 13 tokens but the model's context 12 holds at most 12$/],
      [[foreign, "--input", "0 9"], /input token 2 '9' is not in the model's vocabulary/],
      [["programs/induction.circ", "--training", "programs/induction.circ"], /training log 'programs\/induction.circ' is not JSON/],
      [["programs/induction.circ", "--format", "png"], /--format must be 'html' or 'circuitsvis'/],
    ];
    for (const [argv, message] of cases) {
      let failure: unknown = null;
      let r;
      try {
        r = await runInProcess(reportCommand, ...argv, "-o", out);
      } catch (e) {
        failure = e; // InputError: main.ts prints it as one line, exit 2
      }
      const msg = r?.error ?? (failure as Error).message;
      expect(r?.code ?? 2).toBe(2);
      expect(msg).toMatch(message);
      expect(msg).not.toContain("\n");
    }
    expect(existsSync(out)).toBe(false);
  });

  it("refuses an unwritable -o before working, and a failed write leaves no partial file", async () => {
    const target = join(dir, "as-dir");
    mkdirSync(target);
    const notDir = join(dir, "plain");
    writeFileSync(notDir, "x");
    for (const [out, message] of [[target, /it is a directory/], [join(dir, "missing", "r.html"), /does not exist/], [join(notDir, "r.html"), /is not a directory/]] as const) {
      const r = await runInProcess(reportCommand, "programs/induction.circ", "-o", out);
      expect([r.code, r.error]).toEqual([2, expect.stringMatching(message)]);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(readdirSync(target)).toEqual([]);
  });

  it("writes the same bytes twice, and renders a foreign model without a symbolic overlay", async () => {
    const a = join(dir, "a.html");
    const b = join(dir, "b.html");
    for (const out of [a, b]) expect((await runInProcess(reportCommand, "programs/induction.circ", "--generate", "6", "-o", out)).code).toBe(0);
    expect(readFileSync(a, "utf8")).toBe(readFileSync(b, "utf8"));
    expect(readFileSync(a, "utf8")).toContain("no --input given: shown on &quot;a b c d e f g h a b c d e f g h&quot;");

    const f = join(dir, "foreign.html");
    expect((await runInProcess(reportCommand, foreign, "--input", "0 1 2 0 1", "-o", f)).code).toBe(0);
    const html = readFileSync(f, "utf8");
    expect(html).toContain("No program is known for these weights, so there is no symbolic overlay");
    expect(html).not.toContain('id="overlay"');
    const data = JSON.parse(/<script type="application\/json" id="report-data">([^<]*)<\/script>/.exec(html)![1]!);
    expect(data.tokens).toEqual(["0", "1", "2", "0", "1"]);
    expect(data.attention.T).toBe(5);
    expect(data.attention.heads).toHaveLength(6);
    expect(data.attention.heads.every((h: { selection: unknown }) => h.selection === null)).toBe(true);
  });

  it("a compiled file keeps its program's overlay; a model with LayerNorm still gets its graph and says what it cannot show", async () => {
    const compiled = join(dir, "ind.safetensors");
    // As `circuits compile -o` writes it: the program's source and layout in the metadata.
    const { compileCommand } = await import("../../src/cli/compileCmd.ts");
    expect((await runInProcess(compileCommand, "programs/induction.circ", "-o", compiled)).code).toBe(0);
    const out = join(dir, "ind.html");
    expect((await runInProcess(reportCommand, compiled, "--input", "a b c d a b c", "-o", out)).code).toBe(0);
    const html = readFileSync(out, "utf8");
    const data = JSON.parse(/<script type="application\/json" id="report-data">([^<]*)<\/script>/.exec(html)![1]!);
    expect(data.attention.heads.map((h: { name: string; agreement: number }) => [h.name, h.agreement > 0.99])).toEqual([["previous", true], ["induction", true]]);
    expect(html).toContain('data-disagreements="0"');

    const ln = join(dir, "ln.safetensors");
    const w = randomWeights({ d_model: 8, d_head: 4, n_heads: 2, n_layers: 2, n_ctx: 8, d_vocab: 5 }, 2);
    const vec = (v: number) => ({ shape: [8], data: new Float64Array(8).fill(v) });
    writeFileSync(ln, encodeSafetensors([...stateDict(w), ["blocks.0.ln1.w", vec(1)], ["blocks.0.ln1.b", vec(0.1)], ["blocks.1.ln1.w", vec(1)], ["blocks.1.ln1.b", vec(0)], ["ln_final.w", vec(1)], ["ln_final.b", vec(0)]]));
    const lnOut = join(dir, "ln.html");
    expect((await runInProcess(reportCommand, ln, "--input", "0 1 2", "--generate", "2", "-o", lnOut)).code).toBe(0);
    const lnHtml = readFileSync(lnOut, "utf8");
    expect(lnHtml.match(/Not (shown|run): the simulator is attention-only and this model has LayerNorm or MLP blocks/g)).toHaveLength(3);
    expect(lnHtml.match(/<g class="node"/g)).toHaveLength(4);
    expect((await runInProcess(reportCommand, ln, "--input", "0 1 2", "--format", "circuitsvis", "-o", join(dir, "ln.json"))).error).toMatch(/no attention patterns/);
  });

  it("--format circuitsvis writes tokens and attention [heads, dest, src] equal to the model's patterns", async () => {
    const out = join(dir, "props.json");
    expect((await runInProcess(reportCommand, "programs/induction.circ", "--input", "a b c a", "--format", "circuitsvis", "-o", out)).code).toBe(0);
    const props = JSON.parse(readFileSync(out, "utf8"));
    expect(props.tokens).toEqual(["<bos>", "a", "b", "c", "a"]);
    expect(props.attentionHeadNames).toEqual(["L0H0 previous", "L1H0 induction"]);
    expect(props.attention.map((h: number[][]) => [h.length, h[0]!.length])).toEqual([[5, 5], [5, 5]]);
    const { loadSubject } = await import("../../src/cli/reportSubject.ts");
    const { cache } = forward(loadSubject("programs/induction.circ", "test").weights, [0, 1, 2, 3, 1], { cache: true });
    for (let l = 0; l < 2; l++) {
      const p = cache!.get(`blocks.${l}.attn.hook_pattern`)!.data;
      props.attention[l].forEach((row: number[], i: number) => row.forEach((w, j) => expect(Math.abs(w - p[i * 5 + j]!)).toBeLessThanOrEqual(5e-7)));
    }
  });
});

describe("analyze --format dot", () => {
  it("draws every head once, ranked by layer, and the program's edge bold", async () => {
    const r = await runInProcess(analyzeCommand, "programs/induction.circ", "--format", "dot");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^digraph "composition" \{/);
    expect(r.stdout).toContain('"previous" -> "induction" [label="K (prev) 1.000", color="#d62728", style=bold];');
    expect(r.stdout.match(/cluster_layer/g)).toHaveLength(2);
    expect((await runInProcess(analyzeCommand, "programs/induction.circ", "--format", "dot", "--json")).error).toMatch(/exclude each other/);
  });

  it("marks program edges the weights do not show as missing", () => {
    // The program's weights with the induction head's key side zeroed: its K edge disappears.
    const program = load({ path: "p.circ", text: readFileSync("programs/induction.circ", "utf8") });
    const model = compile(program, { precision: "float64" });
    model.weights.blocks[1]!.W_K.data.fill(0);
    const dot = compositionDot(analyzeModel(model.weights, { layout: model.layout, program, skipDetection: "not needed" }));
    expect(dot).toMatch(/"previous" -> "induction" \[label="K \(prev\) [0-9.]+ missing", color="#d62728", style=dashed/);
  });
});
