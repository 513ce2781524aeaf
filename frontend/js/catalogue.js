// GET /api/catalogue once, indexed for the palette, forms, pickers and presets. Nothing here lists layers itself.
import { api } from "./api.js";

const asList = (x) => (Array.isArray(x) ? x : x && typeof x === "object" ? Object.entries(x).map(([name, v]) =>
  ({ name, ...v })) : []);

/** Chapter sections in reading order ("9.2" < "9.3.1" < "9.10"). */
export function sectionOrder(a, b) {
  const pa = String(a).split(".").map(Number);
  const pb = String(b).split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d) return d;
  }
  return 0;
}

export async function loadCatalogue() {
  const raw = await api.catalogue();
  const layers = asList(raw.layers).map((l) => ({ ...l, type: l.type ?? l.name }));
  const datasets = asList(raw.datasets).map((d) => ({ ...d, name: d.name ?? d.id }));
  const presets = asList(raw.presets).map((p) => ({ ...p, id: p.id ?? p.name }));
  return {
    raw,
    layers,
    layerByType: new Map(layers.map((l) => [l.type, l])),
    datasets,
    datasetByName: new Map(datasets.map((d) => [d.name, d])),
    presets,
    presetById: new Map(presets.map((p) => [p.id, p])),
    optimizers: asList(raw.optimizers),
    losses: asList(raw.losses),
    schedules: asList(raw.schedules),
    initSchemes: asList(raw.init_schemes),
  };
}

/** Group items by a key, sections sorted in chapter order. */
export function groupBy(items, key) {
  const groups = new Map();
  for (const it of items) {
    const k = it[key] ?? "";
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(it);
  }
  return [...groups.entries()].sort((a, b) => sectionOrder(a[0], b[0]));
}
