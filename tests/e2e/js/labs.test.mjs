// Pure labs-view logic: a lab job's frames into curves per variant, the summary plot's layout for each shape of
// summary points the labs emit, measurements as tables, variant names and groups.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LabRun, accuracyCurves, formatNumber, lossCurves, measurementBlocks, outcomeOf, summaryLayout }
  from "../../../frontend/js/labs/labrun.js";
import { Palette, splitVariant, variantLabel } from "../../../frontend/js/labs/names.js";

globalThis.performance ??= { now: () => Date.now() };

const metrics = (variant, step, fields) => ({ type: "metrics", variant, step, ...fields });

test("frames become one loss and one accuracy curve per variant", () => {
  const run = new LabRun("dropout", "job1");
  run.text({ type: "status", status: "running" });
  for (const step of [1, 2, 3]) {
    run.text(metrics("none/0", step, { kind: "step", split: "train", loss: 2 / step, accuracy: 0.1 * step }));
    run.text(metrics("inverted/0", step, { kind: "step", split: "train", loss: 3 / step, accuracy: null }));
  }
  run.text(metrics("none/0", 3, { kind: "eval", split: "test", loss: 0.9, accuracy: 0.7 }));
  run.text(metrics("none/0", 3, { kind: "eval", split: "train", loss: 0.5, accuracy: 0.9 }));
  const loss = lossCurves(run);
  assert.deepEqual(loss.map((c) => c.name), ["none/0", "inverted/0"]);
  assert.deepEqual(loss[0].x, [1, 2, 3]);
  assert.deepEqual(loss[1].y, [3, 1.5, 1]);
  const acc = accuracyCurves(run);
  // test evaluations win over training accuracy; a variant without any accuracy has no accuracy curve
  assert.deepEqual(acc.map((c) => [c.name, c.split, c.y]), [["none/0", "test", [0.7]]]);
  assert.equal(run.ended, false);
  run.text({ type: "status", status: "succeeded" });
  assert.equal(run.ended, true);
});

test("an eval-only lab (loss flatness) still draws its loss curves", () => {
  const run = new LabRun("loss_flatness");
  run.text(metrics("small_batch", 50, { kind: "eval", split: "train", loss: 0.4, accuracy: 0.9 }));
  run.text(metrics("small_batch", 0, { kind: "profile", alpha: -1, loss: 2 }));
  run.text(metrics("small_batch", 0, { kind: "profile", alpha: 0, loss: 0.4 }));
  assert.deepEqual(lossCurves(run)[0].y, [0.4]);
  assert.deepEqual(run.profiles.get("small_batch"), { alpha: [-1, 0], loss: [2, 0.4] });
  assert.equal(run.variants.has("profile"), false);
});

test("gradient norms, logs, tensors and the outcome are kept", () => {
  const run = new LabRun("vanishing_gradients");
  run.text(metrics("sigmoid", 10, { kind: "grad_norms", layers: ["h1", "out"], grad_norms: [1e-5, 0.1] }));
  run.text({ type: "log", message: "training", message_ja: "学習" });
  run.tensor({ kind: "landscape", node: "rosenbrock", seq: 4, shape: [2, 2] }, new Float32Array(4));
  run.tensor({ kind: "paths", node: "sgd", seq: 5, shape: [3, 2] }, new Float32Array(6));
  run.tensor({ kind: "paths", node: "sgd", seq: 9, shape: [4, 2] }, new Float32Array(8));
  assert.deepEqual(run.gradNorms.get("sigmoid").norms, [1e-5, 0.1]);
  assert.equal(run.lastLog("ja"), "学習");
  assert.equal(run.lastLog("en"), "training");
  assert.equal(run.framesOf("paths").length, 1, "latest frame per (kind, node)");
  assert.equal(run.framesOf("paths")[0].header.seq, 9);
  assert.deepEqual(run.framesOf("landscape", "paths").map((f) => f.header.kind), ["landscape", "paths"]);
  const outcome = { measurements: { a: 1 }, claim_holds: true, verdict: { en: "ok", ja: "よし" } };
  run.text({ type: "summary", seq: 10, ...outcome });
  assert.equal(run.outcome.claim_holds, true);
});

test("the outcome is found in a summary frame or a job record, wherever it sits", () => {
  const outcome = { measurements: {}, claim_holds: false, verdict: { en: "no", ja: "いいえ" } };
  assert.equal(outcomeOf({ type: "summary", ...outcome }).claim_holds, false);
  assert.equal(outcomeOf({ type: "summary", outcome }).verdict.ja, "いいえ");
  assert.equal(outcomeOf({ summary: outcome }).claim_holds, false);
  assert.equal(outcomeOf({ type: "summary", steps: 3 }), null);
  const run = new LabRun("x", "j");
  run.text({ type: "status", status: "succeeded", job: { status: "succeeded", summary: { outcome } } });
  assert.equal(run.outcome.verdict.en, "no");
});

test("summary layout: a variant measured at several settings gives one line per variant", () => {
  const pts = [];
  for (const cell of ["rnn", "lstm"]) for (const x of [10, 100]) pts.push({ variant: cell, x, test_accuracy: x === 10 ? 1 : 0.5 });
  const layout = summaryLayout(pts);
  assert.equal(layout.type, "line");
  assert.deepEqual(layout.lines.map((l) => l.name), ["rnn", "lstm"]);
  assert.deepEqual(layout.lines[0].x, [10, 100]);
  assert.equal(layout.xLog, false);
});

test("summary layout: a width sweep is one line on a log axis with its threshold", () => {
  const pts = [4, 16, 64, 256].map((x) => ({ variant: "test_error", x, parameters: x * 10, test_error: 0.5, threshold: 50 }));
  const layout = summaryLayout(pts);
  assert.equal(layout.type, "line");
  assert.equal(layout.metric, "test_error");
  assert.deepEqual(layout.metrics, ["test_error"], "parameter counts are not plotted as a metric");
  assert.equal(layout.xLog, true);
  assert.equal(layout.threshold, 50);
});

test("summary layout: lottery rounds plot the ticket and its random control together", () => {
  const pts = [{ variant: "dense", x: 0, round: 0, sparsity: 0, ticket: 0.95, reinit: null },
    { variant: "round_1", x: 0.5, round: 1, sparsity: 0.5, ticket: 0.94, reinit: 0.9 }];
  const layout = summaryLayout(pts);
  assert.equal(layout.type, "line");
  assert.deepEqual(layout.lines.map((l) => l.name), ["ticket", "reinit"]);
  assert.deepEqual(layout.lines[1].y, [null, 0.9]);
});

test("summary layout: named settings, or one shared x, become grouped bars", () => {
  const acts = summaryLayout([{ variant: "relu", x: "relu", train_loss: 0.1, test_accuracy: 0.9 },
    { variant: "sigmoid", x: "sigmoid", train_loss: 2.3, test_accuracy: 0.1 }]);
  assert.equal(acts.type, "bars");
  assert.deepEqual(acts.metrics, ["test_accuracy"]);
  assert.deepEqual(acts.groups.map((g) => g.name), ["relu", "sigmoid"]);
  const drop = summaryLayout([{ variant: "none", train_accuracy: 1, test_accuracy: 0.7, gap: 0.3 }]);
  assert.deepEqual(drop.metrics, ["train_accuracy", "test_accuracy"]);
  const transfer = summaryLayout(["pretrained", "scratch"].map((v) => ({ variant: v, x: 5, test_accuracy: 0.8 })));
  assert.equal(transfer.type, "bars");
  assert.equal(summaryLayout([]), null);
});

test("measurements become name/value rows, tables by setting or by variant, and groups", () => {
  const blocks = measurementBlocks({
    steps: 400, lengths: [10, 100],
    widths: [2, 4, 8], train_loss: [1.9, 0.5, 0.01], train_accuracy: [0.3, 0.8, 1],
    results: { none: { train: 1, test: 0.7 }, inverted: { train: 0.9, test: 0.8 } },
    rounds: [{ round: 0, ticket: 0.9 }, { round: 1, ticket: 0.8 }],
    sigmoid: { layers: ["h1", "out"], grad_norms: [1e-5, 0.5], first_over_last: 2e-5 },
    deep: { a: { b: { c: { d: 1 } } } },
    per_seed: { pretrained: [0.64, 0.7], random: [0.58, 0.49] },
  });
  assert.deepEqual(blocks.map((b) => b.kind), ["scalars", "matrix", "matrix", "matrix", "group", "group", "group"]);
  assert.deepEqual(blocks[0].rows, [["steps", 400], ["lengths", [10, 100]]]);
  // parallel arrays: the setting is the header, each measured array a row
  assert.equal(blocks[1].corner, "widths");
  assert.deepEqual(blocks[1].cols, ["2", "4", "8"]);
  assert.deepEqual(blocks[1].rows, ["train_loss", "train_accuracy"]);
  // one record per variant: variants × metrics
  assert.deepEqual(blocks[2].rows, ["none", "inverted"]);
  assert.deepEqual(blocks[2].cells[1], [0.9, 0.8]);
  assert.deepEqual(blocks[3].rows, ["0", "1"]);
  // a variant's own record: its layers head a table of its gradient norms, its scalars stay rows
  const sigmoid = blocks[4].blocks;
  assert.deepEqual(sigmoid.map((b) => b.kind), ["scalars", "matrix"]);
  assert.equal(sigmoid[1].corner, "layers");
  assert.deepEqual(sigmoid[1].cols, ["h1", "out"]);
  assert.deepEqual(blocks[5].blocks.map((b) => b.kind), ["text"]);
  // arrays of measured values only (one per seed): numbered columns, every array a row
  const perSeed = blocks[6].blocks[0];
  assert.deepEqual([perSeed.corner, perSeed.cols, perSeed.rows], ["", ["#1", "#2"], ["pretrained", "random"]]);
  assert.equal(formatNumber(0.123456), "0.1235");
  assert.equal(formatNumber(0.00001234), "1.23e-5");
  assert.equal(formatNumber(12), "12");
  assert.equal(formatNumber(null), "–");
});

test("variant names: seeds group under their variant, conditions stay apart, colours are stable", () => {
  assert.deepEqual(splitVariant("none/2"), { group: "none", replicate: "2" });
  assert.deepEqual(splitVariant("deep/jump/0"), { group: "deep/jump", replicate: "0" });
  assert.deepEqual(splitVariant("rnn/T=50"), { group: "rnn/T=50", replicate: null });
  assert.equal(variantLabel("bottleneck_8"), "ボトルネック 8");
  assert.equal(variantLabel("something_new"), "something new");
  const p = new Palette();
  const a = p.color("relu");
  assert.notEqual(p.color("tanh"), a);
  assert.equal(p.color("relu"), a);
});
