// The network editor: DOM nodes (clickable by tests and people) and SVG links over a pannable world.
import { onLangChange, pick, t } from "../i18n.js";
import { compact, el, shape, svg } from "../format.js";
import { requestDraw } from "../frame.js";
import { session } from "../jobs/session.js";
import { emit, on, set, store, updateSpec } from "../store.js";
import * as g from "./graph.js";
import { Viewport } from "./viewport.js";

export const NODE_W = 150;
export const NODE_H = 54;
export const LAYER_MIME = "application/x-layerlab-layer";

export class EditorCanvas {
  constructor(host) {
    this.host = host;
    this.world = el("div", { class: "world" });
    this.links = svg("svg", { class: "links", width: "1", height: "1" });
    this.nodesLayer = el("div", { class: "nodes" });
    this.world.append(this.links, this.nodesLayer);
    this.empty = el("div", { class: "editor-empty", "data-i18n": "editor.empty", text: t("editor.empty") });
    host.append(this.world, this.empty);
    this.vp = new Viewport(host, this.world);
    this.gesture = null;
    host.addEventListener("pointerdown", (e) => this.onDown(e));
    host.addEventListener("click", (e) => this.onClickLink(e));
    window.addEventListener("pointermove", (e) => this.onMove(e));
    window.addEventListener("pointerup", (e) => this.onUp(e));
    host.addEventListener("dragover", (e) => this.onDragOver(e));
    host.addEventListener("drop", (e) => this.onDrop(e));
    window.addEventListener("keydown", (e) => this.onKey(e));
    on("spec", (what) => (what === "layout" ? this.drawLinks() : this.render()));
    on("selection", () => this.markSelection());
    on("validation", () => this.updateBadges());
    on("run", () => requestDraw(this.statsFn ??= () => this.updateStats()));
    onLangChange(() => this.render());
  }

  kind(type) {
    return store.catalogue?.layerByType.get(type) ?? null;
  }

  get nodes() {
    return store.spec?.model.nodes ?? [];
  }

  slots(node) {
    const kind = this.kind(node.type);
    const max = g.maxInputs(kind);
    if (max <= 1) return max;
    return Math.min(max, Math.max(kind?.min_inputs ?? 1, node.inputs.length + 1));
  }

  render() {
    this.nodesLayer.replaceChildren(...this.nodes.map((n) => this.nodeEl(n)));
    this.empty.hidden = this.nodes.length > 1;
    this.drawLinks();
    this.updateBadges();
  }

  nodeEl(node) {
    const kind = this.kind(node.type);
    const title = kind ? pick(kind.title) : node.type;
    const box = el(
      "div",
      { class: `node group-${kind?.group ?? "unknown"}`, testid: `node-${node.id}`, dataset: { id: node.id } },
      el("div", { class: "node-head" },
        el("span", { class: "node-title", text: title }),
        el("span", { class: "node-id", text: node.id })),
      el("div", { class: "node-body" },
        el("span", { class: "node-shape" }),
        el("span", { class: "node-params" })),
    );
    if (kind) box.title = pick(kind.description);
    const k = this.slots(node);
    for (let i = 0; i < k; i++) {
      const port = el("div", { class: "port in", dataset: { slot: String(i) } }, k > 1 ? String(i + 1) : null);
      port.style.left = `${(NODE_W * (i + 1)) / (k + 1) - 7}px`;
      box.append(port);
    }
    box.append(el("div", { class: "port out" }));
    box.style.left = `${node.ui.x}px`;
    box.style.top = `${node.ui.y}px`;
    if (node.id === store.selection) box.classList.add("selected");
    return box;
  }

  nodeBox(id) {
    return this.nodesLayer.querySelector(`.node[data-id="${CSS.escape(id)}"]`);
  }

  /** Where links attach: inputs along the top edge (in slot order), the output at the bottom centre. */
  portPos(node, slot) {
    if (slot == null) return { x: node.ui.x + NODE_W / 2, y: node.ui.y + NODE_H };
    const k = Math.max(1, this.slots(node));
    return { x: node.ui.x + (NODE_W * (slot + 1)) / (k + 1), y: node.ui.y };
  }

  static curve(a, b) {
    const dy = Math.max(30, Math.abs(b.y - a.y) / 2);
    return `M${a.x},${a.y} C${a.x},${a.y + dy} ${b.x},${b.y - dy} ${b.x},${b.y}`;
  }

  drawLinks() {
    const parts = [];
    for (const n of this.nodes) {
      n.inputs.forEach((src, slot) => {
        const from = g.byId(this.nodes, src);
        if (!from) return;
        const d = EditorCanvas.curve(this.portPos(from), this.portPos(n, slot));
        const hit = svg("path", { d, class: "link-hit", "data-to": n.id, "data-slot": String(slot) });
        const title = svg("title");
        title.textContent = t("editor.link.remove");
        hit.append(title);
        parts.push(svg("path", { d, class: "link" }), hit);
      });
    }
    if (this.gesture?.kind === "link" && this.gesture.to) {
      parts.push(svg("path", { d: EditorCanvas.curve(this.gesture.from, this.gesture.to), class: "link pending" }));
    }
    this.links.replaceChildren(...parts);
    for (const n of this.nodes) {
      const box = this.nodeBox(n.id);
      if (box) {
        box.style.left = `${n.ui.x}px`;
        box.style.top = `${n.ui.y}px`;
      }
    }
  }

  updateBadges() {
    const v = store.validation;
    for (const n of this.nodes) {
      const box = this.nodeBox(n.id);
      if (!box) continue;
      const info = v.nodes?.[n.id];
      box.querySelector(".node-shape").textContent = info ? `→ ${shape(info.output_shape)}` : "";
      box.querySelector(".node-params").textContent =
        info && info.params ? t("editor.params", { n: compact(info.params) }) : "";
      const bad = v.error && v.error.node_id === n.id;
      box.classList.toggle("invalid", Boolean(bad));
      box.querySelector(".node-error")?.remove();
      if (bad) box.append(el("div", { class: "node-error", testid: "validation-error", text: v.error.message }));
    }
  }

  /** While a run streams layer statistics, ReLU nodes show the share of their units that never fire ("dead"). */
  updateStats() {
    const stats = session.current?.layerStats?.values ?? {};
    for (const n of this.nodes) {
      const box = this.nodeBox(n.id);
      if (!box) continue;
      const dead = stats[n.id]?.dead;
      let badge = box.querySelector(".node-dead");
      if (dead == null || !(dead > 0)) {
        badge?.remove();
        continue;
      }
      if (!badge) {
        badge = el("span", { class: "node-dead", title: t("editor.dead.title") });
        box.append(badge);
      }
      badge.textContent = t("editor.dead", { p: Math.round(dead * 100) });
    }
  }

  markSelection() {
    for (const box of this.nodesLayer.children) box.classList.toggle("selected", box.dataset.id === store.selection);
  }

  fit() {
    const ns = this.nodes;
    if (!ns.length) return;
    const xs = ns.map((n) => n.ui.x);
    const ys = ns.map((n) => n.ui.y);
    const bad = ns.find((n) => n.id === store.validation.error?.node_id);
    this.vp.fit({ x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs, bad ? bad.ui.x + 230 : -Infinity) + NODE_W,
      y1: Math.max(...ys) + NODE_H + 12 });
  }

  /** Lay the graph out to the editor's visible width, then show it whole. */
  tidy() {
    const height = this.host.getBoundingClientRect().height || 500;
    // wrap into a new band only when the stack would need shrinking below ~65% to fit the editor's height
    g.autoLayout(this.nodes, Math.max(5, Math.floor((height - 60) / (g.GRID.dy * 0.65))));
    emit("spec", "layout");
    this.fit();
  }

  onDown(e) {
    if (e.button !== 0) return;
    const out = e.target.closest(".port.out");
    const box = e.target.closest(".node");
    if (out && box) {
      const node = g.byId(this.nodes, box.dataset.id);
      this.gesture = { kind: "link", source: node.id, from: this.portPos(node), to: null };
    } else if (box) {
      const node = g.byId(this.nodes, box.dataset.id);
      const p = this.vp.toWorld(e.clientX, e.clientY);
      this.gesture = { kind: "move", id: node.id, dx: p.x - node.ui.x, dy: p.y - node.ui.y, sx: e.clientX,
        sy: e.clientY, moved: false };
    } else if (e.target.closest(".link-hit")) {
      return;
    } else if (!e.target.closest(".editor-tools")) {
      this.gesture = { kind: "pan", lx: e.clientX, ly: e.clientY, sx: e.clientX, sy: e.clientY, moved: false };
    } else {
      return;
    }
    e.preventDefault();
  }

  onMove(e) {
    const gs = this.gesture;
    if (!gs) return;
    if (gs.kind === "move") {
      gs.moved ||= Math.hypot(e.clientX - gs.sx, e.clientY - gs.sy) > 4;
      if (!gs.moved) return;
      const p = this.vp.toWorld(e.clientX, e.clientY);
      const node = g.byId(this.nodes, gs.id);
      node.ui = { x: Math.round(p.x - gs.dx), y: Math.round(p.y - gs.dy) };
      this.drawLinks();
    } else if (gs.kind === "link") {
      gs.to = this.vp.toWorld(e.clientX, e.clientY);
      this.drawLinks();
    } else if (gs.kind === "pan") {
      gs.moved ||= Math.hypot(e.clientX - gs.sx, e.clientY - gs.sy) > 4;
      this.vp.panBy(e.clientX - gs.lx, e.clientY - gs.ly);
      gs.lx = e.clientX;
      gs.ly = e.clientY;
    }
  }

  onUp(e) {
    const gs = this.gesture;
    this.gesture = null;
    if (!gs) return;
    if (gs.kind === "move") {
      if (gs.moved) emit("spec", "layout");
      else set("selection", gs.id);
    } else if (gs.kind === "pan") {
      if (!gs.moved) set("selection", null);
    } else if (gs.kind === "link") {
      this.finishLink(gs.source, document.elementFromPoint(e.clientX, e.clientY));
      this.drawLinks();
    }
  }

  finishLink(source, target) {
    const box = target?.closest?.(".node");
    if (!box || box.dataset.id === source) return;
    const node = g.byId(this.nodes, box.dataset.id);
    const port = target.closest(".port.in");
    const slot = port ? Number(port.dataset.slot) : node.inputs.length;
    updateSpec(() => g.connect(this.nodes, this.kind(node.type), source, node.id, slot));
  }

  onDragOver(e) {
    if (e.dataTransfer?.types.includes(LAYER_MIME)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    }
  }

  onDrop(e) {
    const type = e.dataTransfer?.getData(LAYER_MIME);
    const kind = type && this.kind(type);
    if (!kind) return;
    e.preventDefault();
    const p = this.vp.toWorld(e.clientX, e.clientY);
    this.addLayer(kind, { ui: { x: Math.round(p.x - NODE_W / 2), y: Math.round(p.y - NODE_H / 2) } });
  }

  /** Add a layer (from a drop or a palette click); a click appends after the selected node and wires it. */
  addLayer(kind, { ui = null, after = null } = {}) {
    let added = null;
    updateSpec((spec) => {
      const anchor = ui ? after : after ?? g.lastSink(spec.model.nodes)?.id ?? null;
      added = g.addNode(spec.model.nodes, kind, { ui, after: anchor });
    });
    set("selection", added.id);
    // a click-added layer is placed by the layout (dropped ones stay where they were dropped)
    if (!ui) requestAnimationFrame(() => this.tidy());
    return added;
  }

  onClickLink(e) {
    const hit = e.target.closest(".link-hit");
    if (!hit) return false;
    updateSpec(() => g.disconnect(this.nodes, hit.dataset.to, Number(hit.dataset.slot)));
    return true;
  }

  onKey(e) {
    if (!store.selection || e.target.closest?.("input, select, textarea")) return;
    if (e.key === "Escape") set("selection", null);
    else if (e.key === "Delete" || e.key === "Backspace") this.removeSelected();
  }

  removeSelected() {
    const id = store.selection;
    if (!id) return;
    updateSpec(() => g.removeNode(this.nodes, id));
    set("selection", null);
  }
}
