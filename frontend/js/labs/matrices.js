// Lab views made of small heatmaps: alignment maps and attention heads with their tokens, reconstructions,
// filters and feature maps. Every map is painted by the playground's `paint` (one pixel per value, CSS-scaled).
import { el } from "../format.js";
import { t } from "../i18n.js";
import { paint, range } from "../views/heatmap.js";
import { partLabel, variantLabel } from "./names.js";

/** Paint `count` maps of rows×cols from `values` (map i at offset i·rows·cols) into `host`'s cells. */
export function drawMaps(host, values, count, rows, cols, { mode = "diverging", labels = null, shared = true,
  lo = null, hi = null } = {}) {
  while (host.children.length > count) host.lastChild.remove();
  while (host.children.length < count) host.append(el("figure", { class: "map-cell" }, el("canvas", { class: "heat" }), el("figcaption")));
  let [a, b] = [lo, hi];
  if (shared && (a == null || b == null)) [a, b] = range(values, 0, count * rows * cols);
  for (let i = 0; i < count; i++) {
    const cell = host.children[i];
    paint(cell.firstChild, values, rows, cols, { offset: i * rows * cols, mode, lo: a, hi: b });
    cell.lastChild.textContent = labels?.[i] ?? "";
  }
}

/** A map with its row labels (queries) down the side and column labels (keys) along the top. */
function labeledMap(values, offset, rows, cols, rowLabels, colLabels, caption = "") {
  const canvas = el("canvas", { class: "heat" });
  paint(canvas, values, rows, cols, { offset, mode: "sequential", lo: 0, hi: 1 });
  const vertical = colLabels.some((c) => String(c).length > 2) && colLabels.length > 5;
  return el("figure", { class: "lmap-fig" },
    el("div", { class: "lmap" },
      el("div", { class: "lmap-corner" }),
      el("div", { class: `lmap-cols${vertical ? " vertical" : ""}` }, colLabels.map((c) => el("span", { text: String(c), title: String(c) }))),
      el("div", { class: "lmap-rows" }, rowLabels.map((r) => el("span", { text: String(r), title: String(r) }))),
      canvas),
    caption ? el("figcaption", { text: caption }) : null);
}

const tokensOf = (header, which) => header[which] ?? header.tokens ?? null;

/** The encoder–decoder's alignment: output tokens down, input tokens across (rows sum to 1). */
export class AlignmentView {
  constructor(body) {
    this.body = body;
    this.seq = -1;
  }

  draw(run) {
    const frame = run.framesOf("alignment").at(-1);
    if (!frame || frame.header.seq === this.seq) return;
    this.seq = frame.header.seq;
    const [rows, cols] = frame.header.shape.slice(-2);
    const q = tokensOf(frame.header, "queries") ?? Array.from({ length: rows }, (_, i) => i);
    const k = tokensOf(frame.header, "keys") ?? Array.from({ length: cols }, (_, i) => i);
    this.body.replaceChildren(labeledMap(frame.values, 0, rows, cols, q, k),
      el("div", { class: "lab-note", text: `${t("labs.axis.queries")} ↓ · ${t("labs.axis.keys")} →` }));
  }
}

/** Attention of every head: one frame per layer ([heads, T, T], a BERT-style model's layer1…layer6) or one
 * [layers, heads, T, T] frame; a picker chooses the layer. Rows are queries, columns keys. */
export class HeadsView {
  constructor(body) {
    this.picker = el("select", { class: "tile-select", hidden: true });
    this.grid = el("div", { class: "heads-grid" });
    this.note = el("div", { class: "lab-note" });
    body.append(this.picker, this.grid, this.note);
    this.choice = null;
    this.key = "";
    this.picker.addEventListener("change", () => {
      this.choice = this.picker.value;
      this.key = "";
      this.draw(this.run);
    });
  }

  /** Every (frame, layer) the user can pick, labelled. */
  static options(frames) {
    const out = [];
    for (const f of frames) {
      const layers = f.header.shape.length >= 4 ? f.header.shape.at(-4) : 1;
      for (let l = 0; l < layers; l++) {
        const n = layers > 1 ? l + 1 : f.header.layer;
        const label = n != null ? t("labs.layer", { l: n }) : variantLabel(f.header.node);
        out.push({ id: `${f.header.node}|${l}`, frame: f, layer: l, label });
      }
    }
    return out;
  }

  draw(run) {
    this.run = run;
    const frames = run?.framesOf("attention_heads", "attention") ?? [];
    const key = frames.map((f) => f.header.seq).join(",");
    if (!frames.length || key === this.key) return;
    this.key = key;
    const options = HeadsView.options(frames);
    const ids = options.map((o) => o.id).join(",");
    if (this.picker.dataset.ids !== ids) {
      this.picker.dataset.ids = ids;
      this.picker.replaceChildren(...options.map((o) => el("option", { value: o.id, text: o.label })));
    }
    this.picker.hidden = options.length < 2;
    const chosen = options.find((o) => o.id === this.choice) ?? options[0];
    this.picker.value = chosen.id;
    this.render(chosen);
  }

  render({ frame, layer }) {
    const shape = frame.header.shape;
    const [rows, cols] = shape.slice(-2);
    const heads = shape.length >= 3 ? shape.at(-3) : 1;
    const q = tokensOf(frame.header, "queries") ?? [];
    const k = tokensOf(frame.header, "keys") ?? [];
    const per = rows * cols;
    const base = layer * heads * per;
    const labelled = heads <= 4 && q.length === rows && k.length === cols;
    this.grid.classList.toggle("labelled", labelled);
    const cells = [];
    for (let h = 0; h < heads; h++) {
      const caption = t("views.head", { h });
      if (labelled) cells.push(labeledMap(frame.values, base + h * per, rows, cols, q, k, caption));
      else {
        const canvas = el("canvas", { class: "heat" });
        paint(canvas, frame.values, rows, cols, { offset: base + h * per, mode: "sequential", lo: 0, hi: 1 });
        cells.push(el("figure", { class: "map-cell" }, canvas, el("figcaption", { text: caption })));
      }
    }
    this.grid.replaceChildren(...cells);
    const tokens = k.length && !labelled ? ` · ${k.join(" ")}` : "";
    const when = frame.header.epoch != null ? ` · ${t("labs.epoch", { e: frame.header.epoch })}` : "";
    this.note.textContent = `${t("labs.axis.queries")} ↓ ${t("labs.axis.keys")} →${when}${tokens}`;
    this.note.title = k.join(" ");
  }
}

/** Inputs on top, then each variant's reconstruction of the same images. */
export class ReconView {
  constructor(body) {
    this.rows = el("div", { class: "recon-rows" });
    this.note = el("div", { class: "lab-note" });
    body.append(this.rows, this.note);
    this.key = "";
    this.hosts = new Map();
  }

  row(name, label) {
    if (!this.hosts.has(name)) {
      const maps = el("div", { class: "map-row" });
      this.rows.append(el("div", { class: "map-row-wrap" }, el("span", { class: "map-row-label" }), maps));
      this.hosts.set(name, maps);
    }
    const maps = this.hosts.get(name);
    maps.previousSibling.textContent = label;
    return maps;
  }

  draw(run) {
    const frames = run.framesOf("reconstructions", "reconstruction");
    const key = frames.map((f) => f.header.seq).join(",");
    if (!frames.length || key === this.key) return;
    this.key = key;
    for (const [i, f] of frames.entries()) {
      const s = f.header.shape;
      const pairs = s[0] === 2 ? s.slice(1) : s;
      const n = Math.min(pairs[0], 8);
      const per = pairs.slice(1).reduce((a, b) => a * b, 1);
      let [h, w] = pairs.length >= 3 ? pairs.slice(-2) : [1, per];
      const side = Math.round(Math.sqrt(per));
      if (pairs.length < 3 && side * side === per) [h, w] = [side, side];
      const half = pairs[0] * per;
      if (i === 0) drawMaps(this.row("__input", t("views.input")), f.values, n, h, w, { mode: "sequential", lo: 0, hi: 1 });
      const out = s[0] === 2 ? f.values.subarray(half) : f.values;
      drawMaps(this.row(f.header.node, variantLabel(f.header.node)), out, n, h, w, { mode: "sequential", lo: 0, hi: 1 });
    }
    this.note.textContent = t("views.step", { s: frames.at(-1).header.step });
  }
}

/** Convolution filters, one row per bank: [out, in, kh, kw] (input channels averaged) or [out, kh, kw]. */
export class FiltersView {
  constructor(body) {
    this.rows = el("div", { class: "recon-rows filter-rows" });
    body.append(this.rows);
    this.key = "";
  }

  draw(run) {
    const frames = run.framesOf("filters", "conv_filters");
    const key = frames.map((f) => f.header.seq).join(",");
    if (!frames.length || key === this.key) return;
    this.key = key;
    this.rows.replaceChildren(...frames.map((f) => {
      const s = f.header.shape;
      const [o, i, kh, kw] = s.length === 4 ? s : [s[0], 1, s.at(-2), s.at(-1)];
      const count = Math.min(o, 16);
      const out = new Float32Array(count * kh * kw);
      for (let a = 0; a < count; a++) {
        for (let c = 0; c < i; c++) {
          for (let p = 0; p < kh * kw; p++) out[a * kh * kw + p] += f.values[(a * i + c) * kh * kw + p] / i;
        }
      }
      const names = (f.header.names ?? []).map(partLabel);
      const maps = el("div", { class: "map-row" });
      drawMaps(maps, out, count, kh, kw, { shared: false, labels: names.length ? names : Array.from({ length: count }, (_, k) => `#${k}`) });
      return el("div", { class: "map-row-wrap" }, el("span", { class: "map-row-label", text: variantLabel(f.header.node) }), maps);
    }));
  }
}

/** Feature maps of one input: the image itself, then each filter bank's maps with the channel names. */
export class FeatureMapsView {
  constructor(body) {
    this.rows = el("div", { class: "recon-rows feature-rows" });
    body.append(this.rows);
    this.key = "";
  }

  draw(run) {
    const frames = run.framesOf("feature_maps", "activations");
    const key = frames.map((f) => f.header.seq).join(",");
    if (!frames.length || key === this.key) return;
    this.key = key;
    this.rows.replaceChildren(...frames.map((f) => {
      const s = f.header.shape;
      const [c, h, w] = s.length >= 3 ? s.slice(-3) : [1, ...s.slice(-2)];
      const count = Math.min(c, 8);
      const isInput = f.header.node === "input";
      const labels = (f.header.channels ?? []).map(partLabel);
      if (isInput && f.header.label != null) labels[0] = t("labs.label", { y: f.header.label });
      const maps = el("div", { class: "map-row" });
      drawMaps(maps, f.values, count, h, w, { mode: isInput ? "sequential" : "diverging", shared: !isInput, labels });
      return el("div", { class: "map-row-wrap" }, el("span", { class: "map-row-label", text: variantLabel(f.header.node) }), maps);
    }));
  }
}
