// Training settings under the editor: optimizer, learning rate, batch, epochs, regularisation, schedule, seed.
// Choices come from the catalogue's tables; unset values show the catalogue's defaults.
import { el } from "./format.js";
import { onLangChange, pick, t } from "./i18n.js";
import { on, store, updateSpec } from "./store.js";

function getPath(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ??= {};
  if (value === null || value === undefined) delete o[keys.at(-1)];
  else o[keys.at(-1)] = value;
}

/** The JSON Schema of a train field (through $refs), for its bounds. */
function fieldSchema(path) {
  const root = store.catalogue.raw.train_schema;
  if (!root) return {};
  let s = root;
  for (const k of path.split(".")) {
    s = s?.properties?.[k];
    if (s?.$ref) s = root.$defs?.[s.$ref.split("/").pop()];
    if (s?.anyOf) s = s.anyOf.find((o) => o.type && o.type !== "null") ?? s;
  }
  return s ?? {};
}

export class HyperParams {
  constructor(host) {
    this.host = host;
    on("spec", (what) => (what === "all" || what === "data" ? this.render() : null));
    onLangChange(() => this.render());
    this.render();
  }

  value(path) {
    const v = getPath(store.spec.train, path);
    return v ?? getPath(store.catalogue.raw.train_defaults ?? {}, path);
  }

  change(path, v, section = "train") {
    updateSpec((spec) => setPath(section === "train" ? spec.train : spec.data, path, v), section);
  }

  select(path, items, labelKey) {
    const sel = el("select", { name: path },
      items.map((it) => el("option", { value: it.name, text: pick(it.title) || it.name, title: pick(it.description) })));
    sel.value = this.value(path) ?? items[0]?.name ?? "";
    sel.addEventListener("change", () => this.change(path, sel.value));
    return el("label", { class: "hp" }, el("span", { text: t(labelKey) }), sel);
  }

  number(path, labelKey, { section = "train", integer = false, nullable = false } = {}) {
    const s = section === "train" ? fieldSchema(path) : store.catalogue.raw.data_schema?.properties?.[path] ?? {};
    const input = el("input", { type: "number", name: path, step: integer ? "1" : "any" });
    if (s.minimum != null) input.min = s.minimum;
    if (s.maximum != null) input.max = s.maximum;
    const current = section === "train" ? this.value(path) : store.spec.data[path] ?? s.default;
    input.value = current == null ? "" : String(current);
    if (nullable) input.placeholder = "—";
    input.addEventListener("input", () => {
      const raw = input.value.trim();
      if (raw === "" && nullable) return this.change(path, null, section);
      const n = integer ? Number.parseInt(raw, 10) : Number.parseFloat(raw);
      if (Number.isFinite(n)) this.change(path, n, section);
    });
    return el("label", { class: "hp" }, el("span", { text: t(labelKey) }), input);
  }

  render() {
    if (!store.spec || !store.catalogue) return;
    const c = store.catalogue;
    const target = el("select", { name: "target" },
      el("option", { value: "label", text: t("hp.target.label") }),
      el("option", { value: "input", text: t("hp.target.input") }));
    target.value = this.value("target") ?? "label";
    target.addEventListener("change", () => this.change("target", target.value));
    const more = el("details", { class: "hp-more" },
      el("summary", { text: `${t("hp.more")} ▾` }),
      el("div", { class: "hp-more-body" },
        c.losses.length ? this.select("loss", c.losses, "hp.loss") : null,
        c.initSchemes.length ? this.select("init.scheme", c.initSchemes, "hp.init") : null,
        this.number("l1", "hp.l1"),
        this.number("clip_grad_norm", "hp.clip", { nullable: true }),
        this.number("noise", "hp.noise", { section: "data" }),
        el("label", { class: "hp" }, el("span", { text: t("hp.target") }), target)));
    this.host.replaceChildren(
      c.optimizers.length ? this.select("optimizer.name", c.optimizers, "hp.optimizer") : null,
      this.number("optimizer.lr", "hp.lr"),
      this.number("batch_size", "hp.batch", { integer: true }),
      this.number("epochs", "hp.epochs", { integer: true }),
      this.number("weight_decay", "hp.weight_decay"),
      c.schedules.length ? this.select("schedule.name", c.schedules, "hp.schedule") : null,
      this.number("seed", "hp.seed", { integer: true }),
      more,
    );
  }
}
