// Streaming line charts with uPlot: train and test curves of the watched run plus any overlaid runs.
// Data are re-joined only when a run's version changed; the views panel calls in at most once per frame.
import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { joinSeries } from "./series.js";

export class CurveChart {
  /** `host` gets the chart; `label` names the y axis; `log` draws the y axis in log scale. */
  constructor(host, { label, log = false, percent = false, legend = null }) {
    this.host = host;
    this.legend = legend;
    this.label = label;
    this.log = log;
    this.percent = percent;
    this.plot = null;
    this.seriesKey = "";
    this.pending = null;
    new ResizeObserver(() => this.resize()).observe(host);
  }

  size() {
    const r = this.host.getBoundingClientRect();
    return { width: Math.max(120, Math.floor(r.width)), height: Math.max(50, Math.floor(r.height)) };
  }

  /** A compact legend of our own under the chart (uPlot's grows with every overlaid run). */
  drawLegend(list) {
    if (!this.legend) return;
    this.legend.replaceChildren(...list.map((s) => {
      const swatch = document.createElement("i");
      swatch.style.background = s.color;
      if (s.dash) swatch.classList.add("dashed");
      const item = document.createElement("span");
      item.className = "legend-item";
      item.append(swatch, s.label);
      return item;
    }));
  }

  build(list) {
    this.plot?.destroy();
    const fmt = this.percent ? (u, v) => v.map((x) => `${Math.round(x * 100)}%`) : undefined;
    const opts = {
      ...this.size(),
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { size: 5 } },
      scales: { x: { time: false }, y: this.log ? { distr: 3 } : this.percent ? { range: [0, 1] } : {} },
      axes: [
        { stroke: "#687789", grid: { stroke: "#eef2f6" }, ticks: { stroke: "#dbe2ea" }, size: 26 },
        { stroke: "#687789", grid: { stroke: "#eef2f6" }, ticks: { stroke: "#dbe2ea" }, size: this.percent ? 50 : 46,
          values: fmt },
      ],
      series: [{ label: "step" }, ...list.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: s.width ?? 1.6,
        dash: s.dash,
        spanGaps: true,
        points: { show: s.points ?? false, size: 4 },
      }))],
    };
    this.plot = new uPlot(opts, joinSeries(list), this.host);
    this.drawLegend(list);
  }

  /** Show `list` = [{label, color, x, y, dash?, points?}]; callers run inside the panel's animation frame. */
  update(list) {
    this.pending = list;
    this.draw();
  }

  draw() {
    const list = this.pending;
    if (!list) return;
    this.pending = null;
    const key = list.map((s) => `${s.label}|${s.color}|${s.dash ?? ""}`).join(";");
    if (!this.plot || key !== this.seriesKey) {
      this.seriesKey = key;
      this.build(list);
    } else {
      this.plot.setData(joinSeries(list));
    }
  }

  resize() {
    if (this.plot) this.plot.setSize(this.size());
  }
}
