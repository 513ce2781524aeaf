// The labs view's charts: curves overlaid per variant and the summary plot of a final metric against the varied
// setting (uPlot lines), grouped bars on a canvas for named settings and per-layer gradient norms, and a small
// legend of our own. Every draw call comes from the labs view's animation frame.
import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { el } from "../format.js";
import { joinSeries } from "../views/series.js";
import { formatNumber } from "./labrun.js";
import { splitVariant, variantLabel } from "./names.js";

const AXIS = { stroke: "#687789", grid: { stroke: "#eef2f6" }, ticks: { stroke: "#dbe2ea" } };

/** A legend row: one swatch per entry ({label, color, dash?}). */
export function drawLegend(host, entries) {
  host.replaceChildren(...entries.map((e) => {
    const swatch = el("i", { class: e.dash ? "dashed" : "" });
    swatch.style.background = e.color;
    if (e.dash) swatch.style.color = e.color;
    return el("span", { class: "legend-item" }, swatch, e.label);
  }));
}

/** Should these values be drawn on a log axis? Positive, and spanning two orders of magnitude. */
export function wantsLog(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v == null) continue;
    if (v <= 0) return false;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return Number.isFinite(lo) && hi / lo >= 100;
}

/** An axis tick: powers of ten as 1e-4 (short enough for the axis), other numbers as measurements read. */
function tick(v) {
  if (v == null) return "";
  const e = Math.log10(Math.abs(v));
  return v !== 0 && Math.abs(e % 1) < 1e-9 && (e <= -3 || e >= 5) ? `${v < 0 ? "-" : ""}1e${Math.round(e)}` : formatNumber(v);
}

const decadesOnly = (u, splits) => splits.map((v) => (v > 0 && Math.abs(Math.log10(v) % 1) < 1e-9 ? v : null));

/**
 * A uPlot line chart that is rebuilt only when its series or axes change (else `setData`): lines against a
 * numeric x, optionally log-scaled axes (decade grid lines only), a y axis in percent, a dashed marker line.
 */
export class LineChart {
  constructor(host) {
    this.host = host;
    this.plot = null;
    this.key = "";
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(host);
  }

  size() {
    const r = this.host.getBoundingClientRect();
    return { width: Math.max(160, Math.floor(r.width)), height: Math.max(80, Math.floor(r.height)) };
  }

  /** `series` = [{label, color, x, y, width?, dash?, points?}]. */
  update(series, { xLog = false, yLog = false, percent = false, threshold = null, thresholdLabel = "", xLabel = "",
    cursor = true } = {}) {
    const data = joinSeries(series);
    const key = [series.map((l) => `${l.label}|${l.color}|${l.width}|${l.points}`).join(";"), xLog, yLog, percent,
      threshold, thresholdLabel, xLabel].join("|");
    if (this.plot && key === this.key) {
      this.plot.setData(data);
      return;
    }
    this.key = key;
    this.plot?.destroy();
    const axis = (log, extra) => ({ ...AXIS, ...(log ? { filter: decadesOnly, grid: { ...AXIS.grid, filter: decadesOnly },
      ticks: { ...AXIS.ticks, filter: decadesOnly } } : {}), ...extra });
    const yValues = percent ? (u, vals) => vals.map((v) => (v == null ? "" : `${Math.round(v * 100)}%`))
      : (u, vals) => vals.map(tick);
    this.plot = new uPlot({
      ...this.size(),
      legend: { show: false },
      cursor: cursor ? { drag: { x: true, y: false }, points: { size: 6 } } : { show: false },
      scales: { x: { time: false, ...(xLog ? { distr: 3 } : {}) }, y: yLog ? { distr: 3 } : percent ? { range: [0, 1] } : {} },
      axes: [
        axis(xLog, { size: xLabel ? 38 : 26, label: xLabel || undefined, labelSize: 13, labelFont: "11px system-ui, sans-serif",
          values: (u, vals) => vals.map(tick) }),
        axis(yLog, { size: 52, values: yValues }),
      ],
      series: [{ label: "x" }, ...series.map((l) => ({
        label: l.label, stroke: l.color, width: l.width ?? 2, dash: l.dash, spanGaps: true,
        points: { show: l.points ?? false, size: 6, fill: l.color },
      }))],
      hooks: { draw: threshold == null ? [] : [(u) => marker(u, threshold, thresholdLabel)] },
    }, data, this.host);
  }
}

/** A dashed vertical line at x = value, labelled at its top. */
function marker(u, value, label) {
  const x = u.valToPos(value, "x", true);
  const { top, height } = u.bbox;
  const ctx = u.ctx;
  const px = devicePixelRatio || 1;
  ctx.save();
  ctx.strokeStyle = "#d64545";
  ctx.setLineDash([5 * px, 4 * px]);
  ctx.lineWidth = 1.5 * px;
  ctx.beginPath();
  ctx.moveTo(x, top);
  ctx.lineTo(x, top + height);
  ctx.stroke();
  ctx.font = `${11 * px}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  const w = ctx.measureText(label).width;
  ctx.fillStyle = "rgba(255, 255, 255, .85)";
  ctx.fillRect(x + 3 * px, top + 2 * px, w + 4 * px, 14 * px);
  ctx.fillStyle = "#d64545";
  ctx.fillText(label, x + 5 * px, top + 3 * px);
  ctx.restore();
}

/** Curves of every variant on one chart; seeds of one variant share its colour, drawn thinner. */
export class VariantCurves {
  constructor(host, legend, { percent = false } = {}) {
    this.legend = legend;
    this.percent = percent;
    this.chart = new LineChart(host);
  }

  update(curves, palette) {
    const groups = new Map();
    for (const c of curves) {
      const { group } = splitVariant(c.name);
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(c);
    }
    const list = [];
    for (const [group, members] of groups) {
      const color = palette.color(group);
      const many = members.length > 1;
      for (const c of members) {
        list.push({ label: c.name, color, x: c.x, y: c.y, width: many ? 1.1 : 1.8, points: !many && c.x.length < 30 });
      }
    }
    const yLog = !this.percent && wantsLog(curves.flatMap((c) => c.y));
    this.chart.update(list, { percent: this.percent, yLog });
    drawLegend(this.legend, [...groups].map(([group, members]) => ({
      label: members.length > 1 ? `${variantLabel(group)} ×${members.length}` : variantLabel(group),
      color: palette.color(group) })));
  }
}

/** Nice tick values between lo and hi (linear), or the decades (log). */
function ticks(lo, hi, log) {
  if (log) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
    return out;
  }
  const raw = (hi - lo) / 4 || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** `text` shortened with an ellipsis until it fits `width` pixels in the context's font. */
function fitText(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let n = text.length;
  while (n > 1 && ctx.measureText(`${text.slice(0, n)}…`).width > width) n--;
  return `${text.slice(0, n)}…`;
}

/** A label on at most two lines of `width` pixels: broken at a space or "·" near the middle, else mid-word. */
function wrapText(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return [text];
  const mid = text.length / 2;
  const breaks = [...text.matchAll(/[ ·・]/g)].map((m) => m.index);
  const at = breaks.sort((a, b) => Math.abs(a - mid) - Math.abs(b - mid))[0];
  const [a, b] = at != null ? [text.slice(0, at), text.slice(at + 1)] : [text.slice(0, Math.ceil(mid)), text.slice(Math.ceil(mid))];
  return [fitText(ctx, a.trim(), width), fitText(ctx, b.trim(), width)];
}

/** Grouped bars on a canvas: groups along x (a variant, a layer), one bar per series (a metric, a variant). */
export class BarChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.last = null;
    new ResizeObserver(() => this.last && this.draw(...this.last)).observe(canvas);
  }

  /** `groups` = [{label, values: [per series]}], `series` = [{label, color}]. */
  draw(groups, series, { log = false, percent = false } = {}) {
    this.last = [groups, series, { log, percent }];
    const c = this.canvas;
    const dpr = devicePixelRatio || 1;
    const w = Math.max(160, c.clientWidth);
    const h = Math.max(90, c.clientHeight);
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const values = groups.flatMap((g) => g.values).filter((v) => v != null && Number.isFinite(v) && (!log || v > 0));
    if (!values.length) return;
    let lo = log ? Math.min(...values) : Math.min(0, ...values);
    let hi = percent ? 1 : Math.max(...values);
    if (log) [lo, hi] = [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))];
    if (hi === lo) hi = lo + 1;
    const left = 46;
    const bottom = 34;
    const top = 8;
    const plotH = h - top - bottom;
    const y = (v) => {
      const t = log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo);
      return top + plotH * (1 - t);
    };
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (const v of ticks(lo, hi, log)) {
      const yy = Math.round(y(v)) + 0.5;
      ctx.strokeStyle = "#eef2f6";
      ctx.beginPath();
      ctx.moveTo(left, yy);
      ctx.lineTo(w - 4, yy);
      ctx.stroke();
      ctx.fillStyle = "#687789";
      ctx.fillText(percent ? `${Math.round(v * 100)}%` : log ? `1e${Math.round(Math.log10(v))}` : formatNumber(v),
        left - 5, yy);
    }
    const slot = (w - left - 6) / groups.length;
    const barW = Math.min(26, (slot * 0.78) / series.length);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const base = y(log ? lo : Math.max(lo, 0));
    groups.forEach((g, i) => {
      const x0 = left + 3 + slot * i + (slot - barW * series.length) / 2;
      g.values.forEach((v, k) => {
        if (v == null || !Number.isFinite(v) || (log && v <= 0)) return;
        ctx.fillStyle = series[k].color;
        const yy = y(v);
        ctx.fillRect(x0 + k * barW + 1, Math.min(yy, base), barW - 2, Math.max(1, Math.abs(base - yy)));
      });
      ctx.fillStyle = "#1d2733";
      wrapText(ctx, g.label, slot - 4).forEach((line, k) => ctx.fillText(line, left + 3 + slot * i + slot / 2, h - bottom + 5 + 13 * k));
    });
  }
}
