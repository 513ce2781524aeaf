// A run's frames into its curves: fast steps sent together as one `steps` frame of columns give the same
// per-step points as the same steps sent one frame each (training/step_frames.py writes both forms).
import assert from "node:assert/strict";
import { test } from "node:test";
import { RunData } from "../../../frontend/js/jobs/rundata.js";

globalThis.performance ??= { now: () => Date.now() };

const step = (s, loss, accuracy) => ({ type: "metrics", kind: "step", step: s, epoch: 1, loss, accuracy, lr: 0.01,
                                        examples: 16 * s, phase: "train", split: "train" });

test("a steps frame draws one point per step, like step frames", () => {
  const single = new RunData("a");
  const batched = new RunData("b");
  const rows = [step(1, 0.9, 0.5), step(2, 0.8, null), step(3, 0.7, 0.75)];
  single.text(rows[0]);
  batched.text(rows[0]);
  for (const r of rows.slice(1)) single.text(r);
  batched.text({ type: "metrics", kind: "steps", phase: "train", split: "train", step: [2, 3], epoch: [1, 2],
                 loss: [0.8, 0.7], accuracy: [null, 0.75], lr: [0.01, 0.01], examples: [32, 48] });
  assert.deepEqual(batched.series.batch, single.series.batch);
  assert.deepEqual(batched.series.batch.step, [1, 2, 3]);
  assert.deepEqual(batched.series.batch.acc, [0.5, null, 0.75]);
  assert.equal(batched.step, 3);
  assert.equal(batched.epoch, 2);
  assert.deepEqual(batched.series.test.step, []);
});

test("a sweep member's steps frame becomes one curve point per step", async () => {
  const { memberFrames } = await import("../../../frontend/js/studies/model.js");
  const frame = { type: "metrics", seq: 9, kind: "steps", phase: "train", split: "train", step: [4, 5],
                  epoch: [1, 1], loss: [0.5, 0.4], accuracy: [0.6, 0.7], lr: [0.1, 0.1], examples: [4, 5] };
  const rows = memberFrames(frame, [], "adam");
  assert.deepEqual(rows.map((r) => [r.kind, r.step, r.loss, r.variant, r.seq]),
                   [["step", 4, 0.5, "adam", 9], ["step", 5, 0.4, "adam", 9]]);
  assert.deepEqual(memberFrames({ type: "metrics", kind: "eval", step: 5, loss: 0.3 }, [], "adam").length, 1);
});
