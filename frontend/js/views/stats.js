// Views of training statistics: gradient flow (layers × steps), weight histograms, the confusion matrix and
// autoencoder reconstructions.
import { el } from "../format.js";
import { t } from "../i18n.js";
import { session } from "../jobs/session.js";
import { MapGrid } from "./grid.js";
import { paint } from "./heatmap.js";
import { framesFor, tile, waiting } from "./tile.js";

const MAX_COLS = 240;

export class GradFlowView {
  constructor() {
    this.canvas = el("canvas", { class: "heat gradflow" });
    this.labels = el("div", { class: "gradflow-labels" });
    this.scale = el("div", { class: "gradflow-scale" });
    this.empty = waiting();
    this.box = tile("views.gradflow", "gradient-flow",
      el("div", { class: "gradflow-wrap" }, this.labels, this.canvas), this.scale, this.empty);
    this.tiles = [this.box];
    this.version = -1;
  }

  /** log10 of each layer's gradient norm, steps bucketed (mean) into at most MAX_COLS columns. */
  draw() {
    const run = session.current;
    const g = run?.grad;
    const has = Boolean(g && g.steps.length);
    this.empty.hidden = has;
    this.canvas.hidden = !has;
    if (!has || run.version === this.version) return;
    this.version = run.version;
    const n = g.steps.length;
    const cols = Math.min(MAX_COLS, n);
    const rows = g.nodes.length;
    const out = new Float32Array(rows * cols).fill(Number.NaN);
    let lo = Infinity;
    let hi = -Infinity;
    g.nodes.forEach((node, r) => {
      const series = g.rows.get(node);
      for (let c = 0; c < cols; c++) {
        const a = Math.floor((c * n) / cols);
        const b = Math.max(a + 1, Math.floor(((c + 1) * n) / cols));
        let sum = 0;
        let k = 0;
        for (let i = a; i < b; i++) if (series[i] > 0) {
          sum += Math.log10(series[i]);
          k++;
        }
        if (k) {
          const v = sum / k;
          out[r * cols + c] = v;
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    });
    paint(this.canvas, out, rows, cols, { mode: "sequential", lo, hi: hi > lo ? hi : lo + 1 });
    const key = g.nodes.join(",");
    if (this.labels.dataset.key !== key) {
      this.labels.dataset.key = key;
      this.labels.replaceChildren(...g.nodes.map((node) => el("span", { text: node })));
    }
    this.scale.textContent = Number.isFinite(lo)
      ? `‖∇‖ 10^${lo.toFixed(1)} … 10^${hi.toFixed(1)} · ${t("views.step", { s: g.steps.at(-1) })}` : "";
    this.box.dataset.steps = String(n);
  }
}

export class HistogramView {
  constructor() {
    this.host = el("div", { class: "hist-grid" });
    this.empty = waiting();
    this.box = tile("views.histograms", "weight-histograms", this.host, this.empty);
    this.tiles = [this.box];
    this.seen = "";
  }

  /** Frames are [layers, bins] counts with meta {nodes, ranges} (or one [bins] frame per node). */
  draw() {
    const frames = framesFor(session.current, "histograms");
    this.empty.hidden = frames.length > 0;
    const key = frames.map((f) => f.header.seq).join(",");
    if (key === this.seen) return;
    this.seen = key;
    const cells = [];
    for (const f of frames) {
      const s = f.header.shape;
      const rows = s.length === 2 ? s[0] : 1;
      const bins = s.at(-1);
      for (let r = 0; r < rows && cells.length < 12; r++) {
        const name = f.header.nodes?.[r] ?? f.header.node;
        const range = f.header.ranges?.[r] ?? f.header.range ?? [f.header.min, f.header.max];
        cells.push(this.histogram(name, f.values.subarray(r * bins, (r + 1) * bins), range));
      }
    }
    this.host.replaceChildren(...cells);
  }

  histogram(name, v, [lo, hi]) {
    const c = el("canvas", { width: "120", height: "44" });
    const ctx = c.getContext("2d");
    let max = 1e-9;
    for (const x of v) max = Math.max(max, x);
    const w = 120 / v.length;
    for (let i = 0; i < v.length; i++) {
      const x = lo != null ? lo + ((i + 0.5) / v.length) * (hi - lo) : i - v.length / 2;
      ctx.fillStyle = x < 0 ? "#f59322" : "#0877bd";
      const h = (v[i] / max) * 42;
      ctx.fillRect(i * w, 44 - h, Math.max(1, w - 0.5), h);
    }
    const range = lo != null ? ` ${Number(lo).toFixed(2)}…${Number(hi).toFixed(2)}` : "";
    return el("figure", { class: "hist-cell" }, c, el("figcaption", { text: `${name}${range}` }));
  }
}

export class ConfusionView {
  constructor() {
    this.canvas = el("canvas", { class: "heat confusion" });
    this.empty = waiting();
    this.wrap = el("div", { class: "confusion-wrap" },
      el("span", { class: "axis-y", "data-i18n": "views.actual", text: t("views.actual") }), this.canvas,
      el("span", { class: "axis-x", "data-i18n": "views.predicted", text: t("views.predicted") }));
    this.box = tile("views.confusion", "confusion-matrix", this.wrap, this.empty);
    this.tiles = [this.box];
    this.seq = -1;
  }

  draw() {
    const f = framesFor(session.current, "confusion").at(-1);
    this.empty.hidden = Boolean(f);
    this.wrap.hidden = !f;
    if (!f || f.header.seq === this.seq) return;
    this.seq = f.header.seq;
    this.box.dataset.step = String(f.header.step);
    this.box.note.textContent = f.header.epoch != null ? ` epoch ${f.header.epoch}` : "";
    const [r, c] = f.header.shape;
    // normalise each actual-class row so rare classes read as clearly as common ones
    const v = new Float32Array(r * c);
    for (let i = 0; i < r; i++) {
      let s = 0;
      for (let j = 0; j < c; j++) s += f.values[i * c + j];
      for (let j = 0; j < c; j++) v[i * c + j] = s ? f.values[i * c + j] / s : 0;
    }
    paint(this.canvas, v, r, c, { mode: "sequential", lo: 0, hi: 1 });
  }
}

export class ReconView {
  constructor() {
    this.inputs = new MapGrid("map-grid recon-grid");
    this.outputs = new MapGrid("map-grid recon-grid");
    this.empty = waiting();
    this.box = tile("views.recon", "reconstructions",
      el("div", { class: "recon-row" }, el("span", { "data-i18n": "views.input", text: t("views.input") }),
        this.inputs.host),
      el("div", { class: "recon-row" }, el("span", { "data-i18n": "views.output", text: t("views.output") }),
        this.outputs.host), this.empty);
    this.tiles = [this.box];
    this.seq = -1;
  }

  /** [2, N, ...] (inputs then reconstructions); images [C,H,W] or vectors (square ones drawn as images). */
  draw() {
    const f = framesFor(session.current, "recon").at(-1);
    this.empty.hidden = Boolean(f);
    if (!f || f.header.seq === this.seq) return;
    this.seq = f.header.seq;
    const s = f.header.shape;
    const pairs = s[0] === 2 ? s.slice(1) : s;
    const n = Math.min(pairs[0], 8);
    const per = pairs.slice(1).reduce((a, b) => a * b, 1);
    let [h, w] = pairs.length >= 3 ? pairs.slice(-2) : [1, per];
    const side = Math.round(Math.sqrt(per));
    if (pairs.length < 3 && side * side === per) [h, w] = [side, side];
    const perSample = per;
    const take = (offset) => {
      const out = new Float32Array(n * h * w);
      for (let i = 0; i < n; i++) out.set(f.values.subarray(offset + i * perSample, offset + i * perSample + h * w), i * h * w);
      return out;
    };
    const half = pairs[0] * perSample;
    this.inputs.draw(take(0), n, h, w, { mode: "sequential" });
    this.outputs.draw(s[0] === 2 ? take(half) : take(0), n, h, w, { mode: "sequential" });
  }
}
