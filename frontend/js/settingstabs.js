// The strip under the editor shows either the selected layer's settings or the training settings; selecting a
// layer opens its tab, clearing the selection returns to training.
import { on, store } from "./store.js";

export class SettingsTabs {
  constructor({ layerTab, trainTab, inspector, hyper }) {
    Object.assign(this, { layerTab, trainTab, inspector, hyper });
    layerTab.addEventListener("click", () => this.show("layer"));
    trainTab.addEventListener("click", () => this.show("train"));
    on("selection", (id) => this.show(id ? "layer" : "train"));
    on("spec", (what) => what === "all" && this.show("train"));
    this.show("train");
  }

  show(tab) {
    const layer = tab === "layer";
    this.inspector.hidden = !layer;
    this.hyper.hidden = layer;
    this.layerTab.classList.toggle("active", layer);
    this.trainTab.classList.toggle("active", !layer);
    this.layerTab.setAttribute("aria-selected", String(layer));
    this.trainTab.setAttribute("aria-selected", String(!layer));
    this.layerTab.dataset.layer = store.selection ?? "";
  }
}
