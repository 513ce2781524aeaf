// Sequence-model views: attention maps (one per head) and LSTM gate activations over time.
import { el } from "../format.js";
import { t } from "../i18n.js";
import { session } from "../jobs/session.js";
import { MapGrid } from "./grid.js";
import { framesFor, nodePicker, tile, waiting } from "./tile.js";

class PickedView {
  constructor(viewKind, titleKey, testid, className) {
    this.viewKind = viewKind;
    this.picked = null;
    this.seq = -1;
    this.grid = new MapGrid(className);
    this.picker = nodePicker((n) => {
      this.picked = n;
      this.seq = -1;
    });
    this.empty = waiting();
    this.caption = el("div", { class: "tile-caption" });
    this.box = tile(titleKey, testid, this.picker, this.grid.host, this.caption, this.empty);
    this.tiles = [this.box];
  }

  draw() {
    const frames = framesFor(session.current, this.viewKind);
    const frame = frames.find((f) => f.header.node === this.picked) ?? frames.at(-1);
    this.picker.sync(frames.map((f) => f.header.node), frame?.header.node);
    this.empty.hidden = Boolean(frame);
    if (!frame || frame.header.seq === this.seq) return;
    this.seq = frame.header.seq;
    this.render(frame);
    this.box.dataset.step = String(frame.header.step);
    this.box.note.textContent = ` ${frame.header.node} · ${t("views.step", { s: frame.header.step })}`;
  }
}

export class AttentionView extends PickedView {
  constructor() {
    super("attention", "views.attention", "attention-map", "map-grid attention-grid");
  }

  /** [heads, Tq, Tk] or [Tq, Tk] (a batch axis in front is dropped: sample 0). Rows are queries. */
  render(frame) {
    const s = frame.header.shape;
    const [tq, tk] = s.slice(-2);
    const heads = s.length >= 3 ? s.at(-3) : 1;
    const labels = Array.from({ length: heads }, (_, h) => (heads > 1 ? t("views.head", { h: h + 1 }) : ""));
    this.grid.host.classList.toggle("single", heads === 1);
    this.grid.draw(frame.values, Math.min(heads, 8), tq, tk, { mode: "sequential", shared: false, labels });
    const q = frame.header.queries ?? frame.header.query_tokens;
    const k = frame.header.keys ?? frame.header.key_tokens ?? frame.header.tokens;
    this.caption.textContent = q || k ? `${t("views.output")}: ${(q ?? []).join(" ")}  ·  ${t("views.input")}: ${(k ?? []).join(" ")}` : "";
  }
}

const GATE_NAMES = ["input i", "forget f", "cell g", "output o"];

export class GatesView extends PickedView {
  constructor() {
    super("gates", "views.gates", "lstm-gates", "map-grid gates-grid");
  }

  /** [4, T, H] gate values over time (rows = steps), or [T, 4H] split into the four gates. */
  render(frame) {
    const s = frame.header.shape;
    let values = frame.values;
    let t;
    let h;
    if (s.length >= 3 && s.at(-3) === 4) [t, h] = s.slice(-2);
    else {
      [t, h] = [s.at(-2), s.at(-1) / 4];
      values = new Float32Array(4 * t * h);
      for (let g = 0; g < 4; g++) {
        for (let i = 0; i < t; i++) for (let j = 0; j < h; j++) values[(g * t + i) * h + j] = frame.values[i * 4 * h + g * h + j];
      }
    }
    const names = frame.header.gates ?? GATE_NAMES;
    this.grid.draw(values, 4, t, h, { mode: "sequential", shared: false, labels: names });
  }
}
