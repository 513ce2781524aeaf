// Loss and accuracy curves: the watched run's batch, train and test series plus overlaid runs.
import { el } from "../format.js";
import { t } from "../i18n.js";
import { session } from "../jobs/session.js";
import { CurveChart } from "./charts.js";
import { tile, waiting } from "./tile.js";

const COLORS = { batch: "#b9d3ea", train: "#0877bd", test: "#f59322" };

export class CurvesView {
  constructor() {
    this.lossHost = el("div", { class: "chart-host" });
    this.accHost = el("div", { class: "chart-host" });
    this.lossWait = waiting();
    this.accWait = waiting();
    this.lossLegend = el("div", { class: "chart-legend" });
    this.accLegend = el("div", { class: "chart-legend" });
    this.lossTile = tile("views.loss", "loss-chart", this.lossHost, this.lossLegend, this.lossWait);
    this.accTile = tile("views.accuracy", "accuracy-chart", this.accHost, this.accLegend, this.accWait);
    this.tiles = [this.lossTile, this.accTile];
    this.loss = new CurveChart(this.lossHost, { label: "loss", legend: this.lossLegend });
    this.acc = new CurveChart(this.accHost, { label: "accuracy", percent: true, legend: this.accLegend });
    this.lastKey = "";
  }

  series(metric) {
    const list = [];
    const run = session.current;
    if (run) {
      for (const name of ["batch", "train", "test"]) {
        const s = run.series[name];
        if (!s.step.length || s[metric].every((v) => v == null)) continue;
        list.push({ label: t(`views.${name}`),
          color: COLORS[name], x: s.step, y: s[metric], width: name === "batch" ? 1 : 2,
          points: name !== "batch" && s.step.length < 60 });
      }
    }
    for (const { run: other, color } of session.overlays.values()) {
      if (other === run) continue;
      for (const name of ["test", "train"]) {
        const s = other.series[name];
        if (!s.step.length || s[metric].every((v) => v == null)) continue;
        list.push({ label: `${other.label ?? other.id.slice(0, 6)} ${t(`views.${name}`)}`, color, x: s.step,
          y: s[metric], dash: name === "train" ? [4, 3] : undefined, width: 1.6 });
      }
    }
    return list;
  }

  draw() {
    const run = session.current;
    const overlays = [...session.overlays.values()].map((o) => `${o.run.id}.${o.run.version}`).join(",");
    const key = `${run?.id}:${run?.version}:${overlays}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    const loss = this.series("loss");
    this.lossWait.hidden = loss.length > 0;
    this.lossHost.hidden = loss.length === 0;
    this.lossLegend.hidden = loss.length === 0;
    if (loss.length) this.loss.update(loss);
    const acc = this.series("acc");
    this.accWait.hidden = acc.length > 0;
    this.accHost.hidden = acc.length === 0;
    this.accLegend.hidden = acc.length === 0;
    if (acc.length) this.acc.update(acc);
    const last = run?.series.test.loss.at(-1) ?? run?.series.batch.loss.at(-1);
    this.lossTile.note.textContent = last != null ? ` ${last.toFixed(4)}` : "";
    const lastAcc = run?.series.test.acc.at(-1);
    this.accTile.note.textContent = lastAcc != null ? ` ${(lastAcc * 100).toFixed(1)}%` : "";
    this.lossTile.dataset.points = String(run?.series.batch.step.length ?? 0);
  }
}
