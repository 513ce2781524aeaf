// Everything the page has received about one lab job: curves per variant, summary-plot points, loss profiles,
// per-layer gradient norms, the latest tensor per (kind, node), narrative log lines and the measured outcome.
// Pure data (no DOM): views read it and redraw when `version` moved.

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
const NOT_METRICS = new Set(["seq", "type", "kind", "variant", "x", "step", "epoch", "phase", "split", "examples",
  "lr", "round", "threshold"]);

function series() {
  return { step: [], loss: [], acc: [] };
}

/** The LabOutcome inside a summary frame or a job record, wherever the server put it. */
export function outcomeOf(body) {
  if (!body || typeof body !== "object") return null;
  for (const key of ["outcome", "lab", "result", "summary"]) {
    const inner = body[key];
    if (inner && typeof inner === "object" && "claim_holds" in inner) return inner;
  }
  return "claim_holds" in body ? body : null;
}

export class LabRun {
  constructor(labId, jobId = null) {
    this.labId = labId;
    this.jobId = jobId;
    this.status = "submitting";
    this.reason = null;
    this.message = null;
    this.startedAt = performance.now();
    this.endedAt = null;
    this.seconds = null; // the run's own duration, once the server reports it
    this.variants = new Map(); // name -> {train: steps, evalTrain, evalTest}
    this.summary = []; // summary_point events in arrival order
    this.profiles = new Map(); // variant -> {alpha: [], loss: []}
    this.gradNorms = new Map(); // variant -> {layers, norms, step}
    this.tensors = new Map(); // "kind|node" -> {header, values}
    this.logs = [];
    this.outcome = null;
    this.version = 0;
  }

  get ended() {
    return TERMINAL.has(this.status);
  }

  variant(name) {
    if (!this.variants.has(name)) {
      this.variants.set(name, { train: series(), evalTrain: series(), evalTest: series() });
    }
    return this.variants.get(name);
  }

  /** Apply one JSON frame of the job's stream (or of the polling fallback). */
  text(f) {
    this.version++;
    if (f.type === "status") return this.statusFrame(f);
    if (f.type === "metrics") return this.metrics(f);
    if (f.type === "log") {
      this.logs.push({ en: f.message ?? f.text ?? "", ja: f.message_ja ?? f.message ?? "" });
      return;
    }
    if (f.type === "summary") {
      this.outcome = outcomeOf(f) ?? this.outcome;
      if (typeof f.seconds === "number") this.seconds = f.seconds;
      return;
    }
    if (f.type === "error") {
      this.reason = f.reason ?? this.reason;
      this.message = f.message ?? this.message;
    }
  }

  statusFrame(f) {
    if (f.status) this.status = f.status;
    if (f.reason) this.reason = f.reason;
    if (f.message && !this.message && f.status === "failed") this.message = f.message;
    if (f.job) {
      this.outcome = outcomeOf(f.job.summary) ?? outcomeOf(f.job) ?? this.outcome;
      this.reason = f.job.reason ?? this.reason;
      if (f.job.started_at != null && f.job.finished_at != null) this.seconds = f.job.finished_at - f.job.started_at;
    }
    if (this.ended && this.endedAt == null) this.endedAt = performance.now();
  }

  metrics(f) {
    const kind = f.kind ?? "step";
    if (kind === "summary_point") {
      this.summary.push(f);
      return;
    }
    const name = f.variant ?? "run";
    if (kind === "profile") {
      if (!this.profiles.has(name)) this.profiles.set(name, { alpha: [], loss: [] });
      const p = this.profiles.get(name);
      p.alpha.push(f.alpha);
      p.loss.push(f.loss);
      return;
    }
    if (kind === "grad_norms") {
      if (Array.isArray(f.grad_norms)) this.gradNorms.set(name, { layers: f.layers ?? [], norms: f.grad_norms, step: f.step });
      return;
    }
    if (kind !== "step" && kind !== "eval") return;
    const v = this.variant(name);
    const s = kind === "eval" ? (f.split === "test" ? v.evalTest : v.evalTrain) : v.train;
    s.step.push(f.step ?? s.step.length);
    s.loss.push(f.loss ?? null);
    s.acc.push(f.accuracy ?? null);
  }

  tensor(header, values) {
    this.version++;
    this.tensors.set(`${header.kind}|${header.node ?? ""}`, { header, values });
  }

  /** The latest frames of any of `kinds`, in the order their nodes first arrived. */
  framesOf(...kinds) {
    const out = [];
    for (const [key, frame] of this.tensors) if (kinds.includes(key.split("|")[0])) out.push(frame);
    return out;
  }

  /** Seconds the run took (the server's count once it ended), or has been running so far. */
  elapsed() {
    if (this.ended && this.seconds != null) return this.seconds;
    return ((this.endedAt ?? performance.now()) - this.startedAt) / 1000;
  }

  /** The latest narrative line in `lang`. */
  lastLog(lang) {
    const line = this.logs.at(-1);
    return line ? line[lang] || line.en : "";
  }
}

const hasValues = (s, key) => s.step.length > 0 && s[key].some((v) => v != null);

/** Training-loss curve per variant: every step where streamed, else whole-split evaluations. */
export function lossCurves(run) {
  const out = [];
  for (const [name, v] of run.variants) {
    const s = [v.train, v.evalTrain, v.evalTest].find((c) => hasValues(c, "loss"));
    if (s) out.push({ name, x: s.step, y: s.loss });
  }
  return out;
}

/** Accuracy curve per variant: test evaluations where there are any, else training accuracy. */
export function accuracyCurves(run) {
  const out = [];
  for (const [name, v] of run.variants) {
    const s = [v.evalTest, v.evalTrain, v.train].find((c) => hasValues(c, "acc"));
    if (s) out.push({ name, x: s.step, y: s.acc, split: s === v.evalTest ? "test" : "train" });
  }
  return out;
}

// Which measured value a summary plot shows: the first of these a lab reports, then any number.
const PREFERRED = ["test_error", "test_accuracy", "ticket", "train_loss", "train_accuracy"];
const family = (m) => (/acc|ticket|reinit/.test(m) ? "accuracy" : /loss|error/.test(m) ? "loss" : m);

/**
 * How to draw a lab's summary points ({variant, x?, ...numbers}):
 * - numeric x and a variant seen more than once: one line per variant of the primary metric against x;
 * - numeric x, each variant once: one line per metric of the primary's family (ticket and re-init together);
 * - otherwise (a name or a single value on x) grouped bars, one group per variant, one bar per metric of the
 *   primary's family.
 */
export function summaryLayout(points) {
  if (!points.length) return null;
  const metrics = [];
  for (const p of points) {
    for (const [k, v] of Object.entries(p)) {
      if (!NOT_METRICS.has(k) && (typeof v === "number" || v === null) && !metrics.includes(k)) metrics.push(k);
    }
  }
  const primary = PREFERRED.find((m) => metrics.includes(m)) ?? metrics.find((m) => m !== "parameters");
  if (!primary) return null;
  const shown = metrics.filter((m) => m !== "parameters" && family(m) === family(primary));
  const threshold = points.find((p) => typeof p.threshold === "number")?.threshold ?? null;
  const numericX = points.every((p) => typeof p.x === "number") && new Set(points.map((p) => p.x)).size > 1;
  const names = [...new Set(points.map((p) => p.variant ?? ""))];
  if (numericX) {
    const xs = points.map((p) => p.x);
    const positive = xs.every((x) => x > 0);
    const xLog = positive && Math.max(...xs) / Math.min(...xs) >= 30;
    if (names.length < points.length) {
      const lines = names.map((name) => {
        const own = points.filter((p) => (p.variant ?? "") === name).sort((a, b) => a.x - b.x);
        return { name, x: own.map((p) => p.x), y: own.map((p) => p[primary] ?? null) };
      });
      return { type: "line", metric: primary, metrics: [primary], lines, xLog, threshold };
    }
    const sorted = [...points].sort((a, b) => a.x - b.x);
    const lines = shown.map((m) => ({ name: m, metric: m, x: sorted.map((p) => p.x), y: sorted.map((p) => p[m] ?? null) }));
    return { type: "line", metric: primary, metrics: shown, lines, xLog, threshold };
  }
  const groups = points.map((p) => ({ name: p.variant ?? String(p.x), values: shown.map((m) => p[m] ?? null) }));
  return { type: "bars", metric: primary, metrics: shown, groups, threshold };
}

/**
 * Measurements as display blocks: scalars as name/value rows; parallel arrays (widths with their test errors,
 * layers with their gradient norms) as one table whose header is the setting; a mapping of records with shared
 * keys (one record per variant) as a variants × metrics table; a nested record as a titled group of these.
 */
export function measurementBlocks(measurements) {
  return recordBlocks(measurements ?? {}, 0);
}

const isPrimitive = (v) => v == null || typeof v !== "object";
const isPrimitiveArray = (v) => Array.isArray(v) && v.every(isPrimitive);

function recordBlocks(obj, depth) {
  const blocks = [];
  const scalars = [];
  const entries = Object.entries(obj);
  const counts = new Map();
  for (const [, v] of entries) if (isPrimitiveArray(v) && v.length > 1) counts.set(v.length, (counts.get(v.length) ?? 0) + 1);
  const length = [...counts].filter(([, n]) => n >= 2).sort((a, b) => b[1] - a[1])[0]?.[0];
  const parallel = length ? entries.filter(([, v]) => isPrimitiveArray(v) && v.length === length) : [];
  if (parallel.length) {
    // the header is the setting the others were measured at: names, or whole numbers (widths, lengths)
    const head = parallel.find(([, v]) => v.every((x) => typeof x === "string"))
      ?? parallel.find(([, v]) => v.every((x) => Number.isInteger(x)));
    const rows = parallel.filter((e) => e !== head);
    blocks.push({ kind: "matrix", key: "", corner: head?.[0] ?? "", rowKind: "metric", colKind: "value",
      cols: head ? head[1].map(String) : rows[0][1].map((_, i) => `#${i + 1}`), rows: rows.map(([k]) => k),
      cells: rows.map(([, v]) => v) });
  }
  for (const [key, value] of entries) {
    if (parallel.some(([k]) => k === key)) continue;
    if (isPrimitive(value) || isPrimitiveArray(value)) {
      scalars.push([key, value]);
      continue;
    }
    const matrix = asMatrix(value);
    if (matrix) blocks.push({ kind: "matrix", key, ...matrix });
    else if (depth < 1 && isRecord(value)) blocks.push({ kind: "group", key, blocks: recordBlocks(value, depth + 1) });
    else blocks.push({ kind: "text", key, text: compactJson(value) });
  }
  if (scalars.length) blocks.unshift({ kind: "scalars", rows: scalars });
  return blocks;
}

function isRecord(v) {
  return v != null && typeof v === "object" && !Array.isArray(v);
}

/** A mapping (or list) of flat records: rows × the union of their keys. */
function asMatrix(value) {
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  if (!entries.length) return null;
  // long arrays inside the records (a loss profile per variant) are what the plots show: left out here
  const short = (x) => isPrimitive(x) || (isPrimitiveArray(x) && x.length <= 4);
  const flat = (v) => isRecord(v) && Object.values(v).every((x) => short(x) || isPrimitiveArray(x));
  if (entries.every(([, v]) => flat(v))) {
    const cols = [...new Set(entries.flatMap(([, v]) => Object.keys(v).filter((k) => short(v[k]))))];
    return { rows: entries.map(([k]) => k), cols, cells: entries.map(([, v]) => cols.map((c) => v[c])),
      rowKind: Array.isArray(value) ? "value" : "variant", colKind: "metric" };
  }
  return null;
}

function compactJson(value) {
  return JSON.stringify(value, (k, v) => (typeof v === "number" ? Number(formatNumber(v)) : v))
    .replaceAll(",", ", ").replaceAll(":", ": ");
}

/** A measured number as the outcome shows it: 4 significant digits, integers as they are. */
export function formatNumber(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return v == null ? "–" : String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}
