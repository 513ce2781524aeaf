// The layer palette, generated from the catalogue and grouped by chapter section; drag or click to add.
import { groupBy } from "./catalogue.js";
import { LAYER_MIME } from "./editor/canvas.js";
import { el } from "./format.js";
import { onLangChange, pick, t } from "./i18n.js";
import { store } from "./store.js";

/** A section's heading: the chapter's wording where we have it, else the section number. */
export function sectionTitle(section) {
  const key = `section.${section}`;
  const text = t(key);
  return text === key ? section : text;
}

export class Palette {
  constructor(host, help, canvas) {
    this.host = host;
    this.help = help;
    this.canvas = canvas;
    onLangChange(() => this.render());
    this.render();
  }

  render() {
    const groups = groupBy(store.catalogue.layers, "section");
    this.host.replaceChildren(...groups.map(([section, layers]) => el("section", { class: "palette-group" },
      el("h3", { text: sectionTitle(section) }),
      el("div", { class: "palette-items" }, layers.map((kind) => this.item(kind))))));
    this.showHelp(null);
  }

  item(kind) {
    const item = el("div", {
      class: `palette-item group-${kind.group ?? "other"}`,
      testid: `palette-item-${kind.type}`,
      draggable: "true",
      title: pick(kind.description),
      role: "button",
      tabindex: "0",
    }, el("span", { class: "swatch" }), el("span", { class: "palette-name", text: pick(kind.title) }));
    item.addEventListener("dragstart", (e) => {
      e.dataTransfer.setData(LAYER_MIME, kind.type);
      e.dataTransfer.effectAllowed = "copy";
    });
    item.addEventListener("click", () => this.canvas.addLayer(kind, { after: store.selection }));
    item.addEventListener("keydown", (e) => {
      if (e.key === "Enter") this.canvas.addLayer(kind, { after: store.selection });
    });
    item.addEventListener("mouseenter", () => this.showHelp(kind));
    item.addEventListener("mouseleave", () => this.showHelp(null));
    return item;
  }

  showHelp(kind) {
    if (!kind) {
      this.help.replaceChildren(el("p", { class: "muted", text: t("palette.hint") }));
      return;
    }
    this.help.replaceChildren(
      el("strong", { text: pick(kind.title) }),
      el("span", { class: "section-chip", text: kind.section }),
      el("p", { text: pick(kind.description) }),
    );
  }
}
