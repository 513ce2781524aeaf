// The selected layer's settings: a form generated from its params schema, its id, inputs and cost.
import { compact, el, shape } from "./format.js";
import { onLangChange, pick, t } from "./i18n.js";
import { schemaForm } from "./schemaform.js";
import { on, set, store, updateSpec } from "./store.js";
import { byId, renameNode } from "./editor/graph.js";

export class Inspector {
  constructor(host, canvas) {
    this.host = host;
    this.canvas = canvas;
    on("selection", () => this.render());
    on("spec", (what) => what === "all" && this.render());
    on("validation", () => this.updateCost());
    onLangChange(() => this.render());
    this.render();
  }

  render() {
    const id = store.selection;
    const node = id && store.spec ? byId(store.spec.model.nodes, id) : null;
    if (!node) {
      this.errorBox = null;
      this.costBox = null;
      return this.host.replaceChildren(el("p", { class: "muted", text: t("inspector.pick") }));
    }
    const kind = store.catalogue.layerByType.get(node.type);
    const idInput = el("input", { type: "text", value: node.id, class: "id-input", spellcheck: "false", id: "f-node-id" });
    idInput.addEventListener("change", () => {
      const next = idInput.value.trim();
      let ok = false;
      updateSpec(() => (ok = renameNode(store.spec.model.nodes, node.id, next)));
      if (ok) set("selection", next);
      else idInput.value = node.id;
    });
    const form = kind ? schemaForm(kind.params_schema, node.params, (name, value) => {
      updateSpec(() => {
        if (value === null || value === undefined) delete node.params[name];
        else node.params[name] = value;
      });
    }, { onError: (msg) => this.localError(msg) }) : [];
    this.errorBox = el("div", { class: "inspector-local-error" });
    this.costBox = el("div", { class: "inspector-cost" });
    const desc = kind ? pick(kind.description) : "";
    this.host.replaceChildren(
      el("div", { class: "inspector-head" },
        el("strong", { text: kind ? pick(kind.title) : node.type }),
        el("span", { class: "section-chip", text: kind?.section ?? "" }),
        el("span", { class: "inspector-desc", text: desc, title: desc }),
        el("button", { class: "danger-btn", type: "button", text: t("inspector.delete"),
          onclick: () => this.canvas.removeSelected() })),
      el("div", { class: "inspector-fields" },
        el("label", { class: "form-row", for: "f-node-id" },
          el("span", { class: "form-label", text: t("inspector.id") }), idInput),
        el("div", { class: "form-row inputs-row" },
          el("span", { class: "form-label", text: t("inspector.inputs") }),
          el("span", { class: "mono", text: node.inputs.length ? node.inputs.join(", ") : t("inspector.none") })),
        ...(form.length ? form : [el("p", { class: "muted", text: t("inspector.noparams") })]),
        el("div", { class: "form-row cost-row" }, this.costBox, this.errorBox)),
    );
    this.updateCost();
  }

  localError(msg) {
    if (this.errorBox) this.errorBox.textContent = msg;
  }

  updateCost() {
    if (!this.costBox || !store.selection) return;
    this.errorBox.textContent = "";
    const info = store.validation.nodes?.[store.selection];
    this.costBox.textContent = info
      ? `→ ${shape(info.output_shape)} · ${t("editor.params", { n: compact(info.params ?? 0) })}`
      : "";
  }
}
