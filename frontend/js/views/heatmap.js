// Heatmaps with Canvas ImageData: one pixel per value, scaled up by CSS (image-rendering: pixelated).
import { DIVERGING, SEQUENTIAL } from "./colormap.js";

/** Range of the finite values of `data` (from `offset`, `count` items). */
export function range(data, offset = 0, count = data.length) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = offset; i < offset + count; i++) {
    const v = data[i];
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo === Infinity ? [0, 1] : [lo, hi];
}

/**
 * Paint rows×cols values (row-major from `offset`) into `canvas`.
 * mode "diverging": symmetric around `center` (default 0) with scale `absMax`; "sequential": [lo, hi] → white..blue.
 * `flipY` draws row 0 at the bottom (for maps over the input plane, where y grows upwards).
 */
export function paint(canvas, data, rows, cols, { offset = 0, mode = "diverging", lo, hi, center = 0,
  flipY = false, alpha = 255 } = {}) {
  if (canvas.width !== cols) canvas.width = cols;
  if (canvas.height !== rows) canvas.height = rows;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(cols, rows);
  const px = img.data;
  const lut = mode === "diverging" ? DIVERGING : SEQUENTIAL;
  let a = lo;
  let b = hi;
  if (a == null || b == null) [a, b] = range(data, offset, rows * cols);
  const span = mode === "diverging" ? Math.max(Math.abs(a - center), Math.abs(b - center)) || 1 : b - a || 1;
  for (let r = 0; r < rows; r++) {
    const rr = flipY ? rows - 1 - r : r;
    for (let c = 0; c < cols; c++) {
      const v = data[offset + r * cols + c];
      const i = 4 * (rr * cols + c);
      if (!Number.isFinite(v)) continue; // missing values stay transparent (the tile's grey shows through)
      const t = mode === "diverging" ? 0.5 + (v - center) / (2 * span) : (v - a) / span;
      const k = 3 * Math.max(0, Math.min(255, Math.round(t * 255)));
      px[i] = lut[k];
      px[i + 1] = lut[k + 1];
      px[i + 2] = lut[k + 2];
      px[i + 3] = alpha;
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}
