// Switching between the playground and the labs view (top-bar buttons, or #lab=<id> in the address): the labs
// view is built the first time it is opened, and the playground's state is left as it was.
import { applyStatic } from "../i18n.js";
import { on } from "../store.js";
import { LabsPage } from "./page.js";
import "./strings.js";

export function initLabs({ catalogue, playgroundBtn, labsBtn, root, list, detail }) {
  let page = null;
  const open = (id = null) => {
    page ??= new LabsPage({ list, detail, catalogue });
    document.body.classList.add("labs-mode");
    root.hidden = false;
    labsBtn.setAttribute("aria-pressed", "true");
    playgroundBtn.setAttribute("aria-pressed", "false");
    page.show(id ?? page.current ?? LabsPage.hashLab() ?? page.labs[0]?.id);
  };
  const close = () => {
    document.body.classList.remove("labs-mode");
    root.hidden = true;
    labsBtn.setAttribute("aria-pressed", "false");
    playgroundBtn.setAttribute("aria-pressed", "true");
    if (LabsPage.hashLab()) history.replaceState(null, "", `${location.pathname}${location.search}`);
    window.dispatchEvent(new Event("resize")); // the playground's charts and editor measure their boxes again
  };
  applyStatic(root);
  labsBtn.addEventListener("click", () => open());
  playgroundBtn.addEventListener("click", close);
  window.addEventListener("hashchange", () => {
    const id = LabsPage.hashLab();
    if (id) open(id);
  });
  // the run list's Replay of a lab job opens it here
  on("labs:open", ({ lab, job }) => {
    open(lab);
    page.replay(lab, job);
  });
  if (LabsPage.hashLab()) open(LabsPage.hashLab());
  return { open, close, page: () => page };
}
