// Render at most once per animation frame: views ask for a redraw, the browser's next frame runs each once.
const dirty = new Set();
let pending = false;

export function requestDraw(fn) {
  dirty.add(fn);
  if (!pending) {
    pending = true;
    requestAnimationFrame(flush);
  }
}

function flush() {
  pending = false;
  const fns = [...dirty];
  dirty.clear();
  for (const fn of fns) fn();
}
