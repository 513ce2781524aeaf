// Fast training steps travel together as one `steps` metrics frame of columns (training/step_frames.py); a
// reader that draws one point per step expands it here into the `step` frames it replaces.
const COLUMNS = ["step", "epoch", "loss", "accuracy", "lr", "examples"];

/** A `steps` frame as one `step` frame per step (with the frame's seq, phase, split); any other frame as is. */
export function expandSteps(f) {
  if (f?.kind !== "steps") return [f];
  const n = f.step?.length ?? 0;
  const shared = { ...f, kind: "step" };
  return Array.from({ length: n }, (_, i) => {
    const row = { ...shared };
    for (const c of COLUMNS) row[c] = f[c]?.[i] ?? null;
    return row;
  });
}
