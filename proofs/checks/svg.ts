/**
 * A small hand-written SVG line plot (no dependencies): formula curves as
 * lines, sampled estimates as markers with error bars.
 */

export interface Series {
  readonly label: string;
  readonly color: string;
  /** Formula curve. */
  readonly line?: readonly { x: number; y: number }[];
  /** Sampled points with optional half-width of an error bar. */
  readonly points?: readonly { x: number; y: number; err?: number }[];
  readonly marker?: "circle" | "cross";
}

export interface PlotSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xRange: readonly [number, number];
  readonly yRange: readonly [number, number];
  readonly xTicks: readonly number[];
  readonly yTicks: readonly number[];
  readonly series: readonly Series[];
  readonly note?: string;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const n2 = (x: number) => (Math.round(x * 100) / 100).toString();

export function linePlot(spec: PlotSpec): string {
  const W = 820;
  const H = 480;
  const m = { l: 70, r: 240, t: 50, b: 60 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const [x0, x1] = spec.xRange;
  const [y0, y1] = spec.yRange;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.t + ph - ((Math.min(Math.max(y, y0), y1) - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="24" text-anchor="middle" font-size="15">${esc(spec.title)}</text>`);
  // Grid and ticks.
  for (const t of spec.yTicks) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${n2(Y(t))}" y2="${n2(Y(t))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${m.l - 8}" y="${n2(Y(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  for (const t of spec.xTicks) {
    out.push(`<line x1="${n2(X(t))}" x2="${n2(X(t))}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${n2(X(t))}" y="${m.t + ph + 18}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 18}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(20 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);
  // Series.
  for (const s of spec.series) {
    if (s.line && s.line.length) {
      const d = s.line.map((p, i) => `${i ? "L" : "M"}${n2(X(p.x))} ${n2(Y(p.y))}`).join(" ");
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    }
    for (const p of s.points ?? []) {
      const cx = X(p.x);
      const cy = Y(p.y);
      if (p.err !== undefined) {
        out.push(`<line x1="${n2(cx)}" x2="${n2(cx)}" y1="${n2(Y(p.y - p.err))}" y2="${n2(Y(p.y + p.err))}" stroke="${s.color}" stroke-opacity="0.6"/>`);
      }
      if (s.marker === "cross") {
        out.push(`<path d="M${n2(cx - 4)} ${n2(cy - 4)} L${n2(cx + 4)} ${n2(cy + 4)} M${n2(cx - 4)} ${n2(cy + 4)} L${n2(cx + 4)} ${n2(cy - 4)}" stroke="${s.color}" stroke-width="1.5"/>`);
      } else {
        out.push(`<circle cx="${n2(cx)}" cy="${n2(cy)}" r="3.5" fill="white" stroke="${s.color}" stroke-width="1.5"/>`);
      }
    }
  }
  // Legend.
  let ly = m.t + 10;
  const lx = m.l + pw + 16;
  for (const s of spec.series) {
    if (s.line) out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    else if (s.marker === "cross") out.push(`<path d="M${lx + 8} ${ly - 4} L${lx + 16} ${ly + 4} M${lx + 8} ${ly + 4} L${lx + 16} ${ly - 4}" stroke="${s.color}" stroke-width="1.5"/>`);
    else out.push(`<circle cx="${lx + 12}" cy="${ly}" r="3.5" fill="white" stroke="${s.color}" stroke-width="1.5"/>`);
    out.push(`<text x="${lx + 32}" y="${ly + 4}">${esc(s.label)}</text>`);
    ly += 20;
  }
  if (spec.note) {
    spec.note.split("\n").forEach((line, i) => out.push(`<text x="${lx}" y="${ly + 16 + 15 * i}" font-size="11" fill="#555">${esc(line)}</text>`));
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}
