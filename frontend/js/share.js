// Sharing: the whole state (network, data set, training settings) as #state=<base64url JSON> or a JSON file.
import { jobSpec, normaliseSpec } from "./spec.js";
import { store } from "./store.js";

const VERSION = 1;

export function encodeState(spec) {
  const json = JSON.stringify({ v: VERSION, spec: jobSpec(spec) });
  const bytes = new TextEncoder().encode(json);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeState(text) {
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return parseState(new TextDecoder().decode(bytes));
}

/** A shared/exported document: {v, spec} or a bare job spec (e.g. a run's spec.json). */
export function parseState(json) {
  const doc = JSON.parse(json);
  return normaliseSpec(doc && doc.spec ? doc.spec : doc);
}

export function shareUrl() {
  const url = new URL(location.href);
  url.hash = `state=${encodeState(store.spec)}`;
  return url.toString();
}

/** The spec in the page's #state=..., or null when there is none. */
export function stateFromHash() {
  const m = /(?:^#|&)state=([A-Za-z0-9_-]+)/.exec(location.hash);
  return m ? decodeState(m[1]) : null;
}

export function downloadText(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function exportState() {
  const name = (store.spec.name || "layerlab").replace(/[^\w.-]+/g, "_").slice(0, 60) || "layerlab";
  downloadText(`${name}.layerlab.json`, JSON.stringify({ v: VERSION, spec: jobSpec(store.spec) }, null, 2));
}

export async function importFile(file) {
  return parseState(await file.text());
}
