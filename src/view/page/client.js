// The report page's script: paints the attention heatmaps from the packed
// patterns, runs the head selector and the hover tooltip, and draws the
// training charts with uPlot. Plain ES2020, inlined into the page as is.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const started = performance.now();

  // --- attention -----------------------------------------------------------
  const QUANT = 65535;
  const MASKED = [243, 243, 243];
  const SELECTED = [255, 127, 14];

  function base64Bytes(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let k = 0; k < bin.length; k++) out[k] = bin.charCodeAt(k);
    return out;
  }

  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // White → dark blue, as CircuitsVis colours attention; 256 shades, packed as RGBA words (little-endian).
  const SHADES = new Uint32Array(256);
  for (let k = 0; k < 256; k++) {
    const w = k / 255;
    SHADES[k] = (255 << 24) | (Math.round(255 - w * 148) << 16) | (Math.round(255 - w * 207) << 8) | Math.round(255 - w * 247);
  }
  const rgba = (c) => (255 << 24) | (c[2] << 16) | (c[1] << 8) | c[0];

  function setupAttention(att, raw) {
    const T = att.T;
    const tri = (T * (T + 1)) / 2;
    const q = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    const tokens = data.tokens;
    const weight = (k, i, j) => (j > i ? 0 : q[k * tri + (i * (i + 1)) / 2 + j] / QUANT);
    const selections = att.heads.map((h) => (h.selection ? h.selection.map((js) => new Set(js)) : null));
    const overlayBox = document.getElementById("overlay");
    const overlayOn = () => !overlayBox || overlayBox.checked;
    const masked = rgba(MASKED);
    const selected = rgba(SELECTED);

    // One pixel per cell, painted once per head and overlay state, then scaled onto every canvas showing the head.
    const painted = new Map();
    function cellImage(k, markSelection) {
      const key = k + (markSelection ? "+" : "");
      if (painted.has(key)) return painted.get(key);
      const small = document.createElement("canvas");
      small.width = T;
      small.height = T;
      const ctx = small.getContext("2d");
      const img = ctx.createImageData(T, T);
      const px = new Uint32Array(img.data.buffer);
      const base = k * tri;
      for (let i = 0; i < T; i++) {
        const row = base + (i * (i + 1)) / 2;
        const o = i * T;
        for (let j = 0; j <= i; j++) px[o + j] = SHADES[(q[row + j] * 255 + 32767) / QUANT | 0];
        px.fill(masked, o + i + 1, o + T);
      }
      const sel = selections[k];
      if (markSelection && sel) sel.forEach((js, i) => js.forEach((j) => { px[i * T + j] = selected; }));
      ctx.putImageData(img, 0, 0);
      painted.set(key, small);
      return small;
    }

    function paint(canvas, k, cell) {
      canvas.width = T * cell;
      canvas.height = T * cell;
      canvas.dataset.cells = String(T);
      canvas.dataset.cell = String(cell);
      canvas.dataset.headIndex = String(k);
      const ctx = canvas.getContext("2d");
      const sel = overlayOn() ? selections[k] : null;
      // Small cells show the selection as orange cells; large ones outline it over the weight's colour.
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(cellImage(k, sel !== null && cell < 4), 0, 0, T * cell, T * cell);
      if (sel && cell >= 4) {
        ctx.strokeStyle = "rgb(255,127,14)";
        ctx.lineWidth = Math.max(1.5, cell / 8);
        const inset = ctx.lineWidth / 2;
        sel.forEach((js, i) => js.forEach((j) => ctx.strokeRect(j * cell + inset, i * cell + inset, cell - 2 * inset, cell - 2 * inset)));
      }
    }

    const thumbCell = Math.max(1, Math.floor(160 / T));
    const focusCell = Math.min(28, Math.max(1, Math.floor(640 / T)));

    function labels(layerEl, cell) {
      const top = layerEl.querySelector(".labels-top");
      const left = layerEl.querySelector(".labels-left");
      top.textContent = "";
      left.textContent = "";
      if (cell < 10) return;
      tokens.forEach((t, p) => {
        const a = document.createElement("span");
        a.textContent = t;
        a.style.height = a.style.lineHeight = cell + "px";
        left.appendChild(a);
        const b = document.createElement("span");
        b.textContent = t;
        b.style.width = cell + "px";
        top.appendChild(b);
      });
    }

    function focus(layerEl, k) {
      const h = att.heads[k];
      layerEl.querySelectorAll(".head-button, .thumb").forEach((el) => el.classList.toggle("selected", Number(el.dataset.headIndex) === k));
      const title = layerEl.querySelector(".focus-title");
      title.textContent = h.name + (h.name !== h.id ? " (" + h.id + ")" : "") + (h.agreement !== null ? " — " + (h.agreement * 100).toFixed(1) + "% of its attention on the program's selection" : "");
      paint(layerEl.querySelector(".focus-canvas"), k, focusCell);
    }

    function repaintAll() {
      document.querySelectorAll("canvas.thumb-canvas").forEach((c) => paint(c, Number(c.dataset.headIndex), thumbCell));
      document.querySelectorAll("#attention .layer").forEach((layerEl) => {
        labels(layerEl, focusCell);
        focus(layerEl, Number(layerEl.querySelector(".focus-canvas").dataset.headIndex));
      });
    }

    document.querySelectorAll("#attention .layer").forEach((layerEl) => {
      layerEl.addEventListener("click", (ev) => {
        const target = ev.target.closest(".head-button, .thumb");
        if (target) focus(layerEl, Number(target.dataset.headIndex));
      });
    });
    if (overlayBox) overlayBox.addEventListener("change", repaintAll);

    const tip = document.getElementById("tooltip");
    document.getElementById("attention").addEventListener("mousemove", (ev) => {
      const canvas = ev.target.closest ? ev.target.closest("canvas.heatmap") : null;
      if (!canvas) {
        tip.hidden = true;
        return;
      }
      const rect = canvas.getBoundingClientRect();
      const i = Math.floor(((ev.clientY - rect.top) / rect.height) * T);
      const j = Math.floor(((ev.clientX - rect.left) / rect.width) * T);
      if (i < 0 || j < 0 || i >= T || j >= T) {
        tip.hidden = true;
        return;
      }
      const k = Number(canvas.dataset.headIndex);
      const h = att.heads[k];
      const w = weight(k, i, j);
      const sel = selections[k];
      tip.dataset.head = h.id;
      tip.dataset.query = String(i);
      tip.dataset.key = String(j);
      tip.dataset.weight = j > i ? "" : w.toFixed(4);
      const lines = [
        h.name + (h.name !== h.id ? " · " + h.id : ""),
        "query " + i + " “" + tokens[i] + "” → key " + j + " “" + tokens[j] + "”",
        j > i ? "masked (key after query)" : "weight " + w.toFixed(4),
      ];
      if (sel) lines.push(sel[i].size === 0 ? "the program selects nothing here (⊥)" : sel[i].has(j) ? "the program selects this key" : "the program selects key " + [...sel[i]].join(", "));
      tip.textContent = lines.join("\n");
      tip.hidden = false;
      tip.style.left = ev.pageX + 14 + "px";
      tip.style.top = ev.pageY + 14 + "px";
    });
    document.getElementById("attention").addEventListener("mouseleave", () => {
      tip.hidden = true;
    });
    repaintAll();
  }

  // --- training charts -----------------------------------------------------
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

  function marksHook(tr) {
    return (u) => {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      ctx.save();
      if (tr.phase) {
        const x0 = u.valToPos(tr.phase.start, "x", true);
        const x1 = u.valToPos(tr.phase.end, "x", true);
        ctx.fillStyle = "rgba(255, 127, 14, 0.18)";
        ctx.fillRect(Math.max(left, x0), top, Math.min(left + width, x1) - Math.max(left, x0), height);
      }
      if (tr.bump !== null) {
        const x = u.valToPos(tr.bump, "x", true);
        ctx.strokeStyle = "#d62728";
        ctx.setLineDash([5, 4]);
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + height);
        ctx.stroke();
      }
      ctx.restore();
      u.root.dataset.marked = "1";
    };
  }

  function chart(id, xLabel, series, xs, ys, marked, tr) {
    const el = document.getElementById(id);
    if (!el) return;
    const opts = {
      width: 560,
      height: 240,
      series: [{ label: xLabel }].concat(series.map((s, k) => Object.assign({ stroke: PALETTE[k % PALETTE.length], width: 1.5, spanGaps: true, points: { show: false } }, s))),
      axes: [{ label: xLabel }, {}],
      scales: { x: { time: false } },
      legend: { live: true },
      hooks: marked ? { draw: [marksHook(tr)] } : {},
    };
    new uPlot(opts, [xs].concat(ys), el);
  }

  function setupTraining(tr) {
    if (typeof uPlot === "undefined") throw new Error("uPlot is missing from the page");
    const n = tr.loss.length;
    const allSteps = Array.from({ length: n }, (_, k) => k + 1);
    const at = (vals) => {
      const out = new Array(n).fill(null);
      tr.steps.forEach((s, k) => {
        if (s >= 1 && s <= n) out[s - 1] = vals[k];
      });
      return out;
    };
    if (n > 0) {
      chart("chart-loss", "step", [{ label: "training loss", width: 1 }, { label: "first copy (probe)" }, { label: "second copy (probe)" }],
        allSteps, [tr.loss, at(tr.firstCopy), at(tr.secondCopy)], true, tr);
    }
    if (tr.byPosition.length) {
      const P = tr.byPosition[0].loss.length;
      chart("chart-position", "token", tr.byPosition.map((b) => ({ label: "step " + b.step })),
        Array.from({ length: P }, (_, p) => p + 1), tr.byPosition.map((b) => b.loss), false, tr);
    }
    if (tr.steps.length) {
      chart("chart-icl", "step", [{ label: "ICL score" }], tr.steps, [tr.icl], true, tr);
      const heads = tr.heads.map((h) => ({ label: h.id + " induction", width: 1, dash: [4, 3] }));
      chart("chart-heads", "step", [{ label: "best previous-token" }, { label: "best induction" }, { label: "best K-composition" }].concat(heads),
        tr.steps, [tr.maxPrevious, tr.maxInduction, tr.maxKComposition].concat(tr.heads.map((h) => h.induction)), true, tr);
    }
  }

  // Long tables wait in <template>s until asked for (laying them out would slow the page's opening).
  document.querySelectorAll("button.show-all").forEach((b) => {
    b.addEventListener("click", () => {
      const tpl = document.getElementById(b.dataset.template);
      b.replaceWith(tpl.content.cloneNode(true));
    });
  });

  async function main() {
    if (data.attention) setupAttention(data.attention, await inflate(base64Bytes(data.attention.packed)));
    if (data.training) setupTraining(data.training);
    window.__reportRenderMs = performance.now() - started;
    document.body.dataset.ready = "1";
  }

  main().catch((e) => {
    console.error("report: " + (e && e.stack ? e.stack : e));
    document.body.dataset.ready = "error";
  });
})();
