/**
 * The report in a real browser (headless Chromium): it opens with no console
 * error and no request beyond its own file, draws one T×T heatmap per head,
 * shows the right weight on hover, one graph node per head, the induction
 * head attending from each repeated token to the token after its earlier
 * occurrence, the generation loop and the training phase change marked.
 * Screenshots go to test/report/out/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportCommand } from "../../src/cli/reportCmd.ts";
import { compile } from "../../src/compiler/compile.ts";
import { encodeInput } from "../../src/lang/tokens.ts";
import { loadProgramFile } from "../../src/cli/command.ts";
import { forward } from "../../src/sim/forward.ts";
import { DEFAULT_TRAIN_CONFIG, train } from "../../src/train/index.ts";
import { launchChromium, openReport, type OpenedReport } from "../support/browser.ts";
import { runInProcess } from "../support/inProcess.ts";
import { REPO_ROOT } from "../support/programs.ts";
import { modelInput } from "../../src/model/tokenIds.ts";

const OUT = join(REPO_ROOT, "test/report/out");
let launched: Browser | null = null;
/** Why the browser did not start: every test then fails with it (none is skipped). */
let launchError: unknown = null;
let dir: string;

beforeAll(async () => {
  try {
    launched = await launchChromium();
  } catch (e) {
    launchError = e;
  }
  dir = mkdtempSync(join(tmpdir(), "report-browser-"));
  mkdirSync(OUT, { recursive: true });
}, 60_000);

afterAll(async () => {
  await launched?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Write a report with the CLI (in-process) and open it. */
async function report(name: string, ...argv: string[]): Promise<{ opened: OpenedReport; summary: Record<string, unknown> }> {
  const file = join(dir, `${name}.html`);
  const r = await runInProcess(reportCommand, ...argv, "-o", file, "--json");
  expect(r.error, r.error).toBeUndefined();
  expect(r.code).toBe(0);
  if (!launched) throw launchError;
  const opened = await openReport(launched, file);
  return { opened, summary: JSON.parse(r.stdout) as Record<string, unknown> };
}

/** A heatmap canvas scrolled into view, and a function hovering the centre of its cell (i, j) that reads the tooltip. */
async function heatmap(page: Page, selector: string, T: number) {
  const canvas = page.locator(selector);
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  return async (i: number, j: number) => {
    await page.mouse.move(box.x + ((j + 0.5) * box.width) / T, box.y + ((i + 0.5) * box.height) / T);
    return page.evaluate(() => {
      const tip = document.getElementById("tooltip")!;
      return { hidden: tip.hidden, query: Number(tip.dataset.query), key: Number(tip.dataset.key), weight: tip.dataset.weight!, text: tip.textContent!, head: tip.dataset.head! };
    });
  };
}

/** No console errors or warnings, and no request but the report's own file. */
function expectClean(o: OpenedReport): void {
  expect(o.problems).toEqual([]);
  expect(o.requests).toEqual([o.url]);
}

describe("report in headless Chromium", () => {
  it("induction.circ: heatmaps, hover weights, the induction head's attention, the graph", async () => {
    const input = "a b c d a b c";
    const { opened } = await report("induction", "programs/induction.circ", "--input", input);
    const { page } = opened;
    expectClean(opened);

    // The weights the page must show: the same compiled model's patterns.
    const program = loadProgramFile("programs/induction.circ", "test");
    const ids = modelInput(encodeInput(program, input));
    const { cache } = forward(compile(program, { precision: "float64" }).weights, ids, { cache: true });
    const T = ids.length;
    const pattern = (layer: number, i: number, j: number) => cache!.get(`blocks.${layer}.attn.hook_pattern`)!.data[i * T + j]!;

    // One heatmap per head (2 layers × 1 head), each T×T cells.
    const thumbs = await page.$$eval("canvas.thumb-canvas", (cs) => cs.map((c) => ({ cells: Number((c as HTMLCanvasElement).dataset.cells), cell: Number((c as HTMLCanvasElement).dataset.cell), w: (c as HTMLCanvasElement).width, h: (c as HTMLCanvasElement).height })));
    expect(thumbs).toHaveLength(2);
    for (const t of thumbs) expect(t).toEqual({ cells: T, cell: t.cell, w: T * t.cell, h: T * t.cell });

    // Hovering a cell shows the query, the key and the model's weight: every cell of the induction head,
    // two rows of the previous-token head (each hover is a browser round trip).
    const shown: number[][] = Array.from({ length: T }, () => []);
    for (const layer of [0, 1]) {
      const hover = await heatmap(page, `#attention .layer[data-block="${layer}"] canvas.focus-canvas`, T);
      for (const i of layer === 1 ? [...Array(T).keys()] : [3, T - 1]) {
        for (let j = 0; j < T; j++) {
          const tip = await hover(i, j);
          expect(tip.hidden).toBe(false);
          expect([tip.head, tip.query, tip.key]).toEqual([`L${layer}H0`, i, j]);
          if (j > i) expect(tip.weight).toBe("");
          else expect(Math.abs(Number(tip.weight) - pattern(layer, i, j))).toBeLessThan(6e-5);
          if (layer === 1) shown[i]![j] = j > i ? 0 : Number(tip.weight);
          if (layer === 1 && j === i - 3 && i >= 5) expect(tip.text).toContain("the program selects this key");
        }
      }
    }

    // The induction head, as shown on hover: from each repeated token (positions 5, 6, 7) to the token
    // after its earlier occurrence (2, 3, 4), and nowhere else.
    const focus = '#attention .layer[data-block="1"] canvas.focus-canvas';
    for (const [i, expected] of [[5, 2], [6, 3], [7, 4]] as const) {
      const row = shown[i]!;
      const best = row.indexOf(Math.max(...row));
      expect(best).toBe(expected);
      expect(row[best]).toBeGreaterThan(0.99);
      // And the canvas is painted there: a dark blue cell, not the white of no attention.
      const rgb = await page.$eval(focus, (c, [ii, jj]) => {
        const canvas = c as HTMLCanvasElement;
        const cell = Number(canvas.dataset.cell);
        return Array.from(canvas.getContext("2d")!.getImageData((jj! + 0.5) * cell, (ii! + 0.5) * cell, 1, 1).data.slice(0, 3));
      }, [i, expected]);
      expect(rgb[0]).toBeLessThan(60);
      expect(rgb[2]).toBeGreaterThan(rgb[0]!);
    }

    // The graph: one node per head, the program's K edge drawn and marked as the program's.
    expect(await page.locator("svg.graph .node").count()).toBe(2);
    const edges = await page.$$eval("svg.graph .edge", (es) => es.map((e) => ({ ...(e as SVGGElement).dataset })));
    expect(edges).toEqual([{ from: "previous", to: "induction", kind: "K", status: "program" }]);

    // Self-contained: nothing on the page points outside it (the requests above show nothing was fetched).
    const html = readFileSync(join(dir, "induction.html"), "utf8");
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["'](?!#)/i);
    expect(html).not.toMatch(/@import|url\(\s*["']?(?!data:|#)/i);

    await page.screenshot({ path: join(OUT, "induction.png"), fullPage: true });
    await page.close();
  });

  it("marks the generation loop and the predicted loop", async () => {
    const { opened, summary } = await report("generate", "programs/induction.circ", "--input", "a b c d a b c", "--generate", "20");
    const { page } = opened;
    expectClean(opened);
    const cycle = summary.cycle as { prePeriod: number; period: number };
    const predicted = summary.predicted as { prePeriod: number; period: number };
    expect(cycle).not.toBeNull();
    const gen = await page.$eval("#generated", (el) => ({
      pre: (el as HTMLElement).dataset.prePeriod, period: (el as HTMLElement).dataset.period,
      tokens: el.querySelectorAll(".tok").length, loop: el.querySelectorAll(".tok.loop").length, starts: el.querySelectorAll(".tok.period-start").length,
    }));
    expect(gen.tokens).toBe(20);
    expect([Number(gen.pre), Number(gen.period)]).toEqual([cycle.prePeriod, cycle.period]);
    expect(gen.loop).toBe(20 - cycle.prePeriod);
    expect(gen.starts).toBe(Math.ceil((20 - cycle.prePeriod) / cycle.period));
    const pred = await page.$eval("#predicted", (el) => [Number((el as HTMLElement).dataset.prePeriod), Number((el as HTMLElement).dataset.period)]);
    expect(pred).toEqual([predicted.prePeriod, predicted.period]);
    expect(await page.textContent('[data-mark="loop"]')).toContain("matches");
    await page.close();
  });

  it("a trained model without a program, with its training log: no overlay, the phase change marked", async () => {
    const model = join(dir, "tiny.safetensors");
    const { log } = train({
      config: { ...DEFAULT_TRAIN_CONFIG, d_model: 16, n_heads: 2, d_head: 8, n_ctx: 16, batch: 4, steps: 60, evalEvery: 10, phaseWindow: 20, seed: 3, data: { kind: "repeat", vocab: 8, repeatFraction: 0.5 } },
      output: model,
    });
    const logFile = join(dir, "tiny.log.json");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(logFile, JSON.stringify(log));
    const { opened } = await report("trained", model, "--input", "0 1 2 3 0 1 2", "--training", logFile, "--generate", "4");
    const { page } = opened;
    expectClean(opened);
    expect(await page.locator("canvas.thumb-canvas").count()).toBe(4);
    expect(await page.locator("#overlay").count()).toBe(0);
    expect(await page.locator("svg.graph .node").count()).toBe(4);
    const phase = await page.$eval('[data-mark="phase"]', (el) => [(el as HTMLElement).dataset.start, (el as HTMLElement).dataset.end]);
    expect(phase).toEqual([String(log.phase!.loss.start), String(log.phase!.loss.end)]);
    // Four charts drawn by uPlot; the three over training steps carry the phase-change band.
    expect(await page.locator(".uplot").count()).toBe(4);
    expect(await page.locator('.uplot[data-marked="1"]').count()).toBe(3);
    await page.screenshot({ path: join(OUT, "trained.png"), fullPage: true });
    await page.close();
  });
});
