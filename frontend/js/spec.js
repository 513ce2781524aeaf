// The job spec the page edits: how a fresh one looks, how one is cleaned before it leaves the page, and how an
// imported one is checked for the parts the editor relies on.
import { autoLayout, needsLayout } from "./editor/graph.js";

/** A network with only an input layer, sized for the data set (when its signature is known). */
export function blankSpec(dataset) {
  const field = dataset?.fields ? Object.entries(dataset.fields)[0] : null;
  const shape = field ? shapeDims(field[1]) : [2];
  const dtype = field ? shapeDtype(field[1]) : "float";
  const params = { shape };
  if (dtype === "long") params.dtype = "long";
  return {
    name: "",
    model: { nodes: [{ id: "input", type: "input", params, inputs: [], ui: { x: 24, y: 120 } }] },
    data: { dataset: dataset?.name ?? "spiral" },
    train: {},
    probes: {},
  };
}

/** Field shapes in the catalogue may be plain lists or {dims|shape, dtype} objects. */
export function shapeDims(s) {
  if (Array.isArray(s)) return s;
  return s?.dims ?? s?.shape ?? [];
}

export function shapeDtype(s) {
  return Array.isArray(s) ? "float" : s?.dtype ?? "float";
}

/** The spec as the API wants it: a deep copy without empty optional parts. */
export function jobSpec(spec) {
  const out = structuredClone(spec);
  if (!out.name) delete out.name;
  if (out.model.outputs == null) delete out.model.outputs;
  return out;
}

/** Specs whose nodes came without positions: the editor lays these out to its own size when it shows them. */
export const autoPlaced = new WeakSet();

/** Accept an imported/shared/preset spec: fill missing sections and lay out nodes without positions. */
export function normaliseSpec(raw) {
  if (!raw || typeof raw !== "object" || !raw.model || !Array.isArray(raw.model.nodes)) {
    throw new Error("not a LayerLab job spec (model.nodes missing)");
  }
  const spec = structuredClone(raw);
  spec.data ??= { dataset: "spiral" };
  spec.train ??= {};
  spec.probes ??= {};
  spec.name ??= "";
  for (const n of spec.model.nodes) {
    if (typeof n.id !== "string" || typeof n.type !== "string") throw new Error("every node needs an id and a type");
    n.params ??= {};
    n.inputs ??= [];
  }
  if (needsLayout(spec.model.nodes)) {
    autoLayout(spec.model.nodes, 7);
    autoPlaced.add(spec);
  }
  return spec;
}
