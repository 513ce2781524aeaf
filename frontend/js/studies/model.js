// A study as the page builds and reads it (pure data, no DOM): the settings one may vary, the typed values
// typed into the form, the request body, a batched job's per-member frames split into one frame per member, and
// the summary points the labs view's summary layout draws.
import { expandSteps } from "../jobs/steps.js";

export const OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"];

/** The settings a sweep may vary for this spec: optimizer, learning rate, seed, the width of each dense node. */
export function sweepChoices(spec) {
  const choices = [
    { path: "train.optimizer.name", kind: "optimizer" },
    { path: "train.optimizer.lr", kind: "lr" },
    { path: "train.seed", kind: "seed" },
  ];
  for (const node of spec?.model?.nodes ?? []) {
    if (node.type === "dense") choices.push({ path: `nodes.${node.id}.params.units`, kind: "units", node: node.id });
  }
  return choices;
}

/** The value the base spec has at a dotted path (shown as the form's hint), or undefined. */
export function valueAt(spec, path) {
  let cur = spec;
  const parts = path.split(".");
  if (parts[0] === "nodes") {
    cur = (spec?.model?.nodes ?? []).find((n) => n.id === parts[1]);
    parts.splice(0, 2);
  }
  for (const p of parts) cur = cur == null ? undefined : cur[p];
  return cur;
}

/**
 * Comma-separated text as the values of a setting: names for the optimizer, positive numbers for the learning
 * rate, whole numbers for the seed and widths. Returns {values} or {error: {key, value}} naming the bad entry.
 */
export function parseValues(kind, text) {
  const items = String(text).split(/[,、，]/).map((x) => x.trim()).filter((x) => x !== "");
  if (items.length < 2) return { error: { key: "study.err.two" } };
  const values = [];
  for (const item of items) {
    let v = item;
    if (kind === "optimizer") {
      if (!OPTIMIZERS.includes(item)) return { error: { key: "study.err.value", value: item } };
    } else {
      v = Number(item);
      const whole = kind === "seed" || kind === "units";
      if (!Number.isFinite(v) || (whole && !Number.isInteger(v)) || (kind !== "seed" && v <= 0) || v < 0) {
        return { error: { key: "study.err.value", value: item } };
      }
    }
    if (values.includes(v)) return { error: { key: "study.err.repeat", value: item } };
    values.push(v);
  }
  return { values };
}

/** The POST /api/studies body: the current spec as base, one varied setting. */
export function studyRequest(base, path, values, name = null) {
  const body = { base, vary: { path, values } };
  if (name) body.name = name;
  return body;
}

/** A member's curve name: the value it was given (the legend shows it). */
export function memberName(member, path) {
  const v = member.values?.[path];
  return v === undefined ? member.label : String(v);
}

/**
 * One metrics frame of a study job as frames of single members (`variant` = member name): a batched job's frame
 * carries one value per member (`losses`, `accuracies`); a separate job's frame belongs to member `own`.
 */
export function memberFrames(frame, names, own = null) {
  if (frame?.type !== "metrics") return [];
  if (own != null) return expandSteps(frame).map((f) => ({ ...f, variant: own }));
  if (!Array.isArray(frame.losses)) return [];
  return names.map((name, i) => ({ type: "metrics", kind: frame.kind, step: frame.step, epoch: frame.epoch,
    split: frame.split, loss: frame.losses[i] ?? null, accuracy: frame.accuracies?.[i] ?? null, variant: name }));
}

/** The study's summary plot as the labs view's summary points ({x, <metric>}), finished members only. */
export function summaryPoints(plot) {
  if (!plot) return [];
  return plot.points.filter((p) => p.y != null).map((p) => ({ x: p.x, [plot.metric]: p.y }));
}
