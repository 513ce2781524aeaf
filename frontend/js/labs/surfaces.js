// Lab views drawn over a plane: loss landscapes with optimizer paths, the autoencoder's 2-D latent map and
// fitted 1-D functions. Heatmaps go through the playground's `paint` (Canvas ImageData); marks are drawn on a
// sharp overlay canvas at the screen's resolution.
import { el } from "../format.js";
import { t } from "../i18n.js";
import { classColor } from "../views/colormap.js";
import { paint, range } from "../views/heatmap.js";
import { LineChart, drawLegend } from "./plots.js";
import { partLabel, variantLabel } from "./names.js";

const BANDS = 14;
const SMOOTH = 192; // side of the resampled surface

/** Values quantised into equal bands between lo and hi: a heatmap that reads like a contour map. */
export function banded(values, lo, hi, bands = BANDS) {
  const out = new Float32Array(values.length);
  const span = hi - lo || 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = Number.isFinite(v) ? lo + (Math.min(bands - 1, Math.floor(((v - lo) / span) * bands)) / (bands - 1)) * span : v;
  }
  return out;
}

/** A rows×cols grid resampled bilinearly to size×size: bands then have smooth edges instead of blocks. */
export function resample(values, rows, cols, size) {
  const out = new Float32Array(size * size);
  for (let i = 0; i < size; i++) {
    const y = (i / (size - 1)) * (rows - 1);
    const y0 = Math.floor(y);
    const y1 = Math.min(rows - 1, y0 + 1);
    const fy = y - y0;
    for (let j = 0; j < size; j++) {
      const x = (j / (size - 1)) * (cols - 1);
      const x0 = Math.floor(x);
      const x1 = Math.min(cols - 1, x0 + 1);
      const fx = x - x0;
      const top = values[y0 * cols + x0] * (1 - fx) + values[y0 * cols + x1] * fx;
      const bottom = values[y1 * cols + x0] * (1 - fx) + values[y1 * cols + x1] * fx;
      out[i * size + j] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** An overlay canvas sized to its box at the device's resolution; returns its context in CSS pixels. */
function overlayContext(canvas) {
  const dpr = devicePixelRatio || 1;
  const w = canvas.clientWidth || 1;
  const h = canvas.clientHeight || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h };
}

function star(ctx, x, y, r, color) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = (Math.PI / 5) * i - Math.PI / 2;
    const rr = i % 2 ? r * 0.45 : r;
    ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  ctx.closePath();
  ctx.fillStyle = color;
  ctx.fill();
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 1;
  ctx.stroke();
}

/** Loss surfaces (one per node: the Rosenbrock valley, or the small- and large-batch solutions on one scale),
 * optimizer paths drawn over the surface they share an extent with. */
export class LandscapeView {
  constructor(body) {
    this.grid = el("div", { class: "lab-landscapes" });
    this.legend = el("div", { class: "chart-legend" });
    body.append(this.grid, this.legend);
    this.figures = new Map();
    this.key = "";
  }

  figure(node) {
    if (!this.figures.has(node)) {
      const heat = el("canvas", { class: "heat landscape-heat" });
      const marks = el("canvas", { class: "landscape-marks" });
      const fig = el("figure", { class: "landscape-cell" }, el("div", { class: "landscape-box" }, heat, marks),
        el("figcaption"));
      this.grid.append(fig);
      const entry = { fig, heat, marks, args: null };
      // marks are drawn at the box's size: draw them again when the box changes (a second surface arrives)
      new ResizeObserver(() => entry.args && this.drawMarks(marks, ...entry.args)).observe(marks);
      this.figures.set(node, entry);
    }
    return this.figures.get(node);
  }

  draw(run, palette) {
    const surfaces = run.framesOf("landscape");
    const paths = run.framesOf("paths");
    const key = [...surfaces, ...paths].map((f) => f.header.seq).join(",");
    if (key === this.key) return;
    this.key = key;
    // one colour scale for every surface, so a wider bowl is visibly wider; losses spanning orders of
    // magnitude are banded by their logarithm, as contour lines of a loss surface usually are
    let lo = Infinity;
    let hi = -Infinity;
    for (const f of surfaces) {
      const [a, b] = range(f.values);
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
    const log = !surfaces.some((f) => f.header.transform) && lo > 0 && hi / lo > 30; // as sent, when already scaled
    if (log) [lo, hi] = [Math.log10(lo), Math.log10(hi)];
    for (const f of surfaces) {
      const [rows, cols] = f.header.shape.slice(-2);
      const entry = this.figure(f.header.node);
      const { fig, heat, marks } = entry;
      const values = resample(log ? f.values.map(Math.log10) : f.values, rows, cols, SMOOTH);
      // the darkest quarter of the colour map is left out, so that paths stay visible on high ground
      paint(heat, banded(values, lo, hi), SMOOTH, SMOOTH, { mode: "sequential", lo, hi: lo + (hi - lo) / 0.72, flipY: true });
      const transform = f.header.transform ? ` · ${f.header.transform}` : log ? " · log10" : "";
      fig.lastChild.textContent = `${variantLabel(f.header.node)}${transform}`;
      entry.args = [f.header, surfaces.length === 1 ? paths : [], palette];
      this.drawMarks(marks, ...entry.args);
    }
    drawLegend(this.legend, surfaces.length === 1 && paths.length
      ? paths.map((p) => ({ label: variantLabel(p.header.node), color: palette.color(p.header.node) }))
      : []);
  }

  drawMarks(canvas, header, paths, palette) {
    const { ctx, w, h } = overlayContext(canvas);
    const [x0, x1, y0, y1] = header.extent ?? [-1, 1, -1, 1];
    const px = (x) => ((x - x0) / (x1 - x0)) * w;
    const py = (y) => h - ((y - y0) / (y1 - y0)) * h;
    ctx.lineJoin = "round";
    for (const p of paths) {
      const n = p.header.shape[0];
      ctx.strokeStyle = palette.color(p.header.node);
      ctx.lineWidth = 2;
      ctx.beginPath();
      for (let i = 0; i < n; i++) ctx.lineTo(px(p.values[2 * i]), py(p.values[2 * i + 1]));
      ctx.stroke();
      const [ex, ey] = [px(p.values[2 * (n - 1)]), py(p.values[2 * (n - 1) + 1])];
      ctx.fillStyle = palette.color(p.header.node);
      ctx.beginPath();
      ctx.arc(ex, ey, 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    if (paths.length) {
      ctx.fillStyle = "#1d2733";
      ctx.beginPath();
      ctx.arc(px(paths[0].values[0]), py(paths[0].values[1]), 4, 0, 2 * Math.PI);
      ctx.fill();
    }
    // the marked point: the function's minimum where the lab names it, else the centre (the trained solution)
    const minimum = header.minimum ?? [(x0 + x1) / 2, (y0 + y1) / 2];
    star(ctx, px(minimum[0]), py(minimum[1]), 8, "#d64545");
  }
}

/** The 2-D codes of test images, coloured by their digit (which the autoencoder never saw). */
export class LatentMapView {
  constructor(body) {
    this.canvas = el("canvas", { class: "latent-canvas" });
    this.legend = el("div", { class: "chart-legend latent-legend" });
    this.note = el("div", { class: "lab-note" });
    body.append(this.canvas, this.legend, this.note);
    this.seq = -1;
    new ResizeObserver(() => this.frame && this.paint(this.frame)).observe(this.canvas);
  }

  draw(run) {
    const frame = run.framesOf("latent_map").at(-1);
    if (!frame || frame.header.seq === this.seq) return;
    this.seq = frame.header.seq;
    this.frame = frame;
    this.paint(frame);
  }

  paint(frame) {
    const [n, d] = frame.header.shape;
    const v = frame.values;
    const { ctx, w, h } = overlayContext(this.canvas);
    let [xl, xh, yl, yh] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let i = 0; i < n; i++) {
      xl = Math.min(xl, v[i * d]);
      xh = Math.max(xh, v[i * d]);
      yl = Math.min(yl, v[i * d + 1]);
      yh = Math.max(yh, v[i * d + 1]);
    }
    const pad = 10;
    const sx = (x) => pad + ((x - xl) / (xh - xl || 1)) * (w - 2 * pad);
    const sy = (y) => h - pad - ((y - yl) / (yh - yl || 1)) * (h - 2 * pad);
    ctx.fillStyle = "#f7f9fb";
    ctx.fillRect(0, 0, w, h);
    ctx.globalAlpha = 0.85;
    const labels = new Set();
    for (let i = 0; i < n; i++) {
      const label = d > 2 ? v[i * d + 2] : 0;
      labels.add(label);
      ctx.fillStyle = classColor(label);
      ctx.beginPath();
      ctx.arc(sx(v[i * d]), sy(v[i * d + 1]), 2.6, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    drawLegend(this.legend, [...labels].sort((a, b) => a - b).map((l) => ({ label: String(l), color: classColor(l) })));
    this.note.textContent = `${variantLabel(frame.header.node)} · ${t("views.step", { s: frame.header.step })}`;
  }
}

/** Fitted 1-D functions: per target function, the true curve and each architecture's output. */
export class FunctionFitView {
  constructor(body) {
    this.grid = el("div", { class: "fit-grid" });
    this.legend = el("div", { class: "chart-legend" });
    body.append(this.grid, this.legend);
    this.charts = new Map();
    this.key = "";
  }

  draw(run, palette) {
    const frames = run.framesOf("function_fit");
    const key = frames.map((f) => f.header.seq).join(",");
    if (key === this.key) return;
    this.key = key;
    const byFunction = new Map();
    for (const f of frames) {
      const parts = f.header.node.split("/");
      const fn = parts.length > 1 ? parts.slice(1).join("/") : "";
      if (!byFunction.has(fn)) byFunction.set(fn, []);
      byFunction.get(fn).push(f);
    }
    const legend = [{ label: t("labs.target"), color: "#1d2733", dash: true }];
    for (const [fn, list] of byFunction) {
      const n = list[0].header.shape.at(-1);
      const x = Array.from(list[0].values.subarray(0, n));
      const series = [{ label: t("labs.target"), color: "#1d2733", x, y: Array.from(list[0].values.subarray(n, 2 * n)),
        dash: [5, 4], width: 1.5 }];
      for (const f of list) {
        series.push({ label: f.header.node, color: palette.color(f.header.node), x, y: Array.from(f.values.subarray(2 * n, 3 * n)) });
        if (!legend.some((e) => e.label === partLabel(f.header.node.split("/")[0]))) {
          legend.push({ label: partLabel(f.header.node.split("/")[0]), color: palette.color(f.header.node) });
        }
      }
      this.chart(fn).update(series, { cursor: false });
    }
    drawLegend(this.legend, legend);
  }

  chart(fn) {
    if (!this.charts.has(fn)) {
      const host = el("div", { class: "fit-host" });
      const fig = el("figure", { class: "fit-cell" }, host, el("figcaption"));
      this.grid.append(fig);
      fig.lastChild.textContent = partLabel(fn);
      this.charts.set(fn, new LineChart(host));
    }
    return this.charts.get(fn);
  }
}
