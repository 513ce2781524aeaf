// UI wording in Japanese (the course language, default) and English; catalogue text comes from the server.
import { STRINGS } from "./strings.js";

const KEY = "layerlab.lang";
const listeners = new Set();
let lang = readStoredLang();

function readStoredLang() {
  try {
    const v = localStorage.getItem(KEY);
    return v === "en" || v === "ja" ? v : "ja";
  } catch {
    return "ja";
  }
}

export function getLang() {
  return lang;
}

export function setLang(next) {
  if (next !== "en" && next !== "ja") return;
  lang = next;
  try {
    localStorage.setItem(KEY, next);
  } catch {
    // private mode: the choice lasts for this page only
  }
  document.documentElement.lang = next;
  applyStatic(document);
  for (const fn of listeners) fn(next);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Translate a UI key; `vars` fill {name} placeholders. Unknown keys show the key so gaps are visible. */
export function t(key, vars) {
  const entry = STRINGS[key];
  let s = entry ? entry[lang] ?? entry.en : key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** Pick the current language from a catalogue {en, ja} text object (or pass a plain string through). */
export function pick(text) {
  if (text == null) return "";
  if (typeof text === "string") return text;
  return text[lang] ?? text.en ?? "";
}

/** Fill every element marked data-i18n (text) / data-i18n-title (tooltip) / data-i18n-ph (placeholder). */
export function applyStatic(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-ph]")) el.placeholder = t(el.dataset.i18nPh);
}
