/**
 * Headless Chromium for the report's browser tests and its bench: Debian's
 * `chromium` driven by playwright-core (which ships no browser of its own).
 * A missing browser is an error that says how to install it — the tests fail
 * rather than pass without having looked at a page.
 */
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

/** Where the browser is looked for: $CHROMIUM_PATH, else Debian's package. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
}

/** Launch headless Chromium; throws a one-paragraph reason when it cannot. */
export async function launchChromium(): Promise<Browser> {
  const path = chromiumPath();
  if (!existsSync(path)) {
    throw new Error(`Chromium not found at ${path}: the browser tests need it (apt-get install -y --no-install-recommends chromium, as .ci/run does, or set CHROMIUM_PATH)`);
  }
  return chromium.launch({ executablePath: path, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
}

/** A page opened on a report file, with every console error and every request it made. */
export interface OpenedReport {
  readonly page: Page;
  /** Console errors and warnings, and uncaught exceptions. */
  readonly problems: string[];
  /** URLs requested, the report's own file:// URL included. */
  readonly requests: string[];
  /** Milliseconds from starting navigation to the page's ready mark (everything painted). */
  readonly openMs: number;
  readonly url: string;
}

/** Open `file` in a fresh page and wait until the report's script has painted everything. */
export async function openReport(browser: Browser, file: string, viewport = { width: 1280, height: 900 }): Promise<OpenedReport> {
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  page.on("request", (r) => requests.push(r.url()));
  const url = pathToFileURL(file).href;
  const t0 = performance.now();
  await page.goto(url, { waitUntil: "commit" });
  await page.waitForFunction(() => document.body?.dataset.ready !== undefined, null, { timeout: 30_000, polling: 10 });
  const openMs = performance.now() - t0;
  const ready = await page.evaluate(() => document.body.dataset.ready);
  if (ready !== "1") problems.push(`the page's script failed (ready = ${ready})`);
  return { page, problems, requests, openMs, url };
}
