// Pure editor logic: ids, wiring, cycles, removal with bridging, layout without overlaps.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as g from "../../../frontend/js/editor/graph.js";

const kind = (type, max = 1, defaults = {}) => ({ type, max_inputs: max, min_inputs: max ? 1 : 0, defaults });
const INPUT = kind("input", 0, { shape: [2] });
const DENSE = kind("dense", 1, { units: 16 });
const ADD = { type: "add", max_inputs: null, min_inputs: 2, defaults: {} };

function chain() {
  const nodes = [];
  const input = g.addNode(nodes, INPUT);
  const d1 = g.addNode(nodes, DENSE, { after: input.id });
  const d2 = g.addNode(nodes, DENSE, { after: d1.id });
  return { nodes, input, d1, d2 };
}

test("ids are lower snake case, unique per type", () => {
  const { nodes, d1, d2 } = chain();
  assert.equal(d1.id, "dense1");
  assert.equal(d2.id, "dense2");
  assert.equal(g.newId(nodes, "multihead_self_attention"), "multihead_self_attention1");
  for (const n of nodes) assert.match(n.id, /^[a-z][a-z0-9_]{0,47}$/);
});

test("appending after a node wires it and moves that node's consumers to the new one", () => {
  const { nodes, input, d1, d2 } = chain();
  assert.deepEqual(d1.inputs, [input.id]);
  assert.deepEqual(d2.inputs, [d1.id]);
  const mid = g.addNode(nodes, DENSE, { after: d1.id });
  assert.deepEqual(mid.inputs, [d1.id]);
  assert.deepEqual(d2.inputs, [mid.id]);
  assert.equal(g.lastSink(nodes).id, d2.id);
  assert.deepEqual(d1.params, { units: 16 });
  d1.params.units = 3;
  assert.equal(DENSE.defaults.units, 16, "defaults are copied, not shared");
});

test("connect refuses cycles and self-loops, respects max inputs, fills multi-input slots in order", () => {
  const { nodes, input, d1, d2 } = chain();
  assert.equal(g.connect(nodes, DENSE, d2.id, d1.id, 0), false, "d2 -> d1 would close a cycle");
  assert.equal(g.connect(nodes, DENSE, d1.id, d1.id, 0), false);
  const add = g.addNode(nodes, ADD, { ui: { x: 0, y: 0 } });
  assert.ok(g.connect(nodes, ADD, d2.id, add.id, 0));
  assert.ok(g.connect(nodes, ADD, input.id, add.id, 5));
  assert.deepEqual(add.inputs, [d2.id, input.id]);
  assert.ok(g.connect(nodes, ADD, d1.id, add.id, 1));
  assert.deepEqual(add.inputs, [d2.id, d1.id], "an occupied slot is rewired");
  assert.ok(g.connect(nodes, DENSE, input.id, d2.id, 3));
  assert.deepEqual(d2.inputs, [input.id], "a one-input layer has one slot");
  assert.equal(g.connect(nodes, INPUT, d1.id, input.id, 0), false, "inputs take no inputs");
});

test("removing a layer of a chain bridges its consumer to its input; renaming updates references", () => {
  const { nodes, input, d2 } = chain();
  g.removeNode(nodes, "dense1");
  assert.deepEqual(d2.inputs, [input.id]);
  assert.ok(g.renameNode(nodes, input.id, "x_in"));
  assert.deepEqual(d2.inputs, ["x_in"]);
  assert.equal(g.renameNode(nodes, "x_in", "Bad Id"), false);
  assert.equal(g.renameNode(nodes, "x_in", "dense2"), false, "ids stay unique");
});

test("layout puts each depth on its own row, never two nodes on one spot, and wraps deep stacks", () => {
  const nodes = [];
  let last = g.addNode(nodes, INPUT);
  for (let i = 0; i < 11; i++) last = g.addNode(nodes, DENSE, { after: last.id });
  const side = g.addNode(nodes, DENSE, { ui: { x: 0, y: 0 } }); // a branch beside dense4, off dense3
  assert.ok(g.connect(nodes, DENSE, "dense3", side.id, 0));
  g.autoLayout(nodes, 6);
  const spots = new Set(nodes.map((n) => `${n.ui.x},${n.ui.y}`));
  assert.equal(spots.size, nodes.length);
  const depth = g.depths(nodes);
  assert.equal(depth.get(side.id), depth.get("dense4"));
  assert.equal(g.byId(nodes, "dense4").ui.y, side.ui.y, "siblings share a row");
  assert.ok(g.byId(nodes, "dense6").ui.x > g.byId(nodes, "dense1").ui.x, "row 7+ wraps into a second band");
  assert.equal(g.needsLayout(nodes), false);
});
