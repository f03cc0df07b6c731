/**
 * The report bench: a 1,000-token input on an 8-head model, written as an
 * HTML report and opened in headless Chromium (fresh page each time, after a
 * warm-up); the time from navigation to "everything painted", the in-page
 * script's share, the build time and the file size. Two models: the
 * compiled bench/report-8heads.circ (near one-hot attention, with the
 * program's overlay) and random weights of 2 layers × 4 heads (diffuse
 * attention: the largest packed patterns). Run by `npm run bench` (section
 * "report") or alone: `npx tsx bench/report.ts`.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { analyzeOrRefuse } from "../src/cli/analyzeCmd.ts";
import { saveWeights } from "../src/model/weightsFile.ts";
import { mulberry32, randomWeights } from "../src/sim/random.ts";
import { buildReport } from "../src/view/build.ts";
import { loadSubject } from "../src/cli/reportSubject.ts";
import { encodeSubjectInput } from "../src/view/subject.ts";
import { launchChromium, openReport } from "../test/support/browser.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** One model's figures. */
export interface ReportBenchRow {
  readonly model: string;
  readonly positions: number;
  readonly heads: number;
  readonly bytes: number;
  readonly buildSeconds: number;
  /** Navigation → painted, ms: the cold first open, and the median/min/max of the warm opens. */
  readonly coldOpenMs: number;
  readonly openMs: { readonly median: number; readonly min: number; readonly max: number; readonly runs: number };
  readonly scriptMs: { readonly median: number };
  readonly problems: readonly string[];
  readonly load: { readonly before: number; readonly after: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Build and open both reports; `runs` warm opens each. */
export async function reportBench(runs = 5): Promise<ReportBenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "report-bench-"));
  const rand = mulberry32(1000);
  const input = Array.from({ length: 1000 }, () => String(Math.floor(rand() * 16))).join(" ");
  const randomModel = join(dir, "random-8heads.safetensors");
  // Token names make "0"…"15" (and BOS) the vocabulary, as in the compiled program.
  saveWeights(randomModel, randomWeights({ d_model: 32, d_head: 8, n_heads: 4, n_layers: 2, n_ctx: 1024, d_vocab: 17 }, 3, { scale: 0.3 }), {
    tokens: ["<bos>", ...Array.from({ length: 16 }, (_, k) => String(k))],
  });
  const browser = await launchChromium();
  const rows: ReportBenchRow[] = [];
  try {
    for (const [label, path] of [["bench/report-8heads.circ (compiled)", join(ROOT, "bench/report-8heads.circ")], ["random weights, 2 layers × 4 heads", randomModel]] as const) {
      const before = loadavg()[0]!;
      const t0 = performance.now();
      const subject = loadSubject(path, "bench");
      const ids = encodeSubjectInput(subject, input);
      const analysis = analyzeOrRefuse(path, "bench", subject.weights, { layout: subject.layout ?? undefined, program: subject.program ?? undefined, detect: { bos: subject.bos } });
      const built = buildReport(subject, { ids, analysis });
      const buildSeconds = (performance.now() - t0) / 1000;
      const file = join(dir, `${rows.length}.html`);
      writeFileSync(file, built.html);
      const opens: number[] = [];
      const scripts: number[] = [];
      const problems: string[] = [];
      let cold = 0;
      for (let r = 0; r <= runs; r++) {
        const o = await openReport(browser, file);
        problems.push(...o.problems);
        const script = await o.page.evaluate(() => (window as unknown as { __reportRenderMs: number }).__reportRenderMs);
        await o.page.close();
        if (r === 0) cold = o.openMs;
        else {
          opens.push(o.openMs);
          scripts.push(script);
        }
      }
      rows.push({
        model: label, positions: built.T, heads: built.heads, bytes: statSync(file).size, buildSeconds,
        coldOpenMs: cold, openMs: { median: median(opens), min: Math.min(...opens), max: Math.max(...opens), runs }, scriptMs: { median: median(scripts) },
        problems: [...new Set(problems)], load: { before, after: loadavg()[0]! },
      });
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The results as Markdown lines (heading first). */
export function reportBenchMarkdown(rows: readonly ReportBenchRow[]): string[] {
  const lines = [
    "## HTML report: a 1,000-token input, 8 heads, opened in headless Chromium",
    "",
    "Navigation start → every heatmap painted (the page's ready mark), Debian's chromium with --headless --no-sandbox --disable-gpu,",
    "a fresh page per open; the first (cold) open apart, then the median (min–max) of the warm ones. Goal: under 2 s and 5 MB.",
    "",
    "| model | positions × heads | file | build | cold open | open | page script | load | console |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.model} | ${r.positions} × ${r.heads} | ${(r.bytes / 1e6).toFixed(2)} MB | ${r.buildSeconds.toFixed(1)} s | ${(r.coldOpenMs / 1000).toFixed(2)} s | ${(r.openMs.median / 1000).toFixed(2)} s (${(r.openMs.min / 1000).toFixed(2)}–${(r.openMs.max / 1000).toFixed(2)}, ${r.openMs.runs} runs) | ${(r.scriptMs.median / 1000).toFixed(2)} s | ${r.load.before.toFixed(1)}→${r.load.after.toFixed(1)} | ${r.problems.length ? r.problems.join("; ") : "clean"} |`),
    "",
  ];
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await reportBench();
  const md = reportBenchMarkdown(rows);
  const out = join(ROOT, "bench/out");
  (await import("node:fs")).mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "report.json"), `${JSON.stringify(rows, null, 1)}\n`);
  writeFileSync(join(out, "report.md"), `${md.join("\n")}\n`);
  process.stdout.write(`${md.join("\n")}\n`);
}
