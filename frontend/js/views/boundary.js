// TF-Playground-style views for 2-D data: the output map behind the data points, and every hidden neuron's
// output over the input plane.
import { el } from "../format.js";
import { t } from "../i18n.js";
import { session } from "../jobs/session.js";
import { drawPoints, pointExtent } from "../preview.js";
import { store } from "../store.js";
import { classColorRgb } from "./colormap.js";
import { MapGrid } from "./grid.js";
import { paint } from "./heatmap.js";
import { framesFor, tile } from "./tile.js";

const SIZE = 240;

/** [xmin, xmax, ymin, ymax] the map covers: the frame's extent, else the same rule around the preview points. */
function extentOf(header) {
  if (header?.extent) return header.extent;
  if (store.preview?.kind === "points") return pointExtent(store.preview.points);
  return [-1, 1, -1, 1];
}

/** Many classes: each pixel takes its argmax class colour, paler where the model is unsure. */
function paintClasses(canvas, values, c, h, w) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  const colors = Array.from({ length: c }, (_, k) => classColorRgb(k));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let best = 0;
      let sum = 0;
      let bestV = -Infinity;
      for (let k = 0; k < c; k++) {
        const v = values[k * h * w + y * w + x];
        sum += v;
        if (v > bestV) [bestV, best] = [v, k];
      }
      const conf = sum > 0 ? bestV / sum : 1;
      const a = 0.25 + 0.75 * Math.max(0, (conf - 1 / c) / (1 - 1 / c));
      const i = 4 * ((h - 1 - y) * w + x);
      for (let ch = 0; ch < 3; ch++) img.data[i + ch] = Math.round(255 - a * (255 - colors[best][ch]) * 0.75);
      img.data[i + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

export class BoundaryView {
  constructor() {
    this.map = el("canvas", { class: "heat boundary-bg" });
    this.points = el("canvas", { class: "boundary-points", width: String(SIZE), height: String(SIZE) });
    this.neurons = el("div", { class: "neuron-layers" });
    this.tiles = [
      tile("views.boundary", "boundary-map", el("div", { class: "boundary-wrap" }, this.map, this.points)),
      tile("views.neurons", "neuron-maps", this.neurons),
    ];
    this.grids = new Map();
    this.drawn = "";
  }

  draw() {
    const run = session.current;
    const frame = framesFor(run, "boundary").at(-1);
    const key = `${frame?.header.seq}|${store.preview?.dataset}|${store.spec?.data?.noise}`;
    if (key !== this.drawn) {
      this.drawn = key;
      this.drawMap(frame);
    }
    this.drawNeurons(run);
  }

  drawMap(frame) {
    const extent = extentOf(frame?.header);
    const box = this.tiles[0];
    if (frame) {
      const shape = frame.header.shape;
      const [h, w] = shape.slice(-2);
      const c = shape.length === 3 ? shape[0] : 1;
      if (c > 2) paintClasses(this.map, frame.values, c, h, w);
      else {
        // two classes as p(1) - p(0) in [-1, 1]; one map as given (centred on 0.5 for probabilities)
        const v = c === 2 ? frame.values.subarray(h * w).map((p1, i) => p1 - frame.values[i]) : frame.values;
        let inUnit = true;
        for (const x of v) if (x < 0 || x > 1) inUnit = false;
        paint(this.map, v, h, w, { mode: "diverging", center: inUnit && c === 1 ? 0.5 : 0, flipY: true,
          lo: inUnit && c === 1 ? 0 : -1, hi: 1 });
      }
      box.dataset.step = String(frame.header.step);
      box.note.textContent = ` ${t("views.step", { s: frame.header.step })}`;
    } else {
      this.map.width = 1;
      this.map.height = 1;
      box.note.textContent = "";
    }
    const ctx = this.points.getContext("2d");
    ctx.clearRect(0, 0, SIZE, SIZE);
    if (store.preview?.kind === "points") drawPoints(ctx, store.preview.points, extent, SIZE, { radius: 2.6 });
  }

  drawNeurons(run) {
    const frames = framesFor(run, "neurons");
    const seen = new Set();
    for (const f of frames) {
      const node = f.header.node;
      seen.add(node);
      if (!this.grids.has(node)) {
        const grid = new MapGrid("map-grid neuron-grid");
        this.grids.set(node, { grid, seq: -1, row: el("div", { class: "neuron-row" },
          el("span", { class: "neuron-label", text: node }), grid.host) });
        this.neurons.append(this.grids.get(node).row);
      }
      const g = this.grids.get(node);
      if (g.seq === f.header.seq) continue;
      g.seq = f.header.seq;
      const [u, h, w] = f.header.shape.length === 3 ? f.header.shape : [1, ...f.header.shape];
      g.grid.draw(f.values, Math.min(u, 16), h, w, { shared: false, flipY: true });
    }
    for (const [node, g] of this.grids) {
      if (!seen.has(node)) {
        g.row.remove();
        this.grids.delete(node);
      }
    }
    this.tiles[1].hidden = frames.length === 0;
  }
}
