// Pure operations on the model DAG ({id, type, params, inputs, ui}); no DOM here so they stay easy to reason about.

const ID_RE = /^[a-z][a-z0-9_]{0,47}$/;

/** A fresh node id from the layer type: dense1, dense2, ... (lower snake_case, as the API requires). */
export function newId(nodes, type) {
  const base = type.replace(/[^a-z0-9_]/g, "").slice(0, 40) || "node";
  const taken = new Set(nodes.map((n) => n.id));
  for (let i = 1; ; i++) {
    const id = `${base}${i}`;
    if (!taken.has(id) && ID_RE.test(id)) return id;
  }
}

export function byId(nodes, id) {
  return nodes.find((n) => n.id === id) ?? null;
}

export function consumers(nodes, id) {
  return nodes.filter((n) => n.inputs.includes(id));
}

/** The last node (in spec order) that nothing consumes: where a clicked layer is appended by default. */
export function lastSink(nodes) {
  return [...nodes].reverse().find((n) => consumers(nodes, n.id).length === 0) ?? null;
}

/** True when `to` can reach... i.e. wiring from -> to would close a cycle (from is downstream of to). */
export function wouldCycle(nodes, from, to) {
  if (from === to) return true;
  const seen = new Set();
  const stack = [to];
  while (stack.length) {
    const cur = stack.pop();
    if (cur === from) return true;
    if (seen.has(cur)) continue;
    seen.add(cur);
    for (const c of consumers(nodes, cur)) stack.push(c.id);
  }
  return false;
}

/** Maximum number of input slots a kind accepts (null in the catalogue = unbounded; the spec caps at 16). */
export function maxInputs(kind) {
  return kind?.max_inputs == null ? 16 : kind.max_inputs;
}

/** Add a node of `kind`. With `after`, the new node takes `after` as input and `after`'s consumers move to it. */
export function addNode(nodes, kind, { after = null, ui = null } = {}) {
  const node = {
    id: newId(nodes, kind.type),
    type: kind.type,
    params: structuredClone(kind.defaults ?? {}),
    inputs: [],
    ui: ui ?? { x: 0, y: 0 },
  };
  const prev = after ? byId(nodes, after) : null;
  if (prev && maxInputs(kind) > 0) {
    for (const c of consumers(nodes, prev.id)) c.inputs = c.inputs.map((i) => (i === prev.id ? node.id : i));
    node.inputs = [prev.id];
    if (!ui) node.ui = { x: prev.ui.x, y: prev.ui.y + GRID.dy };
  }
  nodes.push(node);
  return node;
}

/** Wire from -> to at input slot `slot` (append when slot is past the end). Returns false if refused. */
export function connect(nodes, kind, from, to, slot) {
  const target = byId(nodes, to);
  if (!target || !byId(nodes, from) || wouldCycle(nodes, from, to)) return false;
  const max = maxInputs(kind);
  if (max === 0) return false;
  if (max === 1) {
    target.inputs = [from];
    return true;
  }
  if (slot < target.inputs.length) target.inputs[slot] = from;
  else if (target.inputs.length < max) target.inputs.push(from);
  else return false;
  return true;
}

export function disconnect(nodes, to, slot) {
  const target = byId(nodes, to);
  if (target) target.inputs.splice(slot, 1);
}

/** Remove a node; a node with one input is bridged so a chain stays a chain. */
export function removeNode(nodes, id) {
  const idx = nodes.findIndex((n) => n.id === id);
  if (idx < 0) return;
  const [gone] = nodes.splice(idx, 1);
  const bridge = gone.inputs.length === 1 ? gone.inputs[0] : null;
  for (const n of nodes) {
    if (!n.inputs.includes(id)) continue;
    n.inputs = bridge && !n.inputs.includes(bridge)
      ? n.inputs.map((i) => (i === id ? bridge : i))
      : n.inputs.filter((i) => i !== id);
  }
}

/** Rename a node and every reference to it. */
export function renameNode(nodes, from, to) {
  if (!ID_RE.test(to) || byId(nodes, to)) return false;
  for (const n of nodes) {
    if (n.id === from) n.id = to;
    n.inputs = n.inputs.map((i) => (i === from ? to : i));
  }
  return true;
}

/** Longest-path depth of every node from the inputs (cycles and dangling ids are tolerated). */
export function depths(nodes) {
  const ids = new Set(nodes.map((n) => n.id));
  const depth = new Map();
  const visiting = new Set();
  const visit = (n) => {
    if (depth.has(n.id)) return depth.get(n.id);
    if (visiting.has(n.id)) return 0;
    visiting.add(n.id);
    let d = 0;
    for (const i of n.inputs) if (ids.has(i)) d = Math.max(d, visit(byId(nodes, i)) + 1);
    visiting.delete(n.id);
    depth.set(n.id, d);
    return d;
  };
  for (const n of nodes) visit(n);
  return depth;
}

export const GRID = { dx: 168, dy: 78, x0: 24, y0: 24, bandGap: 40 };

/**
 * Rows by depth (the network flows top to bottom), siblings side by side in spec order: a readable drawing of
 * any DAG. When there are more rows than `maxRows`, the drawing continues in a new band to the right so deep
 * stacks stay legible.
 */
export function autoLayout(nodes, maxRows = Infinity) {
  const depth = depths(nodes);
  const rows = new Map();
  for (const n of nodes) {
    const d = depth.get(n.id);
    if (!rows.has(d)) rows.set(d, []);
    rows.get(d).push(n);
  }
  const per = Math.max(3, Math.min(maxRows, rows.size));
  const widest = Math.max(1, ...[...rows.values()].map((r) => r.length));
  const bandW = widest * GRID.dx + GRID.bandGap;
  for (const [d, row] of rows) {
    const band = Math.floor(d / per);
    const y = GRID.y0 + (d % per) * GRID.dy;
    const offset = ((widest - row.length) * GRID.dx) / 2;
    row.forEach((n, i) => {
      n.ui = { x: GRID.x0 + band * bandW + offset + i * GRID.dx, y };
    });
  }
}

export function needsLayout(nodes) {
  return nodes.some((n) => !n.ui || typeof n.ui.x !== "number" || typeof n.ui.y !== "number");
}
