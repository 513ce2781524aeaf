// The tiles of one lab: its declared views (shown from the start, waiting for data) plus any view whose data
// arrive. Each tile draws from the LabRun; the labs page calls `draw` at most once per animation frame.
import { el } from "../format.js";
import { t } from "../i18n.js";
import { tile } from "../views/tile.js";
import { accuracyCurves, formatNumber, lossCurves, measurementBlocks, summaryLayout } from "./labrun.js";
import { AlignmentView, FeatureMapsView, FiltersView, HeadsView, ReconView } from "./matrices.js";
import { keyLabel, metricColor, metricLabel, partLabel, summaryAxis, variantLabel } from "./names.js";
import { BarChart, LineChart, VariantCurves, drawLegend, wantsLog } from "./plots.js";
import { FunctionFitView, LandscapeView, LatentMapView } from "./surfaces.js";

function chartBody(body, cls = "lab-chart") {
  const host = el("div", { class: cls });
  const legend = el("div", { class: "chart-legend" });
  body.append(host, legend);
  return { host, legend };
}

class LossView {
  constructor(body, { percent = false, curves = lossCurves } = {}) {
    const { host, legend } = chartBody(body);
    this.chart = new VariantCurves(host, legend, { percent });
    this.curves = curves;
    this.version = -1;
  }

  has(run) {
    return this.curves(run).length > 0;
  }

  draw(run, palette) {
    if (run.version === this.version) return;
    this.version = run.version;
    const curves = this.curves(run);
    if (curves.length) this.chart.update(curves, palette);
  }
}

class SummaryView {
  constructor(body, lab) {
    this.lab = lab;
    this.lines = el("div", { class: "lab-chart" });
    this.bars = el("canvas", { class: "lab-bars" });
    this.legend = el("div", { class: "chart-legend" });
    body.append(this.lines, this.bars, this.legend);
    this.lineChart = new LineChart(this.lines);
    this.barChart = new BarChart(this.bars);
    this.count = -1;
  }

  has(run) {
    return run.summary.length > 0;
  }

  draw(run, palette) {
    if (run.summary.length === this.count) return;
    this.count = run.summary.length;
    const layout = summaryLayout(run.summary);
    if (!layout) return;
    const percent = /acc|ticket|reinit/.test(layout.metric);
    const values = layout.type === "line" ? layout.lines.flatMap((l) => l.y) : layout.groups.flatMap((g) => g.values);
    const yLog = !percent && wantsLog(values);
    this.lines.hidden = layout.type !== "line";
    this.bars.hidden = layout.type !== "bars";
    if (layout.type === "line") {
      const byMetric = layout.lines.every((l) => l.metric);
      const lines = layout.lines.map((l) => ({ label: l.name, x: l.x, y: l.y, points: true,
        color: byMetric ? metricColor(l.name, palette) : palette.color(l.name) }));
      this.lineChart.update(lines, { xLog: layout.xLog, yLog, percent, threshold: layout.threshold,
        xLabel: summaryAxis(this.lab, run.summary, byMetric), thresholdLabel: t("labs.threshold") });
      drawLegend(this.legend, layout.lines.map((l, i) => ({ label: byMetric ? metricLabel(l.name) : variantLabel(l.name),
        color: lines[i].color })));
    } else {
      const series = layout.metrics.map((m) => ({ label: metricLabel(m), color: metricColor(m, palette) }));
      this.barChart.draw(layout.groups.map((g) => ({ label: variantLabel(g.name), values: g.values })), series,
        { log: yLog, percent: percent && layout.groups.every((g) => g.values.every((v) => v == null || (v >= 0 && v <= 1))) });
      drawLegend(this.legend, series);
    }
  }
}

class GradNormView {
  constructor(body) {
    this.canvas = el("canvas", { class: "lab-bars" });
    this.legend = el("div", { class: "chart-legend" });
    this.note = el("div", { class: "lab-note" });
    body.append(this.canvas, this.legend, this.note);
    this.chart = new BarChart(this.canvas);
    this.version = -1;
  }

  has(run) {
    return run.gradNorms.size > 0;
  }

  draw(run, palette) {
    if (run.version === this.version || !run.gradNorms.size) return;
    this.version = run.version;
    const variants = [...run.gradNorms.entries()];
    const layers = variants.reduce((a, [, g]) => (g.layers.length > a.length ? g.layers : a), []);
    const groups = layers.map((layer, i) => ({ label: layer, values: variants.map(([, g]) => g.norms[i] ?? null) }));
    const series = variants.map(([name]) => ({ label: variantLabel(name), color: palette.color(name) }));
    this.chart.draw(groups, series, { log: true });
    drawLegend(this.legend, series);
    this.note.textContent = `${t("labs.axis.layer")} · ${variants.map(([n, g]) => `${variantLabel(n)} ${t("views.step", { s: g.step })}`).join(" · ")}`;
  }
}

class ProfileView {
  constructor(body) {
    const { host, legend } = chartBody(body);
    this.legend = legend;
    this.chart = new LineChart(host);
    this.version = -1;
  }

  has(run) {
    return run.profiles.size > 0;
  }

  draw(run, palette) {
    if (run.version === this.version || !run.profiles.size) return;
    this.version = run.version;
    const lines = [...run.profiles].map(([name, p]) => ({ label: name, x: p.alpha, y: p.loss, color: palette.color(name) }));
    this.chart.update(lines, { xLabel: t("labs.axis.alpha") });
    drawLegend(this.legend, lines.map((l) => ({ label: variantLabel(l.label), color: l.color })));
  }
}

class MeasurementsView {
  constructor(body) {
    this.body = body;
    this.outcome = null;
  }

  has(run) {
    return Boolean(run.outcome?.measurements);
  }

  draw(run) {
    if (!run.outcome || run.outcome === this.outcome) return;
    this.outcome = run.outcome;
    this.body.replaceChildren(...measurementBlocks(run.outcome.measurements).map(block));
  }
}

// booleans as marks, names (a filter, a variant) in the page's language, numbers to 4 significant digits
const shown = (v) => (v === true ? "✓" : v === false ? "✗" : typeof v === "string" ? partLabel(v) : formatNumber(v));

/** A table cell; a long list shows its ends and its length. */
function cell(v) {
  if (!Array.isArray(v)) return el("td", { text: shown(v) });
  const text = v.length > 8 ? `${v.slice(0, 3).map(shown).join(", ")} … ${v.slice(-2).map(shown).join(", ")} (${v.length})`
    : v.map(shown).join(", ");
  return el("td", { text, title: v.map(shown).join(", ") });
}
const LABEL = { metric: keyLabel, variant: keyLabel, value: (v) => String(v) };

function block(b) {
  const title = b.key ? el("div", { class: "lab-table-title", text: keyLabel(b.key) }) : null;
  if (b.kind === "scalars") {
    return el("table", { class: "lab-table kv" }, el("tbody", {}, b.rows.map(([k, v]) =>
      el("tr", {}, el("th", { text: keyLabel(k) }), cell(v)))));
  }
  if (b.kind === "matrix") {
    const row = LABEL[b.rowKind] ?? keyLabel;
    const col = LABEL[b.colKind] ?? keyLabel;
    return el("div", { class: "lab-table-wrap" }, title,
      el("table", { class: "lab-table" },
        el("thead", {}, el("tr", {}, el("th", { text: b.corner ? keyLabel(b.corner) : "" }),
          b.cols.map((c) => el("th", { text: col(c) })))),
        el("tbody", {}, b.rows.map((r, i) => el("tr", {}, el("th", { text: row(r) }), b.cells[i].map(cell))))));
  }
  if (b.kind === "group") return el("div", { class: "lab-table-group" }, title, b.blocks.map(block));
  return el("div", { class: "lab-table-wrap" }, title, el("code", { class: "lab-json", text: b.text }));
}

/** Each view: its title, which declared views call for it, whether it spans two columns, how to build it. */
const VIEWS = [
  { name: "loss", title: "labs.view.loss", declared: ["curves"], make: (b) => new LossView(b) },
  { name: "accuracy", title: "labs.view.accuracy", declared: ["curves"],
    make: (b) => new LossView(b, { percent: true, curves: accuracyCurves }) },
  { name: "summary", title: "labs.view.summary", declared: ["summary_plot"], make: (b, lab) => new SummaryView(b, lab) },
  { name: "grad_norms", title: "labs.view.grad_norms", declared: ["grad_norms"], make: (b) => new GradNormView(b) },
  { name: "profile", title: "labs.view.profile", declared: [], make: (b) => new ProfileView(b) },
  { name: "landscape", title: "labs.view.landscape", declared: ["landscape", "paths"], make: (b) => new LandscapeView(b),
    kinds: ["landscape", "paths"] },
  { name: "function_fit", title: "labs.view.function_fit", declared: ["function_fit"], wide: true,
    make: (b) => new FunctionFitView(b), kinds: ["function_fit"] },
  { name: "alignment", title: "labs.view.alignment", declared: ["alignment"], make: (b) => new AlignmentView(b),
    kinds: ["alignment"] },
  { name: "heads", title: "labs.view.heads", declared: ["attention_heads"], wide: true, make: (b) => new HeadsView(b),
    kinds: ["attention_heads", "attention"] },
  { name: "reconstructions", title: "labs.view.reconstructions", declared: ["reconstructions"], wide: true,
    make: (b) => new ReconView(b), kinds: ["reconstructions", "reconstruction"] },
  { name: "latent_map", title: "labs.view.latent_map", declared: ["latent_map"], make: (b) => new LatentMapView(b),
    kinds: ["latent_map"] },
  { name: "filters", title: "labs.view.filters", declared: ["filters"], make: (b) => new FiltersView(b),
    kinds: ["filters", "conv_filters"] },
  { name: "feature_maps", title: "labs.view.feature_maps", declared: ["feature_maps"],
    make: (b) => new FeatureMapsView(b), kinds: ["feature_maps", "activations"] },
  { name: "measurements", title: "labs.view.measurements", declared: ["table"], wide: true,
    make: (b) => new MeasurementsView(b), last: true },
];

export class LabViews {
  /** Tiles for `lab` (a catalogue lab) appended to `host`. */
  constructor(host, lab) {
    this.host = host;
    this.lab = lab;
    const declared = new Set(lab.views ?? []);
    this.items = VIEWS.map((spec) => {
      const body = el("div", { class: "lab-tile-body" });
      const waiting = el("div", { class: "tile-empty", "data-i18n": "labs.waiting", text: t("labs.waiting") });
      const box = tile(spec.title, `lab-view-${spec.name}`, body, waiting);
      box.classList.add("lab-tile", `lab-tile-${spec.name}`);
      if (spec.wide) box.classList.add("wide");
      host.append(box);
      const view = spec.make(body, lab);
      if (!view.has) view.has = (run) => spec.kinds.some((k) => run.framesOf(k).length > 0);
      return { spec, box, body, waiting, view, declared: spec.declared.some((d) => declared.has(d)) };
    });
  }

  draw(run, palette) {
    for (const item of this.items) {
      const has = Boolean(run) && item.view.has(run);
      const done = Boolean(run?.ended);
      // declared views wait for their data; once the run is over, a view that got none steps aside
      const shown = has || (item.declared && !done);
      item.box.hidden = !shown;
      item.waiting.hidden = has;
      item.body.hidden = !has;
      item.box.dataset.ready = has ? "1" : "0";
      if (shown && has) item.view.draw(run, palette);
    }
  }
}
