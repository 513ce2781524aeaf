// The runs the page is showing: the watched run (editor's job or a replay) and runs overlaid on the charts.
import { emit } from "../store.js";

export const session = {
  current: null, // RunData
  overlays: new Map(), // job id -> {run: RunData, color}
};

export const OVERLAY_COLORS = ["#9b59b6", "#2f9e5b", "#d64545", "#16a2b8", "#c0a020", "#e377c2", "#546f94"];

export function runChanged() {
  emit("run", session.current);
}
