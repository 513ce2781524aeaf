// One observable application state: the job spec being edited plus what the UI shows about it.
// Modules change it through `set`/`updateSpec` and listen by topic, so no module reaches into another.

const topics = new Map();

export const store = {
  catalogue: null,
  spec: null, // {name, model: {nodes: [...]}, data: {...}, train: {...}, probes: {...}}
  selection: null, // selected node id
  validation: { state: "idle", nodes: {}, error: null, params: null, flops: null },
  currentJob: null, // {id, status, queue_position, progress, reason, epoch, epochs}
};

export function on(topic, fn) {
  if (!topics.has(topic)) topics.set(topic, new Set());
  topics.get(topic).add(fn);
  return () => topics.get(topic).delete(fn);
}

export function emit(topic, detail) {
  for (const fn of topics.get(topic) ?? []) fn(detail);
}

/** Replace a top-level field and tell its listeners. */
export function set(topic, value) {
  store[topic] = value;
  emit(topic, value);
}

/**
 * Change the spec in place through `fn(spec)` and announce it.
 * `what` says which part changed ("model" | "data" | "train" | "layout" | "all"); layout-only changes
 * (node positions) need no re-validation.
 */
export function updateSpec(fn, what = "model") {
  fn(store.spec);
  emit("spec", what);
}

export function replaceSpec(spec) {
  store.spec = spec;
  store.selection = null;
  emit("selection", null);
  emit("spec", "all");
}
