// A titled tile of the live-views panel, and the kinds of heavy frames each view draws.
import { el } from "../format.js";
import { t } from "../i18n.js";

/** Heavy-frame kinds by view; the probe engineer's names first, plausible spellings after. */
export const KINDS = {
  boundary: ["decision_boundary", "boundary", "output_map"],
  neurons: ["neuron_maps", "neuron_map", "unit_maps"],
  activations: ["feature_maps", "activations", "activation", "feature_map"],
  filters: ["conv_filters", "filters", "weights_conv"],
  attention: ["attention", "attention_weights"],
  histograms: ["weight_histogram", "weight_histograms", "histogram"],
  gates: ["lstm_gates", "gates"],
  recon: ["reconstructions", "reconstruction"],
  confusion: ["confusion_matrix", "confusion"],
};

const VIEW_OF_KIND = new Map(Object.entries(KINDS).flatMap(([view, kinds]) => kinds.map((k) => [k, view])));

export function viewOfKind(kind) {
  return VIEW_OF_KIND.get(kind) ?? null;
}

/** The latest frames of every kind a view draws. */
export function framesFor(run, view) {
  return run ? KINDS[view].flatMap((k) => run.framesOf(k)) : [];
}

export function tile(titleKey, testid, ...body) {
  const head = el("h3", { "data-i18n": titleKey, text: t(titleKey) });
  const note = el("span", { class: "tile-note" });
  head.append(note);
  const box = el("section", { class: "tile", testid, dataset: { view: testid } }, head, ...body);
  box.note = note;
  return box;
}

export function waiting() {
  return el("div", { class: "tile-empty", "data-i18n": "views.waiting", text: t("views.waiting") });
}

/** A node selector for views that show one node at a time. */
export function nodePicker(onPick) {
  const sel = el("select", { class: "tile-select" });
  sel.addEventListener("change", () => onPick(sel.value));
  sel.sync = (nodes, current) => {
    const key = nodes.join(",");
    if (sel.dataset.key !== key) {
      sel.dataset.key = key;
      sel.replaceChildren(...nodes.map((n) => el("option", { value: n, text: n })));
    }
    sel.value = current ?? nodes[0] ?? "";
    sel.hidden = nodes.length < 2;
  };
  return sel;
}
