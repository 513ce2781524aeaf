// The top bar's job status: state, queue position, epoch, a progress bar; Train/Stop enabled to match.
import { onLangChange, t } from "../i18n.js";
import { on, store } from "../store.js";
import { isActive } from "./runner.js";
import { session } from "./session.js";

export class JobStatus {
  constructor({ box, trainBtn, stopBtn }) {
    Object.assign(this, { box, trainBtn, stopBtn });
    this.text = box.querySelector(".status-text");
    this.detail = box.querySelector(".status-detail");
    this.bar = box.querySelector(".progress-bar");
    const update = () => this.update();
    on("run", update);
    on("submitting", update);
    on("validation", update);
    onLangChange(update);
    update();
  }

  update() {
    const run = session.current;
    const active = isActive(run);
    this.trainBtn.disabled = Boolean(store.submitting) || active;
    this.stopBtn.disabled = !active;
    if (store.submitting) {
      this.box.dataset.state = "submitting";
      this.text.textContent = t("status.submitting");
      this.detail.textContent = "";
      return;
    }
    if (!run) {
      this.box.dataset.state = "idle";
      this.text.textContent = t("status.idle");
      this.detail.textContent = "";
      this.bar.style.width = "0%";
      return;
    }
    const s = run.status;
    this.box.dataset.state = s;
    this.box.dataset.job = run.id;
    if (s === "queued") {
      this.text.textContent = run.queuePosition != null
        ? t("status.queued", { pos: run.queuePosition }) : t("status.queued.plain");
    } else {
      this.text.textContent = t(`status.${s}`);
    }
    const parts = [];
    if (run.epochs && (s === "running" || run.epoch)) parts.push(t("status.epoch", { e: run.epoch, n: run.epochs }));
    if (run.reason && s !== "succeeded") parts.push(t("reason.label", { r: run.reason }));
    this.detail.textContent = parts.join(" · ");
    this.box.title = parts.join(" · ");
    this.bar.style.width = `${Math.round(run.progress * 100)}%`;
  }
}
