// Train / Stop and following the watched run: submit the edited spec, stream its events into a RunData,
// replay a past run from seq 0, cancel.
import { ApiError, api, specError } from "../api.js";
import { pick, t } from "../i18n.js";
import { jobSpec } from "../spec.js";
import { emit, set, store } from "../store.js";
import { toast } from "../toast.js";
import { validateNow } from "../validation.js";
import { RunData } from "./rundata.js";
import { session, runChanged } from "./session.js";
import { JobStream, isTerminal } from "./stream.js";

let stream = null;

/** Follow job `id` from its first frame (live, or a replay of a finished run) as the watched run. */
export function watch(id, spec, { label = null } = {}) {
  stream?.close();
  const run = new RunData(id, spec);
  run.label = label;
  session.current = run;
  runChanged();
  stream = new JobStream(id, {
    afterSeq: -1,
    onText: (f) => {
      run.text(f);
      runChanged();
    },
    onTensor: (header, values) => {
      run.tensor(header, values);
      runChanged();
    },
    onEnd: () => {
      run.ended = true;
      runChanged();
      emit("jobs:changed");
    },
  });
  return run;
}

export async function train() {
  const v = await validateNow();
  if (v.state === "error") {
    toast(t("error.train", { msg: v.error?.message ?? "" }), { error: true });
    return null;
  }
  set("submitting", true);
  try {
    const spec = jobSpec(store.spec);
    spec.name ||= defaultName(spec);
    const job = await api.submit(spec);
    const run = watch(job.id, spec, { label: spec.name || null });
    run.text({ type: "status", status: job.status ?? "queued", queue_position: job.queue_position ?? null });
    runChanged();
    emit("jobs:changed");
    return run;
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) {
      const e = specError(err.body);
      set("validation", { ...store.validation, state: "error", error: e });
    }
    toast(t("error.train", { msg: err.message }), { error: true });
    return null;
  } finally {
    set("submitting", false);
  }
}

/** A readable run name when the user gave none: data set and layer count (the run list shows the time). */
function defaultName(spec) {
  const info = store.catalogue.datasetByName.get(spec.data.dataset);
  const title = info ? pick(info.title) : spec.data.dataset;
  const layers = spec.model.nodes.filter((n) => n.type !== "input").length;
  return `${title} · ${t("runs.layers", { n: layers })}`;
}

export async function stop() {
  const run = session.current;
  if (!run || isTerminal(run.status)) return;
  try {
    await api.cancel(run.id);
  } catch (err) {
    toast(err.message, { error: true });
  }
  emit("jobs:changed");
}

export function isActive(run) {
  return Boolean(run) && !isTerminal(run.status) && !run.ended;
}
