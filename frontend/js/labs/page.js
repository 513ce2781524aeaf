// The labs view: pick a lab, read its claim and what to look for, run it (quick or full) and watch its curves,
// summary plot and tensor views fill in; when the job ends, the measured outcome says whether the claim held.
// Runs keep streaming while another lab is shown; coming back shows everything received so far.
import { ApiError, api } from "../api.js";
import { el } from "../format.js";
import { requestDraw } from "../frame.js";
import { getLang, onLangChange, pick, t } from "../i18n.js";
import { JobStream } from "../jobs/stream.js";
import { emit } from "../store.js";
import { LabRun } from "./labrun.js";
import { LabList } from "./list.js";
import { Palette, settingLabel } from "./names.js";
import "./strings.js";
import { LabViews } from "./views.js";

const HASH = /(?:^#|&)lab=([a-z0-9_]+)/;

/** What to tell the learner when the run could not be started, and what to do about it. */
export function startError(err) {
  if (!(err instanceof ApiError)) return t("labs.error.network");
  if (err.status === 404) return t("labs.error.missing");
  if (err.status === 422 || err.status === 413) return t("labs.error.invalid", { msg: err.message });
  if (err.status === 503 || err.status === 429) return t("labs.error.busy");
  if (err.status === 401 || err.status === 403) return t("labs.error.auth");
  return t("labs.error.server", { status: err.status, msg: err.message });
}

/** Why a run ended without an outcome, and what to do next. */
export function endError(run) {
  if (run.status === "cancelled") return t("labs.fail.cancelled");
  const r = String(run.reason ?? "");
  if (r === "oom") return t("labs.fail.oom");
  if (r === "timeout") return t("labs.fail.timeout");
  if (r.startsWith("worker_died")) return t("labs.fail.worker");
  if (run.status === "succeeded") return t("labs.outcome.missing");
  return t("labs.fail.other", { r: run.message ? `${r}: ${run.message}` : r || run.status });
}

export class LabsPage {
  constructor({ list, detail, catalogue }) {
    this.detail = detail;
    this.labs = catalogue.raw.labs ?? [];
    this.byId = new Map(this.labs.map((l) => [l.id, l]));
    this.list = new LabList(list, { onPick: (id) => this.show(id) });
    this.runs = new Map(); // lab id -> {run, stream, palette}
    this.settings = new Map(); // lab id -> {scale, seed, text}
    this.current = null;
    this.views = null;
    this.drawFn = () => this.draw();
    this.list.render(this.labs);
    onLangChange(() => {
      this.list.render(this.labs);
      if (this.current) this.show(this.current);
    });
    setInterval(() => this.entry()?.run && !this.entry().run.ended && requestDraw(this.drawFn), 1000);
  }

  /** The lab named in the page's #lab=..., if any. */
  static hashLab() {
    return HASH.exec(location.hash)?.[1] ?? null;
  }

  entry(id = this.current) {
    return this.runs.get(id) ?? null;
  }

  show(id) {
    const lab = this.byId.get(id) ?? this.labs[0];
    if (!lab) {
      this.detail.replaceChildren(el("p", { class: "empty-note", text: t("labs.error.missing") }));
      return;
    }
    this.current = lab.id;
    this.list.highlight(lab.id);
    history.replaceState(null, "", `${location.pathname}${location.search}#lab=${lab.id}`);
    const settings = this.settingsOf(lab);
    const viewsHost = el("div", { class: "lab-views" });
    this.detail.replaceChildren(this.header(lab, settings), this.cards(lab), viewsHost);
    this.views = new LabViews(viewsHost, lab);
    this.detail.scrollTop = 0;
    this.draw();
    if (!this.runs.has(lab.id)) this.resumeLatest(lab.id);
  }

  /** A lab shown for the first time in this page: replay its latest job on this server, if it has one (a
   * reload, or a run started from another tab, keeps its curves and outcome). */
  async resumeLatest(labId) {
    this.recent ??= api.jobs(100).then((body) => body?.jobs ?? body?.items ?? (Array.isArray(body) ? body : []))
      .catch(() => []);
    const jobs = await this.recent;
    const job = jobs.find((j) => j.summary?.lab === labId || j.name === `lab: ${labId}`);
    if (job && !this.runs.has(labId)) this.replay(labId, job);
  }

  /** Show job `job` of lab `labId` from its first frame (a past run, or one still going). */
  replay(labId, job) {
    const previous = this.entry(labId);
    if (previous?.run.jobId === job.id) return;
    previous?.stream?.close();
    const params = job.spec?.params ?? job.summary?.params;
    if (params) {
      const settings = this.settingsOf(this.byId.get(labId) ?? { id: labId });
      Object.assign(settings, { scale: params.scale ?? settings.scale, seed: params.seed ?? settings.seed,
        text: params.text ?? settings.text });
    }
    const entry = { run: new LabRun(labId, job.id), stream: null, palette: new Palette(), error: null };
    this.runs.set(labId, entry);
    this.list.mark(labId, "running");
    this.follow(entry, job);
    requestDraw(this.drawFn);
  }

  settingsOf(lab) {
    if (!this.settings.has(lab.id)) {
      this.settings.set(lab.id, { scale: "quick", seed: 0, text: lab.default_text ?? "" });
    }
    return this.settings.get(lab.id);
  }

  header(lab, settings) {
    const scale = el("div", { class: "seg", role: "radiogroup", "aria-label": t("labs.scale") },
      ["quick", "full"].map((value) => {
        const b = el("button", { type: "button", role: "radio", testid: `lab-scale-${value}`,
          title: t(`labs.scale.${value}.title`), text: t(`labs.scale.${value}`) });
        const sync = () => {
          for (const x of b.parentNode.children) x.setAttribute("aria-checked", String(x === b));
        };
        b.setAttribute("aria-checked", String(settings.scale === value));
        b.addEventListener("click", () => {
          settings.scale = value;
          sync();
        });
        return b;
      }));
    const seed = el("input", { type: "number", min: "0", step: "1", value: String(settings.seed), class: "lab-seed",
      testid: "lab-seed", "aria-label": t("labs.seed") });
    seed.addEventListener("change", () => {
      settings.seed = seed.value;
    });
    const controls = [el("label", { class: "lab-field" }, el("span", { text: t("labs.scale") }), scale),
      el("label", { class: "lab-field" }, el("span", { text: t("labs.seed") }), seed)];
    if (lab.reads_text) {
      const text = el("input", { type: "text", maxlength: "300", value: settings.text, class: "lab-text", testid: "lab-text",
        "aria-label": t("labs.text") });
      text.addEventListener("input", () => {
        settings.text = text.value;
      });
      controls.push(el("label", { class: "lab-field lab-field-text" }, el("span", { text: t("labs.text") }), text));
    }
    this.runBtn = el("button", { type: "button", class: "primary-btn", testid: "lab-run", onclick: () => this.run(lab) },
      el("span", { class: "icon", text: "▶" }), el("span", { text: t("labs.run") }));
    this.stopBtn = el("button", { type: "button", class: "stop-btn lab-stop", testid: "lab-stop", onclick: () => this.stop() },
      el("span", { class: "icon", text: "■" }), el("span", { text: t("labs.stop") }));
    this.status = el("div", { class: "lab-status", testid: "lab-status", dataset: { state: "idle" } },
      el("span", { class: "status-dot" }), el("span", { class: "lab-status-text" }), el("span", { class: "lab-status-log" }));
    return el("header", { class: "lab-head" },
      el("div", { class: "lab-title" },
        el("h2", { text: pick(lab.title) || lab.id }),
        el("div", { class: "lab-sub" },
          el("span", { class: "section-chip", text: lab.section === "gap" ? t("section.gap") : lab.section }),
          lab.varies ? el("span", { class: "lab-varies", text: t("labs.varies", { v: settingLabel(lab.varies) }) }) : null)),
      el("div", { class: "lab-controls" }, ...controls, this.runBtn, this.stopBtn),
      this.status);
  }

  cards(lab) {
    this.outcome = el("section", { class: "lab-card lab-outcome", testid: "lab-outcome", dataset: { state: "idle" } });
    return el("div", { class: "lab-cards" },
      el("section", { class: "lab-card lab-claim-card" },
        el("h3", { text: t("labs.claim") }),
        el("p", { class: "lab-claim", testid: "lab-claim", text: pick(lab.claim) }),
        el("h3", { text: t("labs.look_for") }),
        el("p", { class: "lab-look", testid: "lab-look-for", text: pick(lab.look_for) })),
      this.outcome);
  }

  async run(lab) {
    const settings = this.settingsOf(lab);
    const previous = this.entry(lab.id);
    previous?.stream?.close();
    const run = new LabRun(lab.id);
    const entry = { run, stream: null, palette: new Palette(), error: null };
    this.runs.set(lab.id, entry);
    this.list.mark(lab.id, "running");
    requestDraw(this.drawFn);
    const body = { scale: settings.scale, seed: Math.max(0, Math.floor(Number(settings.seed) || 0)) };
    if (lab.reads_text && settings.text.trim()) body.text = settings.text.trim();
    let job;
    try {
      job = await api.runLab(lab.id, body);
    } catch (err) {
      entry.error = startError(err);
      run.status = "failed";
      this.list.mark(lab.id, "failed");
      requestDraw(this.drawFn);
      return;
    }
    this.follow(entry, job);
    emit("jobs:changed");
  }

  /** Stream a lab job's frames into its LabRun (from the first frame, so a replay shows the whole run). */
  follow(entry, job) {
    const { run } = entry;
    run.jobId = job.id;
    // a past job's status arrives with its replayed frames; until then it counts as not yet ended
    run.text({ type: "status", status: job.status === "running" ? "running" : "queued" });
    const changed = () => requestDraw(this.drawFn);
    entry.stream = new JobStream(job.id, {
      afterSeq: -1,
      onText: (f) => {
        run.text(f);
        changed();
      },
      onTensor: (header, values) => {
        run.tensor(header, values);
        changed();
      },
      onEnd: async () => {
        if (!run.outcome || !run.ended) await this.fetchRecord(run);
        this.list.mark(run.labId, run.outcome ? (run.outcome.claim_holds ? "holds" : "fails") : "failed");
        changed();
        emit("jobs:changed");
      },
    });
  }

  /** The job record after the stream ended: the final status and the outcome in its summary. */
  async fetchRecord(run) {
    try {
      const job = await api.job(run.jobId);
      run.text({ type: "status", status: job.status, reason: job.reason ?? null, job });
    } catch {
      // the stream's own frames are all we have
    }
  }

  async stop() {
    const run = this.entry()?.run;
    if (!run?.jobId || run.ended) return;
    try {
      await api.cancel(run.jobId);
    } catch (err) {
      this.entry().error = startError(err);
      requestDraw(this.drawFn);
    }
  }

  draw() {
    if (!this.current || !this.views) return;
    const entry = this.entry();
    const run = entry?.run ?? null;
    const active = Boolean(run) && !run.ended;
    this.runBtn.disabled = active;
    this.stopBtn.disabled = !active || !run.jobId;
    const state = entry?.error ? "failed" : run?.status ?? "idle";
    this.status.dataset.state = state;
    const seconds = run ? Math.round(run.elapsed()) : 0;
    this.status.children[1].textContent = t(`labs.state.${state}`) + (run ? ` · ${t("labs.elapsed", { s: seconds })}` : "");
    this.status.children[2].textContent = active ? run.lastLog(getLang()) : "";
    if (run) this.status.dataset.job = run.jobId ?? "";
    this.drawOutcome(entry);
    this.views.draw(run, entry?.palette ?? new Palette());
  }

  drawOutcome(entry) {
    const box = this.outcome;
    const run = entry?.run;
    const key = `${getLang()}|${run?.status}|${Boolean(run?.outcome)}|${entry?.error}|${run?.reason}`;
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    const title = el("h3", { text: t("labs.outcome") });
    if (entry?.error) {
      box.dataset.state = "error";
      box.replaceChildren(title, el("p", { class: "lab-error", role: "alert", text: entry.error }));
      return;
    }
    if (!run) {
      box.dataset.state = "idle";
      box.replaceChildren(title, el("p", { class: "muted", text: t("labs.outcome.idle") }));
      return;
    }
    if (run.outcome) {
      const holds = Boolean(run.outcome.claim_holds);
      box.dataset.state = "done";
      box.dataset.holds = String(holds);
      box.replaceChildren(...[title,
        el("div", { class: `lab-verdict ${holds ? "holds" : "fails"}` },
          el("span", { class: "lab-mark", testid: "lab-mark", text: holds ? "✓" : "✗" }),
          el("strong", { text: t(holds ? "labs.outcome.holds" : "labs.outcome.fails") })),
        el("p", { class: "lab-verdict-text", testid: "lab-verdict", text: pick(run.outcome.verdict) }),
        holds ? null : el("p", { class: "muted", text: t("labs.outcome.retry") })].filter(Boolean));
      return;
    }
    delete box.dataset.holds;
    if (run.ended) {
      box.dataset.state = "error";
      box.replaceChildren(title, el("p", { class: "lab-error", role: "alert", text: endError(run) }));
      return;
    }
    box.dataset.state = "running";
    box.replaceChildren(title, el("div", { class: "lab-running" }, el("span", { class: "spinner" }),
      el("span", { text: t("labs.outcome.running") })));
  }
}
