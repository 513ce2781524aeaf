// The right panel: the live views that fit the network being edited (boundary and neuron maps for 2-D data,
// feature maps and filters for CNNs, attention and gates for sequence models; curves and gradient flow always).
// Any heavy frame kind that arrives also shows its view, so nothing streamed goes unseen.
import { onLangChange } from "../i18n.js";
import { requestDraw } from "../frame.js";
import { session } from "../jobs/session.js";
import { on, store } from "../store.js";
import { BoundaryView } from "./boundary.js";
import { CurvesView } from "./curves.js";
import { ActivationView, FiltersView } from "./maps.js";
import { AttentionView, GatesView } from "./sequence.js";
import { ConfusionView, GradFlowView, HistogramView, ReconView } from "./stats.js";
import { KINDS } from "./tile.js";

const CONV = new Set(["conv1d", "conv2d", "fixed_filter2d"]);
const ATTENTION = new Set(["attention", "multihead_self_attention", "transformer_encoder_block",
  "transformer_decoder_block"]);

/** Which views the current spec calls for (before any frame arrives). */
export function wantedViews(spec, signature) {
  const types = new Set(spec?.model.nodes.map((n) => n.type) ?? []);
  const fields = signature?.fields ? Object.values(signature.fields) : [];
  const twoD = fields.length === 1 && fields[0].shape.length === 1 && fields[0].shape[0] === 2
    && fields[0].dtype !== "long";
  const want = new Set(["curves", "gradflow", "histograms"]);
  // on 2-D data the per-neuron maps over the input plane show the hidden units (TF-Playground style)
  want.add(twoD ? "boundary" : "activations");
  if ([...types].some((t) => CONV.has(t))) want.add("filters");
  if ([...types].some((t) => ATTENTION.has(t))) want.add("attention");
  if (types.has("lstm")) want.add("gates");
  if (spec?.train?.target === "input") want.add("recon");
  if (signature?.task === "classification") want.add("confusion");
  return want;
}

const ORDER = ["curves", "boundary", "attention", "activations", "filters", "gates", "recon", "gradflow",
  "confusion", "histograms"];

export class ViewsPanel {
  constructor(host) {
    this.host = host;
    this.views = {
      curves: new CurvesView(),
      boundary: new BoundaryView(),
      attention: new AttentionView(),
      activations: new ActivationView(),
      filters: new FiltersView(),
      gates: new GatesView(),
      recon: new ReconView(),
      gradflow: new GradFlowView(),
      confusion: new ConfusionView(),
      histograms: new HistogramView(),
    };
    for (const name of ORDER) for (const tl of this.views[name].tiles) host.append(tl);
    this.drawFn = () => this.draw();
    on("run", () => requestDraw(this.drawFn));
    on("overlay", () => requestDraw(this.drawFn));
    on("preview", () => requestDraw(this.drawFn));
    on("selection", () => requestDraw(this.drawFn));
    on("spec", (what) => what !== "layout" && requestDraw(this.drawFn));
    onLangChange(() => requestDraw(this.drawFn));
    requestDraw(this.drawFn);
  }

  draw() {
    const want = wantedViews(store.spec, store.signature);
    const kinds = session.current?.kinds() ?? new Set();
    for (const [view, names] of Object.entries(KINDS)) {
      if (names.some((k) => kinds.has(k))) want.add(view === "neurons" ? "boundary" : view);
    }
    for (const name of ORDER) {
      const view = this.views[name];
      const shown = want.has(name);
      for (const tl of view.tiles) tl.classList.toggle("off", !shown);
      if (shown) view.draw();
    }
    this.host.dataset.views = ORDER.filter((n) => want.has(n)).join(" ");
  }
}
