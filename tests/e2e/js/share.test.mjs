// The share URL / exported file round-trip, the series alignment for charts, and float16 decoding.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeValues } from "../../../frontend/js/jobs/frames.js";
import { decodeState, encodeState, parseState } from "../../../frontend/js/share.js";
import { normaliseSpec } from "../../../frontend/js/spec.js";
import { joinSeries } from "../../../frontend/js/views/series.js";

const SPEC = {
  name: "らせん · spiral ✓",
  model: { nodes: [
    { id: "x", type: "input", params: { shape: [2] }, inputs: [], ui: { x: 10, y: 20 } },
    { id: "h", type: "dense", params: { units: 8 }, inputs: ["x"], ui: { x: 10, y: 100 } },
  ] },
  data: { dataset: "spiral", noise: 0.1 },
  train: { optimizer: { name: "sgd", lr: 0.0042 }, epochs: 3 },
  probes: {},
};

test("state survives the base64url share token, Japanese text included", () => {
  const token = encodeState(SPEC);
  assert.match(token, /^[A-Za-z0-9_-]+$/, "URL-safe, no padding");
  assert.deepEqual(decodeState(token), SPEC);
});

test("an exported file or a bare spec.json both import; junk is refused", () => {
  assert.deepEqual(parseState(JSON.stringify({ v: 1, spec: SPEC })), SPEC);
  assert.deepEqual(parseState(JSON.stringify(SPEC)), SPEC);
  assert.throws(() => parseState("{\"hello\": 1}"), /model\.nodes/);
  assert.throws(() => parseState("not json"));
});

test("a spec without positions gets a layout and the missing sections", () => {
  const bare = { model: { nodes: [{ id: "x", type: "input" }, { id: "y", type: "dense", inputs: ["x"] }] } };
  const spec = normaliseSpec(bare);
  assert.ok(spec.model.nodes.every((n) => typeof n.ui.x === "number" && typeof n.ui.y === "number"));
  assert.deepEqual(spec.data, { dataset: "spiral" });
  assert.deepEqual(spec.model.nodes[0].params, {});
  assert.equal(bare.model.nodes[0].ui, undefined, "the input is not modified");
});

test("curves with their own steps align on one x axis with gaps as null", () => {
  const [x, a, b] = joinSeries([{ x: [0, 1, 2, 3], y: [4, 3, 2, 1] }, { x: [1, 3], y: [9, 8] }]);
  assert.deepEqual(x, [0, 1, 2, 3]);
  assert.deepEqual(a, [4, 3, 2, 1]);
  assert.deepEqual(b, [null, 9, null, 8]);
});

test("float16 and quantised uint8 payloads decode to their values", () => {
  const half = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00]); // 1, -2, ~0.3333, 2^-24, inf
  const v = decodeValues(half.buffer, 0, "float16");
  assert.equal(v[0], 1);
  assert.equal(v[1], -2);
  assert.ok(Math.abs(v[2] - 1 / 3) < 1e-3);
  assert.equal(v[3], 2 ** -24);
  assert.equal(v[4], Infinity);
  const u = decodeValues(new Uint8Array([0, 255, 51]).buffer, 0, "uint8", { scale: 1 / 255 });
  assert.deepEqual(Array.from(u, (x) => Math.round(x * 100) / 100), [0, 1, 0.2]);
});
