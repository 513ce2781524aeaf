"""Labs on what makes deep networks trainable (9.3.1): vanishing gradients and the activation race.

Both train a deep dense network on the scikit-learn digits (64 pixels, 10 classes) with plain SGD, so
nothing rescales the gradients the activation lets through.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, data, dense_layers, job_spec, log, mlp_nodes, pick, rounded, train_variant

DIGITS = {"dataset": "digits", "flatten": True}
RATIO_VANISHED = 0.01  # first/last layer gradient norm below this: the gradient has vanished
RATIO_HEALTHY = 0.1


class _GradNorms:
    """after_step hook: accumulates each dense layer's weight-gradient norm, streams the running mean."""

    def __init__(self, ctx: LabContext, variant: str, curves: Curves) -> None:
        self.ctx, self.variant, self.curves = ctx, variant, curves
        self.total: torch.Tensor | None = None
        self.count = 0
        self.names: list[str] = []

    def after_step(self, step: int, model: nn.Module, batch: Any, loss: torch.Tensor) -> None:
        layers = dense_layers(model)
        self.names = [name.removeprefix("layers.") for name, _ in layers]
        norms = torch.stack([m.weight.grad.norm() for _, m in layers]).detach()
        self.total = norms if self.total is None else self.total + norms
        self.count += 1
        if self.curves.due(step):
            mean = (self.total / self.count).tolist()
            self.curves.point(self.variant, step, kind="grad_norms", layers=self.names, grad_norms=mean)
            self.ctx.emit_tensor("grad_norms", self.variant, np.asarray(mean, dtype=np.float32), step)

    def mean(self) -> list[float]:
        assert self.total is not None
        return (self.total / self.count).tolist()


@lab_runner("vanishing_gradients")
def vanishing_gradients(params: LabParams, ctx: LabContext) -> LabOutcome:
    depth = pick(params, 8, 10)
    steps = pick(params, 300, 1500)
    bundle = data(**DIGITS, seed=params.seed)
    curves = Curves(ctx, steps, points=60)
    measured: dict[str, Any] = {"depth": depth, "steps": steps}
    for act in ("sigmoid", "relu"):
        log(ctx, f"training {depth} hidden layers with {act}", f"{act} で中間層 {depth} 層を学習")
        spec = job_spec(mlp_nodes(64, [32] * depth, 10, act), {**DIGITS, "seed": params.seed}, epochs=50,
                        max_steps=steps, batch_size=32, seed=params.seed, init={"scheme": "he"},
                        optimizer={"name": "sgd", "lr": 0.1})
        hook = _GradNorms(ctx, act, curves)
        summary = train_variant(ctx, curves, act, spec, bundle=bundle, hooks=hook)
        norms = hook.mean()
        measured[act] = {
            "layers": hook.names, "grad_norms": [float(f"{v:.4g}") for v in norms],
            "first_over_last": float(f"{norms[0] / norms[-1]:.4g}"),
            "train_loss": rounded(summary.train_loss), "test_accuracy": rounded(summary.test_accuracy),
        }
    sig, relu = measured["sigmoid"]["first_over_last"], measured["relu"]["first_over_last"]
    holds = sig < RATIO_VANISHED and relu > RATIO_HEALTHY
    verdict = Text(
        f"First-layer / last-layer gradient norm: sigmoid {sig:.2g}, ReLU {relu:.2g}. "
        + ("The sigmoid's gradient vanished on its way to the first layer; ReLU's arrived intact."
           if holds else "This run did not show the expected contrast."),
        f"入力側 / 出力側の層の勾配ノルムの比：シグモイド {sig:.2g}、ReLU {relu:.2g}。"
        + ("シグモイドでは勾配が入力側の層に届くまでに消え、ReLU では減らずに届いた。"
           if holds else "今回の実行では期待した差が見られなかった。"),
    )
    return LabOutcome(measured, holds, verdict)


ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu")


@lab_runner("activations")
def activations(params: LabParams, ctx: LabContext) -> LabOutcome:
    depth = 5
    steps = pick(params, 600, 2000)
    bundle = data(**DIGITS, seed=params.seed)
    curves = Curves(ctx, steps, points=80)
    results: dict[str, dict[str, float | None]] = {}
    for act in ACTIVATIONS:
        spec = job_spec(mlp_nodes(64, [32] * depth, 10, act), {**DIGITS, "seed": params.seed}, epochs=50,
                        max_steps=steps, batch_size=32, seed=params.seed, init={"scheme": "xavier"},
                        optimizer={"name": "momentum", "lr": 0.05, "momentum": 0.9})
        summary = train_variant(ctx, curves, act, spec, bundle=bundle)
        results[act] = {"train_loss": rounded(summary.train_loss), "test_accuracy": rounded(summary.test_accuracy)}
        ctx.emit({"type": "metrics", "kind": "summary_point", "variant": act, "x": act,
                  "train_loss": results[act]["train_loss"], "test_accuracy": results[act]["test_accuracy"]})
    sigmoid = results["sigmoid"]["train_loss"] or 0.0
    others = {a: r["train_loss"] or 0.0 for a, r in results.items() if a != "sigmoid"}
    worst_other = max(others, key=lambda a: others[a])
    holds = all(v < 0.5 * sigmoid for v in others.values())
    verdict = Text(
        f"Final training loss: sigmoid {sigmoid:.3f}; the others {min(others.values()):.3f}–{others[worst_other]:.3f} "
        f"(worst: {worst_other}). "
        + ("Every recommended activation trained the deep net; the sigmoid did not." if holds
           else "Not every recommended activation beat the sigmoid by half in this run."),
        f"最終の学習損失：シグモイド {sigmoid:.3f}、その他 {min(others.values()):.3f}〜{others[worst_other]:.3f}"
        f"（最も悪いもの：{worst_other}）。"
        + ("推奨される活性化関数はどれも深いネットワークを学習でき、シグモイドはできなかった。" if holds
           else "今回の実行では、すべての推奨活性化関数がシグモイドの半分以下の損失にはならなかった。"),
    )
    return LabOutcome({"depth": depth, "steps": steps, "results": results}, holds, verdict)
