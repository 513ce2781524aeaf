// Small multiples: a grid of heatmap canvases, reused between frames so drawing allocates nothing new.
import { el } from "../format.js";
import { paint, range } from "./heatmap.js";

export class MapGrid {
  constructor(className = "map-grid") {
    this.host = el("div", { class: className });
  }

  /**
   * Draw `count` maps of rows×cols from `values` (map i starts at i*rows*cols).
   * `shared` uses one colour scale for all maps (so they compare); `labels` captions each map.
   */
  draw(values, count, rows, cols, { mode = "diverging", shared = true, labels = null, flipY = false } = {}) {
    while (this.host.children.length > count) this.host.lastChild.remove();
    while (this.host.children.length < count) {
      this.host.append(el("figure", { class: "map-cell" }, el("canvas", { class: "heat" }), el("figcaption")));
    }
    // one map alone gets the tile's width (an [S, units] activation strip, a [T, F] sequence)
    this.host.classList.toggle("single", count === 1);
    const [lo, hi] = shared ? range(values, 0, count * rows * cols) : [null, null];
    for (let i = 0; i < count; i++) {
      const cell = this.host.children[i];
      paint(cell.firstChild, values, rows, cols, { offset: i * rows * cols, mode, lo, hi, flipY });
      cell.lastChild.textContent = labels ? labels[i] ?? "" : "";
    }
  }
}

/** Product of dims (the number of values a shape holds). */
export function numel(shape) {
  return shape.reduce((a, b) => a * b, 1);
}
