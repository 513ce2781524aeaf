// The playground's sweep: a form under the training settings (which setting, which values) that posts the edited
// spec as a study's base, and a panel that follows the study: every member's loss curve overlaid (one colour per
// value) and, once members finish, the final metric against the varied value. The charts are the labs view's.
import { api, specError } from "../api.js";
import { el } from "../format.js";
import { onLangChange, t } from "../i18n.js";
import { JobStream, isTerminal } from "../jobs/stream.js";
import { LabRun, lossCurves, summaryLayout } from "../labs/labrun.js";
import { Palette, metricColor, metricLabel, variantLabel } from "../labs/names.js";
import { BarChart, LineChart, VariantCurves, drawLegend, wantsLog } from "../labs/plots.js";
import { jobSpec } from "../spec.js";
import { store } from "../store.js";
import { memberFrames, memberName, parseValues, studyRequest, summaryPoints, sweepChoices, valueAt } from "./model.js";
import "./strings.js";

const POLL_MS = 1000;

function choiceLabel(c) {
  return c.kind === "units" ? t("study.units", { node: c.node }) : t(`study.${c.kind === "optimizer" ? "opt" : c.kind}`);
}

/** The form: opened by the sweep button, it shows errors (a 422 names the variant) in place. */
export class StudyForm {
  constructor(button, host, panel) {
    Object.assign(this, { button, host, panel });
    this.host.hidden = true;
    button.addEventListener("click", () => (this.host.hidden ? this.open() : this.close()));
    onLangChange(() => !this.host.hidden && this.render());
  }

  open() {
    this.render();
    this.host.hidden = false;
    this.values.focus();
  }

  close() {
    this.host.hidden = true;
  }

  render() {
    const choices = sweepChoices(store.spec);
    const keep = this.select?.value;
    this.select = el("select", { testid: "study-setting" },
      choices.map((c) => el("option", { value: c.path, dataset: { kind: c.kind }, text: choiceLabel(c) })));
    if (keep && choices.some((c) => c.path === keep)) this.select.value = keep;
    this.values = el("input", { type: "text", testid: "study-values", placeholder: "0.01, 0.1", autocomplete: "off" });
    this.hint = el("span", { class: "study-hint" });
    this.error = el("div", { class: "study-error", testid: "study-error", role: "alert" });
    this.submitBtn = el("button", { type: "submit", class: "primary", testid: "study-submit", text: t("study.submit") });
    const showHint = () => {
      const now = valueAt(store.spec, this.select.value);
      this.hint.textContent = now === undefined ? "" : t("study.now", { v: now });
    };
    this.select.addEventListener("change", showHint);
    showHint();
    const form = el("form", { class: "study-form" },
      el("label", { class: "hp" }, t("study.vary"), this.select),
      el("label", { class: "hp" }, t("study.values"), this.values),
      this.hint, this.submitBtn,
      el("button", { type: "button", class: "tool-btn", text: t("study.cancel"), onclick: () => this.close() }),
      this.error);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.host.replaceChildren(form);
  }

  async submit() {
    const path = this.select.value;
    const kind = this.select.selectedOptions[0]?.dataset.kind;
    const parsed = parseValues(kind, this.values.value);
    if (parsed.error) {
      this.error.textContent = t(parsed.error.key, { value: parsed.error.value });
      return;
    }
    this.error.textContent = "";
    this.submitBtn.disabled = true;
    try {
      const study = await api.createStudy(studyRequest(jobSpec(store.spec), path, parsed.values));
      this.close();
      this.panel.follow(study, () => choiceLabel(sweepChoices(store.spec).find((c) => c.path === path) ?? { kind: "seed" }));
    } catch (err) {
      this.error.textContent = err.body ? specError(err.body).message || err.message : err.message;
    } finally {
      this.submitBtn.disabled = false;
    }
  }
}

/** The study panel: curves overlaid per member, then the summary plot, redrawn at most once per frame. */
export class StudyPanel {
  constructor(host) {
    this.host = host;
    host.hidden = true;
    this.title = el("strong");
    this.state = el("span", { class: "study-state", testid: "study-status" });
    const close = el("button", { type: "button", class: "tool-btn", text: "×", "aria-label": t("study.cancel"),
      onclick: () => this.stop() });
    const curves = el("div", { class: "lab-chart study-chart" });
    const curvesLegend = el("div", { class: "chart-legend", testid: "study-legend" });
    this.lines = el("div", { class: "lab-chart study-chart", testid: "study-summary" });
    this.bars = el("canvas", { class: "lab-bars study-chart", testid: "study-summary-bars" });
    this.summaryLegend = el("div", { class: "chart-legend" });
    this.wait = el("p", { class: "study-wait", text: t("study.summary.wait") });
    this.curvesTitle = el("h4", { text: t("study.curves") });
    this.summaryTitle = el("h4", { text: t("study.summary") });
    host.replaceChildren(
      el("header", {}, this.title, this.state, close),
      el("div", { class: "study-body" },
        el("section", { testid: "study-curves" }, this.curvesTitle, curves, curvesLegend),
        el("section", {}, this.summaryTitle, this.wait, this.lines, this.bars, this.summaryLegend)));
    this.curves = new VariantCurves(curves, curvesLegend);
    this.lineChart = new LineChart(this.lines);
    this.barChart = new BarChart(this.bars);
    this.streams = [];
    onLangChange(() => {
      this.curvesTitle.textContent = t("study.curves");
      this.summaryTitle.textContent = t("study.summary");
      this.wait.textContent = t("study.summary.wait");
      if (this.study) this.show(this.study);
    });
  }

  /** Start following a study just created: one stream per job, the study record polled for its summary. */
  follow(study, label = () => study.axes[0].path) {
    this.stop();
    this.label = label;
    this.host.hidden = false;
    this.run = new LabRun("study");
    this.palette = new Palette();
    this.drawn = -1;
    this.path = study.axes[0].path;
    const names = study.members.map((m) => memberName(m, this.path));
    names.forEach((n) => this.palette.color(n));
    const own = (jobId) => (study.mode === "batched" ? null : names[study.members.findIndex((m) => m.job_id === jobId)]);
    this.streams = study.jobs.map((jobId) => new JobStream(jobId, {
      onText: (f) => {
        for (const frame of memberFrames(f, names, own(jobId))) this.run.text(frame);
        this.schedule();
      },
    }));
    this.show(study);
    this.poll(study.id);
  }

  async poll(id) {
    const token = (this.token = {});
    while (this.token === token) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (this.token !== token) return;
      try {
        this.show(await api.study(id));
      } catch {
        continue; // a dropped request: the next poll tries again
      }
      if (isTerminal(this.study.status)) return;
    }
  }

  stop() {
    this.token = null;
    for (const s of this.streams) s.close();
    this.streams = [];
    this.study = null;
    this.host.hidden = true;
  }

  show(study) {
    this.study = study;
    this.title.textContent = t("study.title", { v: this.label() });
    this.state.textContent = `${t(`status.${study.status}`)} · ${t(`study.mode.${study.mode}`)}`;
    this.host.dataset.status = study.status;
    this.drawSummary(study.summary_plot);
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      if (this.run.version === this.drawn) return;
      this.drawn = this.run.version;
      const curves = lossCurves(this.run);
      if (curves.length) this.curves.update(curves, this.palette);
      this.host.dataset.curves = String(curves.filter((c) => c.y.some((y) => y != null)).length);
    });
  }

  drawSummary(plot) {
    const layout = summaryLayout(summaryPoints(plot));
    this.wait.hidden = layout != null;
    this.lines.hidden = layout?.type !== "line";
    this.bars.hidden = layout?.type !== "bars";
    this.host.dataset.summary = layout ? String(summaryPoints(plot).length) : "0";
    if (!layout) return;
    const percent = /acc/.test(layout.metric);
    const color = metricColor(layout.metric, this.palette);
    if (layout.type === "line") {
      const lines = layout.lines.map((l) => ({ label: l.name, x: l.x, y: l.y, points: true, color }));
      this.lineChart.update(lines, { xLog: layout.xLog, yLog: !percent && wantsLog(lines.flatMap((l) => l.y)),
        percent, xLabel: this.label() });
    } else {
      this.barChart.draw(layout.groups.map((g) => ({ label: variantLabel(g.name), values: g.values })),
        [{ label: metricLabel(layout.metric), color }], { percent });
    }
    drawLegend(this.summaryLegend, [{ label: metricLabel(layout.metric), color }]);
  }
}
