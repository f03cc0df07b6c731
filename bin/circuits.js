#!/usr/bin/env node
// The `circuits` command. It runs the built JavaScript in dist/ (what the
// published package holds: no transpiling at start-up). In a clone that has
// no build, or whose src/ changed after the last `npm run build`, it runs the
// TypeScript sources through tsx instead, so it never runs stale code and
// needs no build step to work.
import { existsSync, readdirSync, statSync } from "node:fs";

const root = new URL("../", import.meta.url);
const stamp = new URL("dist/BUILD_STAMP", root);

/** Whether any file under `dir` was modified after `since` (ms since the epoch). */
function changedSince(dir, since) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = new URL(entry.name + (entry.isDirectory() ? "/" : ""), dir);
    if (entry.isDirectory() ? changedSince(path, since) : statSync(path).mtimeMs > since) return true;
  }
  return false;
}

const src = new URL("src/", root);
const built = existsSync(stamp) && !(existsSync(src) && changedSince(src, statSync(stamp).mtimeMs));
if (built) {
  await import("../dist/cli/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
