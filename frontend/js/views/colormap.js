// Colour maps: TF-Playground's diverging orange–white–blue (negative orange, positive blue), a sequential
// map for non-negative data (attention, probabilities), and class colours for data points.

function lerp(a, b, t) {
  return a + (b - a) * t;
}

function buildLut(stops) {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    let k = 0;
    while (k < stops.length - 2 && x > stops[k + 1][0]) k++;
    const [x0, c0] = stops[k];
    const [x1, c1] = stops[k + 1];
    const tt = Math.min(1, Math.max(0, (x - x0) / (x1 - x0)));
    for (let c = 0; c < 3; c++) lut[3 * i + c] = Math.round(lerp(c0[c], c1[c], tt));
  }
  return lut;
}

export const DIVERGING = buildLut([
  [0, [245, 147, 34]],
  [0.5, [232, 234, 235]],
  [1, [8, 119, 189]],
]);

export const SEQUENTIAL = buildLut([
  [0, [236, 244, 251]],
  [0.35, [158, 202, 225]],
  [0.7, [49, 130, 189]],
  [1, [8, 48, 107]],
]);

const CLASS_COLORS = ["#f59322", "#0877bd", "#2f9e5b", "#d64545", "#9b59b6", "#c0a020", "#16a2b8", "#e377c2",
  "#7f7f7f", "#8c564b"];

export function classColor(label) {
  const i = Number.isFinite(label) ? Math.abs(Math.round(label)) : 0;
  return CLASS_COLORS[i % CLASS_COLORS.length];
}

export function classColorRgb(label) {
  const hex = classColor(label);
  return [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
}
