// Everything the page has received about one run: scalar curves, gradient norms, the latest heavy frame per
// (kind, node), its status. Views read it; `version` tells them whether anything changed since they drew.
import { expandSteps } from "./steps.js";

export class RunData {
  constructor(id, spec = null) {
    this.id = id;
    this.spec = spec;
    this.status = "queued";
    this.reason = null;
    this.queuePosition = null;
    this.totalSteps = null;
    this.epochs = spec?.train?.epochs ?? null;
    this.epoch = 0;
    this.step = 0;
    // batch: every optimizer step; train/test: whole-split evaluations (per epoch or every eval_every steps)
    this.series = {
      batch: { step: [], loss: [], acc: [] },
      train: { step: [], loss: [], acc: [] },
      test: { step: [], loss: [], acc: [] },
    };
    this.grad = { steps: [], nodes: [], rows: new Map() };
    this.heavy = new Map();
    this.summary = null;
    this.logs = [];
    this.version = 0;
  }

  get progress() {
    if (this.status === "succeeded") return 1;
    if (this.totalSteps) return Math.min(1, this.step / this.totalSteps);
    if (this.epochs) return Math.min(1, this.epoch / this.epochs);
    return 0;
  }

  /** Apply one text frame. */
  text(f) {
    this.version++;
    if (f.type === "status") return this.statusFrame(f);
    if (f.type === "metrics") return this.metrics(f);
    if (f.type === "summary") {
      this.summary = f;
      return;
    }
    if (f.type === "log") this.logs.push(f.message ?? f.text ?? "");
    if (f.type === "error") {
      this.reason = f.reason ?? f.message ?? this.reason;
      this.logs.push(f.message ?? "");
    }
  }

  statusFrame(f) {
    if (f.status) this.status = f.status;
    if ("queue_position" in f) this.queuePosition = f.queue_position;
    if (f.reason) this.reason = f.reason;
    this.totalSteps = f.total_steps ?? f.steps_total ?? this.totalSteps;
    this.epochs = f.epochs ?? this.epochs;
  }

  metrics(f) {
    if (f.kind === "layers") {
      // per-layer statistics: gradient norms (gradient flow) and activation statistics
      if (f.grad_norms) this.gradients(f.step ?? this.step, f.grad_norms);
      if (f.activations) this.layerStats = { step: f.step, values: f.activations };
      return;
    }
    if (f.kind === "steps") {
      for (const row of expandSteps(f)) this.metrics(row); // fast steps sent together: a point per step
      return;
    }
    const evaluation = f.kind === "eval";
    const name = evaluation ? (f.split === "train" ? "train" : "test") : "batch";
    const s = this.series[name];
    const step = f.step ?? (s.step.length ? s.step.at(-1) + 1 : 0);
    s.step.push(step);
    s.loss.push(f.loss ?? null);
    s.acc.push(f.accuracy ?? f.acc ?? null);
    this.step = Math.max(this.step, step);
    if (f.epoch != null) this.epoch = Math.max(this.epoch, f.epoch);
    this.totalSteps = f.total_steps ?? this.totalSteps;
    const norms = f.grad_norms ?? f.gradient_norms ?? f.grads;
    if (norms && typeof norms === "object") this.gradients(step, norms);
  }

  gradients(step, norms) {
    const g = this.grad;
    for (const node of Object.keys(norms)) {
      if (!g.rows.has(node)) {
        g.nodes.push(node);
        g.rows.set(node, new Array(g.steps.length).fill(null));
      }
    }
    g.steps.push(step);
    for (const node of g.nodes) g.rows.get(node).push(norms[node] ?? null);
  }

  tensor(header, values) {
    this.version++;
    const key = `${header.kind}|${header.node ?? ""}`;
    this.heavy.set(key, { header, values, at: performance.now() });
  }

  /** Latest frames of a kind, in arrival order of their nodes. */
  framesOf(kind) {
    const out = [];
    for (const [k, v] of this.heavy) if (k.startsWith(`${kind}|`)) out.push(v);
    return out;
  }

  kinds() {
    return new Set([...this.heavy.keys()].map((k) => k.split("|")[0]));
  }
}
