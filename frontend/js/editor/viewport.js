// Pan and zoom of the editor's world layer, and the mapping between screen and world coordinates.

export class Viewport {
  constructor(host, world) {
    this.host = host;
    this.world = world;
    this.x = 0;
    this.y = 0;
    this.scale = 1;
    host.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
  }

  apply() {
    this.world.style.transform = `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
  }

  toWorld(clientX, clientY) {
    const r = this.host.getBoundingClientRect();
    return { x: (clientX - r.left - this.x) / this.scale, y: (clientY - r.top - this.y) / this.scale };
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.apply();
  }

  onWheel(e) {
    e.preventDefault();
    const r = this.host.getBoundingClientRect();
    const cx = e.clientX - r.left;
    const cy = e.clientY - r.top;
    const next = Math.min(1.6, Math.max(0.3, this.scale * Math.exp(-e.deltaY * 0.0015)));
    this.x = cx - ((cx - this.x) * next) / this.scale;
    this.y = cy - ((cy - this.y) * next) / this.scale;
    this.scale = next;
    this.apply();
  }

  /** Show the box {x0,y0,x1,y1} (world units) whole, centred, enlarged at most 1.2× on big screens. */
  fit(box, pad = 24) {
    const r = this.host.getBoundingClientRect();
    const width = r.width;
    const w = Math.max(1, box.x1 - box.x0);
    const h = Math.max(1, box.y1 - box.y0);
    const s = Math.min(1.2, (width - 2 * pad) / w, (r.height - 2 * pad - 28) / h);
    this.scale = Math.max(0.3, s);
    this.x = (width - w * this.scale) / 2 - box.x0 * this.scale;
    this.y = (r.height - 28 - h * this.scale) / 2 - box.y0 * this.scale;
    this.apply();
  }
}
