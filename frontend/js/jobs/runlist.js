// The run list along the bottom: every job with its status; replay one, overlay several, download artifacts.
import { ARTIFACTS, api } from "../api.js";
import { el, fixed, percent } from "../format.js";
import { onLangChange, t } from "../i18n.js";
import { normaliseSpec } from "../spec.js";
import { emit, on, replaceSpec } from "../store.js";
import { toast } from "../toast.js";
import { RunData } from "./rundata.js";
import { watch } from "./runner.js";
import { OVERLAY_COLORS, session } from "./session.js";
import { JobStream, isTerminal } from "./stream.js";

function jobsOf(body) {
  if (Array.isArray(body)) return body;
  return body?.items ?? body?.jobs ?? [];
}

function runName(job) {
  return job.name || job.spec?.name || `${job.spec?.data?.dataset ?? "run"} · ${job.id.slice(0, 6)}`;
}

export class RunList {
  constructor(host, { onOpen }) {
    this.host = host;
    this.onOpen = onOpen;
    this.jobs = [];
    this.timer = null;
    on("jobs:changed", () => this.refresh());
    on("run", () => this.markCurrent());
    onLangChange(() => this.render());
    this.refresh();
  }

  async refresh() {
    clearTimeout(this.timer);
    try {
      this.jobs = jobsOf(await api.jobs(30));
      this.render();
    } catch {
      // the list stays as it was; the next tick tries again
    }
    const busy = this.jobs.some((j) => !isTerminal(j.status)) || (session.current && !session.current.ended);
    this.timer = setTimeout(() => this.refresh(), busy ? 1500 : 8000);
  }

  render() {
    if (!this.jobs.length) {
      this.host.replaceChildren(el("div", { class: "empty-note", text: t("runs.empty") }));
      return;
    }
    this.host.replaceChildren(...this.jobs.map((job) => this.card(job)));
    this.markCurrent();
  }

  card(job) {
    const s = job.summary ?? {};
    const acc = s.test_accuracy ?? s.best_test_accuracy;
    const loss = s.test_loss ?? s.train_loss;
    const metric = acc != null ? t("runs.acc", { a: percent(acc) }) : loss != null ? t("runs.loss", { l: fixed(loss) }) : "";
    const overlay = session.overlays.get(job.id);
    const download = el("select", { title: t("runs.download") },
      el("option", { value: "", text: `${t("runs.download")} ▾` }),
      ARTIFACTS.map((name) => el("option", { value: name, text: name })));
    download.addEventListener("change", () => {
      if (download.value) window.open(api.artifactUrl(job.id, download.value), "_blank", "noopener");
      download.value = "";
    });
    const overlayBtn = el("button", { type: "button", title: t("runs.overlay.title"), class: overlay ? "on" : "" },
      overlay ? el("span", { class: "overlay-swatch" }) : null, t("runs.overlay"));
    if (overlay) overlayBtn.firstChild.style.background = overlay.color;
    overlayBtn.addEventListener("click", () => this.toggleOverlay(job));
    const when = job.created_at ? new Date(job.created_at * 1000).toLocaleTimeString() : "";
    const where = job.queue_position != null && job.status === "queued" ? ` · #${job.queue_position}` : "";
    return el("article", { class: "run-card", testid: `run-${job.id}`, dataset: { id: job.id, status: job.status } },
      el("div", { class: "run-head" },
        el("span", { class: `chip ${job.status}`, text: t(job.status === "queued" ? "status.queued.plain" : `status.${job.status}`) }),
        el("span", { class: "run-name", text: runName(job), title: runName(job) })),
      el("div", { class: "run-meta", text: `${job.spec?.data?.dataset ?? ""} · ${when}${where}` }),
      el("div", { class: "run-meta", text: job.reason ? t("reason.label", { r: job.reason }) : metric,
        title: job.reason ?? "" }),
      el("div", { class: "run-actions" },
        el("button", { type: "button", title: t("runs.open.title"), testid: `run-open-${job.id}`,
          onclick: () => this.open(job) }, t("runs.open")),
        overlayBtn,
        isTerminal(job.status) ? download : el("button", { type: "button", onclick: () => this.cancel(job) },
          t("runs.cancel"))));
  }

  markCurrent() {
    for (const card of this.host.children) card.classList?.toggle("current", card.dataset.id === session.current?.id);
  }

  /** Open a run: its network into the editor, its whole record replayed into the views (after_seq=0). */
  async open(job) {
    let record = job;
    if (!record.spec) {
      try {
        record = await api.job(job.id);
      } catch (err) {
        return toast(err.message, { error: true });
      }
    }
    if (record.spec?.kind === "lab") return emit("labs:open", { lab: record.spec.lab, job: record });
    if (record.spec) replaceSpec(normaliseSpec(record.spec));
    watch(job.id, record.spec ?? null, { label: runName(record) });
    this.onOpen?.(record);
  }

  async cancel(job) {
    try {
      await api.cancel(job.id);
    } catch (err) {
      toast(err.message, { error: true });
    }
    this.refresh();
  }

  toggleOverlay(job) {
    const current = session.overlays.get(job.id);
    if (current) {
      current.stream.close();
      session.overlays.delete(job.id);
    } else {
      const used = new Set([...session.overlays.values()].map((o) => o.color));
      const color = OVERLAY_COLORS.find((c) => !used.has(c)) ?? OVERLAY_COLORS[session.overlays.size % 7];
      const run = new RunData(job.id, job.spec ?? null);
      run.label = runName(job);
      const entry = { run, color, stream: null };
      entry.stream = new JobStream(job.id, {
        onText: (f) => {
          run.text(f);
          emit("overlay");
        },
        onTensor: () => {},
        onEnd: () => emit("overlay"),
      });
      session.overlays.set(job.id, entry);
    }
    emit("overlay");
    this.render();
  }
}
