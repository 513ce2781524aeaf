// Activations / feature maps of one node at a time, and learned convolution filters.
import { t } from "../i18n.js";
import { session } from "../jobs/session.js";
import { store } from "../store.js";
import { MapGrid, numel } from "./grid.js";
import { framesFor, nodePicker, tile, waiting } from "./tile.js";

const MAX_MAPS = 16;

/** The frame to show: the user's pick, else the node selected in the editor, else the newest node. */
function choose(frames, picked) {
  const byNode = new Map(frames.map((f) => [f.header.node, f]));
  return byNode.get(picked) ?? byNode.get(store.selection) ?? frames.at(-1) ?? null;
}

/** Reduce any activation shape to maps: [C,H,W] images, [T,F]/[N,U] one map, [U] one strip. */
export function asMaps(shape) {
  if (shape.length >= 4) return { count: Math.min(shape[1], MAX_MAPS), rows: shape.at(-2), cols: shape.at(-1) };
  if (shape.length === 3) return { count: Math.min(shape[0], MAX_MAPS), rows: shape[1], cols: shape[2] };
  if (shape.length === 2) return { count: 1, rows: shape[0], cols: shape[1] };
  return { count: 1, rows: 1, cols: shape[0] ?? 1 };
}

class NodeMapsView {
  constructor(titleKey, testid, viewKind, className) {
    this.viewKind = viewKind;
    this.picked = null;
    this.grid = new MapGrid(className);
    this.picker = nodePicker((n) => {
      this.picked = n;
      this.seq = -1;
    });
    this.empty = waiting();
    this.box = tile(titleKey, testid, this.picker, this.grid.host, this.empty);
    this.tiles = [this.box];
    this.seq = -1;
  }

  draw() {
    const frames = framesFor(session.current, this.viewKind);
    const frame = choose(frames, this.picked);
    this.picker.sync(frames.map((f) => f.header.node), frame?.header.node);
    this.empty.hidden = Boolean(frame);
    this.grid.host.hidden = !frame;
    if (!frame || frame.header.seq === this.seq) return;
    this.seq = frame.header.seq;
    this.render(frame);
    this.box.dataset.step = String(frame.header.step);
    this.box.note.textContent = ` ${frame.header.node} · ${t("views.step", { s: frame.header.step })}`;
  }

  render(frame) {
    const { count, rows, cols } = asMaps(frame.header.shape);
    this.grid.draw(frame.values, count, rows, cols, { shared: true });
  }
}

export class ActivationView extends NodeMapsView {
  constructor() {
    super("views.activations", "activation-map", "activations", "map-grid");
  }
}

export class FiltersView extends NodeMapsView {
  constructor() {
    super("views.filters", "filters-map", "filters", "map-grid filter-grid");
  }

  /** [out, in, kh, kw]: one cell per output filter (its input channels averaged); [out, k, in] for 1-D. */
  render(frame) {
    const shape = frame.header.shape;
    if (shape.length !== 4) return super.render(frame);
    const [o, i, kh, kw] = shape;
    const count = Math.min(o, 32);
    const per = kh * kw;
    const out = new Float32Array(count * per);
    for (let f = 0; f < count; f++) {
      for (let c = 0; c < i; c++) {
        for (let p = 0; p < per; p++) out[f * per + p] += frame.values[(f * i + c) * per + p] / i;
      }
    }
    this.grid.draw(out, count, kh, kw, { shared: false });
    this.grid.host.dataset.values = String(numel(shape));
  }
}
