/**
 * A progress bar on stderr for long checks. It draws only on a terminal (so
 * pipes, CI logs and --json output stay clean) and at most ~10 times a second.
 */

/** A (done, total) callback that draws a bar; call `end()` when finished. */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr) {
  const t0 = performance.now();
  let last = 0;
  const enabled = Boolean(stream.isTTY) && !process.env.CI;
  const draw = (done: number, total: number) => {
    const now = performance.now();
    if (!enabled || (now - last < 100 && done < total)) return;
    last = now;
    const frac = total > 0 ? done / total : 1;
    const width = 30;
    const filled = Math.round(frac * width);
    const secs = (now - t0) / 1000;
    const eta = frac > 0 ? secs / frac - secs : 0;
    stream.write(
      `\r${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(frac * 100).toFixed(1)}% ` +
        `${done}/${total}  ${secs.toFixed(1)}s elapsed, ~${eta.toFixed(1)}s left `,
    );
  };
  return {
    update: draw,
    end() {
      if (enabled) stream.write("\r\x1b[K");
    },
  };
}
