// The data-set picker and its preview (points for 2-D sets, thumbnails for images, pairs for sequences).
// Picking a set also resizes the network's input layers to the set's fields, so a preset network keeps working.
import { api } from "./api.js";
import { groupBy } from "./catalogue.js";
import { el } from "./format.js";
import { onLangChange, pick, t } from "./i18n.js";
import { sectionTitle } from "./palette.js";
import { drawPreview } from "./preview.js";
import { on, set, store, updateSpec } from "./store.js";

export class DatasetPicker {
  constructor({ select, thumb, button, popover }) {
    Object.assign(this, { select, thumb, button, popover });
    this.preview = null;
    this.signature = null;
    this.requested = "";
    select.addEventListener("change", () => this.pick(select.value));
    button.addEventListener("click", (e) => {
      e.stopPropagation();
      this.popover.hidden = !this.popover.hidden;
      if (!this.popover.hidden) this.renderPopover();
    });
    document.addEventListener("click", (e) => {
      if (!this.popover.contains(e.target)) this.popover.hidden = true;
    });
    on("spec", (what) => (what === "all" || what === "data" ? this.sync() : null));
    onLangChange(() => this.render());
    this.render();
  }

  render() {
    const groups = groupBy(store.catalogue.datasets, "section");
    this.select.replaceChildren(...groups.map(([section, sets]) => el("optgroup", { label: sectionTitle(section) },
      sets.map((d) => el("option", { value: d.name, text: pick(d.title) || d.name, title: pick(d.description) })))));
    this.sync();
  }

  get info() {
    return store.catalogue.datasetByName.get(store.spec?.data?.dataset) ?? null;
  }

  /** Follow the spec (preset loaded, share URL opened) and fetch the preview when the data changed. */
  sync() {
    if (!store.spec) return;
    this.select.value = store.spec.data.dataset;
    this.select.title = pick(this.info?.description);
    const key = JSON.stringify(store.spec.data);
    if (key !== this.requested) {
      this.requested = key;
      this.preview = null; // never show the previous set's samples under the new set's name
      this.signature = null;
      if (!this.popover.hidden) this.renderPopover();
      this.fetchPreview(store.spec.data, key);
    }
  }

  async fetchPreview(data, key) {
    try {
      const res = await api.preview(data);
      if (key !== this.requested) return;
      this.preview = res.preview ?? res;
      this.signature = res.signature ?? null;
    } catch {
      this.preview = null;
      this.signature = null;
    }
    set("signature", this.signature);
    set("preview", this.preview);
    drawPreview(this.thumb, this.preview, { thumb: true });
    if (!this.popover.hidden) this.renderPopover();
  }

  pick(name) {
    updateSpec((spec) => {
      spec.data = { ...(spec.data.seed != null ? { seed: spec.data.seed } : {}), dataset: name };
    }, "data");
    this.adaptInputs(name);
  }

  /** Resize input layers to the new set's fields once its signature is known. */
  async adaptInputs(name) {
    let sig;
    try {
      sig = (await api.preview({ dataset: name })).signature;
    } catch {
      return;
    }
    if (!sig?.fields || store.spec.data.dataset !== name) return;
    const fields = Object.entries(sig.fields);
    updateSpec((spec) => {
      const inputs = spec.model.nodes.filter((n) => n.type === "input");
      for (const node of inputs) {
        const wanted = node.params.field ?? (sig.fields[node.id] ? node.id : null);
        const entry = wanted ? [wanted, sig.fields[wanted]] : inputs.length === 1 ? fields[0] : null;
        if (!entry || !entry[1]) continue;
        node.params = { ...node.params, shape: entry[1].shape };
        if (entry[1].dtype === "long") node.params.dtype = "long";
        else delete node.params.dtype;
      }
    });
  }

  renderPopover() {
    const info = this.info;
    const canvasHost = el("div", { class: "preview-host" });
    const sig = this.signature;
    const tokens = sig && (sig.task === "seq2seq" || sig.task === "sequence_labeling");
    const facts = sig ? [
      t(`dataset.task.${sig.task}`),
      sig.num_classes ? t(tokens ? "dataset.vocab" : "dataset.classes", { n: sig.num_classes }) : null,
      t("dataset.split", { train: sig.n_train, test: sig.n_test }),
    ].filter(Boolean).join(" · ") : t("dataset.loading");
    this.popover.replaceChildren(
      el("h4", { text: pick(info?.title) || store.spec.data.dataset }),
      el("p", { text: pick(info?.description) }),
      facts ? el("p", { class: "mono", text: facts }) : null,
      canvasHost,
    );
    drawPreview(canvasHost, this.preview, { thumb: false });
  }
}
