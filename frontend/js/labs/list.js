// The list of labs from the catalogue, grouped by chapter section in reading order ("practice vs theory" sits
// after 9.3, where the chapter puts it); each item shows the outcome of its last run in this page.
import { sectionOrder } from "../catalogue.js";
import { el } from "../format.js";
import { pick, t } from "../i18n.js";
import { sectionTitle } from "../palette.js";

const ORDER_KEY = { gap: "9.3.9" };

/** Sections in chapter order, each with its labs in catalogue order. */
export function labGroups(labs) {
  const groups = new Map();
  for (const lab of labs) {
    const section = lab.section ?? "";
    if (!groups.has(section)) groups.set(section, []);
    groups.get(section).push(lab);
  }
  return [...groups].sort((a, b) => sectionOrder(ORDER_KEY[a[0]] ?? a[0], ORDER_KEY[b[0]] ?? b[0]));
}

export class LabList {
  constructor(host, { onPick }) {
    this.host = host;
    this.onPick = onPick;
    this.labs = [];
    this.current = null;
    this.marks = new Map(); // lab id -> "running" | "holds" | "fails" | "failed"
  }

  render(labs) {
    this.labs = labs;
    this.host.replaceChildren(...labGroups(labs).map(([section, items]) => el("section", { class: "lab-group" },
      el("h3", { text: sectionTitle(section) }),
      items.map((lab) => this.item(lab)))));
    this.highlight(this.current);
  }

  item(lab) {
    const mark = this.marks.get(lab.id);
    return el("button", { type: "button", class: "lab-item", testid: `lab-item-${lab.id}`,
      dataset: { id: lab.id, mark: mark ?? "" }, onclick: () => this.onPick(lab.id) },
    el("span", { class: "lab-item-title", text: pick(lab.title) || lab.id }),
    el("span", { class: "lab-item-mark", "aria-hidden": "true" }));
  }

  highlight(id) {
    this.current = id;
    for (const b of this.host.querySelectorAll(".lab-item")) b.classList.toggle("current", b.dataset.id === id);
    this.host.querySelector(".lab-item.current")?.scrollIntoView({ block: "nearest" });
  }

  mark(id, state) {
    this.marks.set(id, state);
    const b = this.host.querySelector(`.lab-item[data-id="${CSS.escape(id)}"]`);
    if (b) {
      b.dataset.mark = state;
      b.title = state === "holds" ? t("labs.outcome.holds") : state === "fails" ? t("labs.outcome.fails") : "";
    }
  }
}
