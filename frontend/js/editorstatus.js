// The line under the network: total parameters and FLOPs when the network is valid, or the error that has no
// node to sit on (a data-set mismatch, a cap).
import { compact, el } from "./format.js";
import { onLangChange, t } from "./i18n.js";
import { on, store } from "./store.js";

export class EditorStatus {
  constructor(host) {
    this.host = host;
    on("validation", () => this.render());
    onLangChange(() => this.render());
  }

  render() {
    const v = store.validation;
    this.host.dataset.state = v.state;
    if (v.state === "pending") return;
    if (v.state === "ok") {
      this.host.replaceChildren(el("span", { class: "ok", text: `✓ ${t("editor.valid")}` }),
        el("span", { text: t("editor.total", { p: compact(v.params), f: compact(v.flops) }) }));
      return;
    }
    const onNode = v.error?.node_id && store.spec.model.nodes.some((n) => n.id === v.error.node_id);
    this.host.replaceChildren(onNode ? el("span") : el("span", { class: "global-error", testid: "validation-error",
      text: v.error?.message ?? "" }));
  }
}
