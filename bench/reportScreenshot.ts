/**
 * The README's picture of the report: `npx tsx bench/reportScreenshot.ts` writes
 * the report of programs/induction.circ on "a b c d a b c" and saves its
 * attention and graph sections, as headless Chromium draws them, to
 * docs/report-induction.png.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { analyzeOrRefuse } from "../src/cli/analyzeCmd.ts";
import { buildReport } from "../src/view/build.ts";
import { loadSubject } from "../src/cli/reportSubject.ts";
import { encodeSubjectInput } from "../src/view/subject.ts";
import { launchChromium, openReport } from "../test/support/browser.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const program = join(ROOT, "programs/induction.circ");
const subject = loadSubject(program, "screenshot");
const analysis = analyzeOrRefuse(program, "screenshot", subject.weights, { layout: subject.layout ?? undefined, program: subject.program ?? undefined, detect: { bos: 0 } });
const built = buildReport({ ...subject, path: "programs/induction.circ" }, { ids: encodeSubjectInput(subject, "a b c d a b c"), analysis });
const dir = mkdtempSync(join(tmpdir(), "report-shot-"));
const file = join(dir, "induction.html");
writeFileSync(file, built.html);
const browser = await launchChromium();
try {
  const opened = await openReport(browser, file, { width: 1000, height: 800 });
  if (opened.problems.length) throw new Error(`the page reported: ${opened.problems.join("; ")}`);
  const { page } = opened;
  // The sticky table of contents would sit over the sections in a clipped full-page shot.
  await page.evaluate(() => document.querySelector<HTMLElement>("nav.toc")!.style.setProperty("position", "static"));
  const a = (await page.locator("#attention").boundingBox())!;
  const g = (await page.locator("#graph .graph-wrap").boundingBox())!;
  const clip = { x: 0, y: a.y - 8, width: 1000, height: g.y + g.height - a.y + 16 };
  await page.screenshot({ path: join(ROOT, "docs/report-induction.png"), fullPage: true, clip });
  process.stdout.write("wrote docs/report-induction.png\n");
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
