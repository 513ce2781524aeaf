// Start-up: load the catalogue, restore the state (share URL, else the first preset), wire the page together.
import { loadCatalogue } from "./catalogue.js";
import { DatasetPicker } from "./datasets.js";
import { EditorCanvas } from "./editor/canvas.js";
import { EditorStatus } from "./editorstatus.js";
import { HyperParams } from "./hyperparams.js";
import { applyStatic, getLang, setLang, t } from "./i18n.js";
import { Inspector } from "./inspector.js";
import { RunList } from "./jobs/runlist.js";
import { stop, train } from "./jobs/runner.js";
import { JobStatus } from "./jobs/status.js";
import { initLabs } from "./labs/mode.js";
import { Palette } from "./palette.js";
import { PresetPicker } from "./presets.js";
import { SettingsTabs } from "./settingstabs.js";
import { exportState, importFile, shareUrl, stateFromHash } from "./share.js";
import { autoPlaced, blankSpec } from "./spec.js";
import { on, replaceSpec, store } from "./store.js";
import { toast } from "./toast.js";
import { StudyForm, StudyPanel } from "./studies/panel.js";
import { startValidation } from "./validation.js";
import { ViewsPanel } from "./views/panel.js";

const $ = (id) => document.getElementById(id);

function initialSpec(presets) {
  try {
    const shared = stateFromHash();
    if (shared) return { spec: shared, preset: null };
  } catch (err) {
    toast(`#state: ${err.message}`, { error: true });
  }
  const first = presets.presetsInOrder()[0];
  return first ? { spec: null, preset: first.id } : { spec: blankSpec(null), preset: null };
}

async function share() {
  const url = shareUrl();
  history.replaceState(null, "", url);
  try {
    await navigator.clipboard.writeText(url);
    toast(t("top.share.copied"));
  } catch {
    toast(t("top.share.ready"));
  }
}

function wireTopBar(canvas, presets) {
  $("train-button").addEventListener("click", () => train());
  $("stop-button").addEventListener("click", () => stop());
  $("share-button").addEventListener("click", share);
  $("export-button").addEventListener("click", exportState);
  $("import-input").addEventListener("change", async (e) => {
    const file = e.target.files?.[0];
    e.target.value = "";
    if (!file) return;
    try {
      replaceSpec(await importFile(file));
      presets.forget();
    } catch (err) {
      toast(t("top.import.bad", { msg: err.message }), { error: true });
    }
  });
  $("lang-toggle").addEventListener("click", () => setLang(getLang() === "ja" ? "en" : "ja"));
  $("new-button").addEventListener("click", () => {
    presets.forget();
    replaceSpec(blankSpec({ name: store.spec.data.dataset, fields: store.signature?.fields }));
  });
  $("fit-button").addEventListener("click", () => canvas.fit());
  $("tidy-button").addEventListener("click", () => canvas.tidy());
  window.addEventListener("hashchange", () => {
    try {
      const shared = stateFromHash();
      if (shared) {
        replaceSpec(shared);
        presets.forget();
      }
    } catch (err) {
      toast(`#state: ${err.message}`, { error: true });
    }
  });
}

async function main() {
  document.documentElement.lang = getLang();
  applyStatic(document);
  try {
    store.catalogue = await loadCatalogue();
  } catch (err) {
    toast(`${t("error.network")}: ${err.message}`, { error: true, ms: 60000 });
    return;
  }
  store.spec = blankSpec(null);
  const canvas = new EditorCanvas($("canvas"));
  new Palette($("palette"), $("palette-help"), canvas);
  new Inspector($("inspector"), canvas);
  new HyperParams($("hyper"));
  new SettingsTabs({ layerTab: $("tab-layer"), trainTab: $("tab-train"), inspector: $("inspector"),
    hyper: $("hyper") });
  new EditorStatus($("editor-status"));
  const presets = new PresetPicker($("preset-select"));
  new DatasetPicker({ select: $("dataset-select"), thumb: $("dataset-thumb"), button: $("dataset-preview-btn"),
    popover: $("dataset-popover") });
  new ViewsPanel($("views"));
  new JobStatus({ box: $("job-status"), trainBtn: $("train-button"), stopBtn: $("stop-button") });
  new RunList($("job-list"), { onOpen: () => presets.forget() });
  new StudyForm($("study-button"), $("study-form"), new StudyPanel($("study-panel")));
  wireTopBar(canvas, presets);
  on("spec", (what) => {
    if (what === "all") requestAnimationFrame(() => (autoPlaced.has(store.spec) ? canvas.tidy() : canvas.fit()));
  });
  const start = initialSpec(presets);
  if (start.preset) presets.load(start.preset);
  else replaceSpec(start.spec);
  startValidation();
  initLabs({ catalogue: store.catalogue, playgroundBtn: $("mode-playground"), labsBtn: $("labs-button"),
    root: $("labs"), list: $("lab-list"), detail: $("lab-detail") });
  document.body.dataset.ready = "1";
}

main();
