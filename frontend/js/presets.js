// The preset picker: every chapter preset, grouped by section; one click loads a working network and data set.
import { groupBy } from "./catalogue.js";
import { el } from "./format.js";
import { onLangChange, pick, t } from "./i18n.js";
import { sectionTitle } from "./palette.js";
import { normaliseSpec } from "./spec.js";
import { replaceSpec, store } from "./store.js";

/** A preset's job spec, wherever the catalogue put it. */
export function presetSpec(preset) {
  const spec = preset.spec ?? preset.job ?? preset;
  const out = normaliseSpec(spec);
  if (!out.name) out.name = pick(preset.title) || preset.id;
  return out;
}

export class PresetPicker {
  constructor(select, onLoaded) {
    this.select = select;
    this.onLoaded = onLoaded;
    this.current = "";
    select.addEventListener("change", () => this.load(select.value));
    onLangChange(() => this.render());
    this.render();
  }

  render() {
    const groups = groupBy(store.catalogue.presets, "section");
    this.select.replaceChildren(
      el("option", { value: "", text: t("top.preset.choose") }),
      ...groups.map(([section, presets]) => el("optgroup", { label: sectionTitle(section) },
        presets.map((p) => el("option", { value: p.id, text: pick(p.title) || p.id, title: pick(p.description) })))),
    );
    this.select.value = this.current;
  }

  presetsInOrder() {
    return groupBy(store.catalogue.presets, "section").flatMap(([, presets]) => presets);
  }

  load(id) {
    const preset = store.catalogue.presetById.get(id);
    if (!preset) return;
    this.current = id;
    replaceSpec(presetSpec(preset));
    this.select.value = id;
    this.select.title = pick(preset.description);
    this.onLoaded?.(preset);
  }

  forget() {
    this.current = "";
    this.select.value = "";
  }
}
