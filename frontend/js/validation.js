// Live validation: every edit (debounced) is checked by POST /api/validate; shapes, parameter counts and the
// first error (with the node it concerns) land in store.validation for the editor to draw.
import { ApiError, api, specError } from "./api.js";
import { jobSpec } from "./spec.js";
import { on, set, store } from "./store.js";

const DELAY_MS = 200;
let timer = null;
let inflight = null;
let generation = 0;

export function startValidation() {
  on("spec", (what) => {
    if (what !== "layout") schedule();
  });
  schedule();
}

function schedule() {
  clearTimeout(timer);
  set("validation", { ...store.validation, state: "pending" });
  timer = setTimeout(run, DELAY_MS);
}

/** Validate now; resolves with the stored result (tests and Train use it to avoid racing the debounce). */
export async function validateNow() {
  clearTimeout(timer);
  await run();
  return store.validation;
}

async function run() {
  if (!store.spec) return;
  inflight?.abort();
  const ctrl = new AbortController();
  inflight = ctrl;
  const mine = ++generation;
  let result;
  try {
    const report = await api.validate(jobSpec(store.spec), { signal: ctrl.signal });
    const nodes = {};
    for (const n of report.nodes ?? []) nodes[n.id] = n;
    result = { state: "ok", nodes, error: null, params: report.params ?? null, flops: report.flops ?? null };
  } catch (err) {
    if (err.name === "AbortError") return;
    if (err instanceof ApiError && (err.status === 422 || err.status === 413 || err.status === 400)) {
      const nodes = {};
      for (const n of err.body?.nodes ?? []) nodes[n.id] = n;
      result = { state: "error", nodes, error: specError(err.body), params: null, flops: null };
    } else {
      result = { state: "offline", nodes: store.validation.nodes, error: { message: String(err.message), node_id: null } };
    }
  }
  if (mine === generation) set("validation", result);
}
