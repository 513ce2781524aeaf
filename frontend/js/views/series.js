// Aligning curves for uPlot: every series has its own steps; uPlot wants one x array and a y array per series.

/** Join series with their own x arrays into uPlot's aligned form: [xs, ys1, ys2, ...] with nulls for gaps. */
export function joinSeries(list) {
  const xs = new Set();
  for (const s of list) for (const x of s.x) xs.add(x);
  const x = Float64Array.from(xs).sort();
  const index = new Map();
  x.forEach((v, i) => index.set(v, i));
  const ys = list.map((s) => {
    const y = new Array(x.length).fill(null);
    for (let i = 0; i < s.x.length; i++) y[index.get(s.x[i])] = s.y[i];
    return y;
  });
  return [Array.from(x), ...ys];
}
