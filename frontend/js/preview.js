// Drawing a data-set preview: 2-D points coloured by class, image thumbnails, or source → target pairs.
import { el } from "./format.js";
import { DIVERGING, classColor } from "./views/colormap.js";

/** A regression target in [-1, 1] on the diverging map. */
function valueColor(v) {
  const k = 3 * Math.max(0, Math.min(255, Math.round((0.5 + v / 2) * 255)));
  return `rgb(${DIVERGING[k]},${DIVERGING[k + 1]},${DIVERGING[k + 2]})`;
}

/** Find the preview's form whatever the exact key names are. */
export function previewKind(p) {
  if (!p) return null;
  if (p.kind) return p.kind;
  if (Array.isArray(p.points)) return "points";
  if (Array.isArray(p.images)) return "images";
  if (Array.isArray(p.pairs)) return "pairs";
  if (Array.isArray(p.sentences) || Array.isArray(p.texts) || Array.isArray(p.samples)) return "texts";
  return null;
}

/** [xmin, xmax, ymin, ymax] around the points with a 10% margin (the probes' grid uses the same rule). */
export function pointExtent(points) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const pad = (lo, hi) => Math.max(hi - lo, 1e-3) * 0.1;
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  return [x0 - pad(x0, x1), x1 + pad(x0, x1), y0 - pad(y0, y1), y1 + pad(y0, y1)];
}

/** Scatter points [x, y, label] onto a size×size canvas covering extent [xmin, xmax, ymin, ymax]. */
export function drawPoints(ctx, points, [x0, x1, y0, y1], size, { radius = 2.4, stroke = true } = {}) {
  const sx = (v) => ((v - x0) / (x1 - x0)) * size;
  const sy = (v) => size - ((v - y0) / (y1 - y0)) * size;
  const regression = points.some((p) => !Number.isInteger(p[2]));
  for (const [x, y, label] of points) {
    ctx.beginPath();
    ctx.arc(sx(x), sy(y), radius, 0, Math.PI * 2);
    ctx.fillStyle = regression ? valueColor(label) : classColor(label);
    ctx.fill();
    if (stroke) {
      ctx.strokeStyle = "rgba(255,255,255,.9)";
      ctx.lineWidth = 0.8;
      ctx.stroke();
    }
  }
}

function imageCanvas(pixels) {
  const h = pixels.length;
  const w = pixels[0]?.length ?? 0;
  const c = el("canvas", { width: String(w), height: String(h) });
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 255 - Math.max(0, Math.min(255, pixels[y][x]));
      const i = 4 * (y * w + x);
      img.data[i] = v;
      img.data[i + 1] = v;
      img.data[i + 2] = v;
      img.data[i + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/** 2-D image of one thumbnail, whatever its nesting ([H][W] or [1][H][W]). */
function plane(img) {
  let p = img?.pixels ?? img;
  while (Array.isArray(p) && Array.isArray(p[0]) && Array.isArray(p[0][0])) p = p[0];
  return p;
}

function drawThumbIcon(canvas, p, kind) {
  const ctx = canvas.getContext("2d");
  const s = canvas.width;
  ctx.clearRect(0, 0, s, s);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, s, s);
  if (kind === "points") {
    drawPoints(ctx, p.points, pointExtent(p.points), s, { radius: 1.3, stroke: false });
  } else if (kind === "images" && p.images.length) {
    const img = imageCanvas(plane(p.images[0]));
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(img, 0, 0, s, s);
  } else {
    ctx.fillStyle = "#183153";
    ctx.font = `bold ${Math.round(s * 0.42)}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText({ pairs: "a→b", table: "▦" }[kind] ?? "Aa", s / 2, s / 2);
  }
}

export function drawPreview(target, p, { thumb }) {
  const kind = previewKind(p);
  if (thumb) return drawThumbIcon(target, p, kind);
  if (!kind) return target.replaceChildren();
  if (kind === "points") {
    const c = el("canvas", { width: "260", height: "260", class: "preview-canvas" });
    drawPoints(c.getContext("2d"), p.points, pointExtent(p.points), 260);
    return target.replaceChildren(c);
  }
  if (kind === "images") {
    const labels = p.labels ?? [];
    return target.replaceChildren(el("div", { class: "preview-thumbs" },
      p.images.map((img, i) => {
        const c = imageCanvas(plane(img));
        c.title = String(labels[i] ?? img.label ?? "");
        return c;
      })));
  }
  if (kind === "pairs") {
    return target.replaceChildren(el("ul", { class: "preview-pairs" },
      p.pairs.map((pair) => {
        const [src, tgt] = Array.isArray(pair) ? pair : [pair.source ?? pair.src, pair.target ?? pair.tgt];
        return el("li", {}, String(src), el("span", { class: "arrow", text: "→" }), String(tgt));
      })));
  }
  const names = p.class_names ?? [];
  const labelOf = (label) => (label == null ? null : names[label] ?? String(label));
  if (kind === "table") {
    return target.replaceChildren(el("ul", { class: "preview-pairs" },
      p.rows.slice(0, 8).map((row, i) => el("li", {}, row.map((v) => v.toFixed(2)).join("  "),
        el("span", { class: "arrow", text: `→ ${labelOf(p.labels?.[i])}` })))));
  }
  const rows = p.sentences ?? p.texts ?? p.samples ?? [];
  return target.replaceChildren(el("ul", { class: "preview-pairs" },
    rows.slice(0, 8).map((row) => {
      const [text, label] = Array.isArray(row) ? row : [row.text ?? row.sentence, row.label];
      return el("li", {}, String(text).replaceAll("\n", " ⏎ "),
        label != null ? el("span", { class: "arrow", text: `→ ${labelOf(label)}` }) : null);
    })));
}
