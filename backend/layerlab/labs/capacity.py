"""Labs from the slides on the gap between practice and theory: depth vs width on a function with a jump,
over-parameterisation (training loss vs width) and double descent (test error vs width).

Sweeps train as batched ensembles: seeds and target functions side by side, and widths zero-padded so
that every member computes exactly its own narrow network.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from ..catalogue.training import OptimizerSpec
from ..training.batched import BatchedEnsemble, member_losses
from ..training.losses import Objective
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, build, check_stop, data, fit, mlp_spec, pick, rounded

MSE = Objective("mse")
CE = Objective("cross_entropy")

# ------------------------------------------------------------------------------------------ depth vs width

FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "jump": lambda x: 0.5 * torch.sin(3 * x) + (x > 0.2).float(),
    "smooth": lambda x: 0.5 * torch.sin(3 * x) + 0.5 * torch.tanh(x),
}
DEEP_GAIN = 0.8  # deep error below 0.8 × shallow error counts as "better"


def _equal_budget(width: int, depth: int) -> tuple[list[int], list[int]]:
    """Hidden layers of a deep net and of a one-hidden-layer net with (nearly) the same parameter count."""
    deep_params = 2 * width + (depth - 1) * (width * width + width) + width + 1
    return [width] * depth, [round((deep_params - 1) / 3)]


def _params(hidden: list[int]) -> int:
    sizes = [1, *hidden, 1]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


@lab_runner("depth_vs_width")
def depth_vs_width(params: LabParams, ctx: LabContext) -> LabOutcome:
    steps, seeds = pick(params, 1000, 4000), pick(params, 3, 6)
    deep, shallow = _equal_budget(16, 3)
    gen = torch.Generator().manual_seed(params.seed)
    x = torch.rand(512, 1, generator=gen) * 2 - 1
    grid = torch.linspace(-1, 1, 401)[:, None]
    fnames = list(FUNCTIONS)
    # members: every (function, seed) pair; each fits its own target on the same inputs
    targets = torch.stack([FUNCTIONS[f](x) for f in fnames for _ in range(seeds)])
    truth = torch.stack([FUNCTIONS[f](grid) for f in fnames for _ in range(seeds)])
    curves = Curves(ctx, steps, points=80)
    errors: dict[str, dict[str, list[float]]] = {}
    for arch, hidden in (("shallow", shallow), ("deep", deep)):
        models = [build(mlp_spec(1, hidden, 1, "relu"), params.seed + s) for _ in fnames for s in range(seeds)]
        ens = BatchedEnsemble(models, [OptimizerSpec(name="adam", lr=0.003)] * len(models))
        names = [f"{arch}/{f}/{s}" for f in fnames for s in range(seeds)]

        def show(step: int, ens: BatchedEnsemble = ens, arch: str = arch) -> None:
            if step % max(1, steps // 8) == 0 or step == steps:
                with torch.no_grad():
                    pred = ens.forward(grid, training=False)
                for i, f in enumerate(fnames):
                    k = i * seeds
                    curve = torch.stack([grid[:, 0], truth[k, :, 0], pred[k, :, 0]]).numpy()
                    ctx.emit_tensor("function_fit", f"{arch}/{f}", curve, step, {"rows": ["x", "target", "output"]})

        fit(ctx, ens, x.expand(len(models), *x.shape), targets, MSE, steps=steps, batch_size=64,
            seed=params.seed, per_member=True, curves=curves, names=names, on_step=show)
        with torch.no_grad():
            test = member_losses(ens.forward(grid, training=False), truth, MSE, per_member=True).tolist()
        errors[arch] = {f: test[i * seeds:(i + 1) * seeds] for i, f in enumerate(fnames)}
    med = {a: {f: statistics.median(v) for f, v in e.items()} for a, e in errors.items()}
    jump_ratio = med["deep"]["jump"] / med["shallow"]["jump"]
    smooth_ratio = med["deep"]["smooth"] / max(med["shallow"]["smooth"], 1e-12)
    holds = jump_ratio < DEEP_GAIN and smooth_ratio >= DEEP_GAIN
    verdict = Text(
        f"Median test error, deep ({_params(deep)} parameters) vs shallow ({_params(shallow)}): jump "
        f"{med['deep']['jump']:.4f} vs {med['shallow']['jump']:.4f} (ratio {jump_ratio:.2f}); smooth "
        f"{med['deep']['smooth']:.5f} vs {med['shallow']['smooth']:.5f} (ratio {smooth_ratio:.2f}). "
        + ("Depth paid off only where the function jumps." if holds
           else "This run did not show depth helping on the jump alone."),
        f"テスト誤差の中央値、深い（パラメータ {_params(deep)}）対 浅い（{_params(shallow)}）：ジャンプ "
        f"{med['deep']['jump']:.4f} 対 {med['shallow']['jump']:.4f}（比 {jump_ratio:.2f}）、滑らか "
        f"{med['deep']['smooth']:.5f} 対 {med['shallow']['smooth']:.5f}（比 {smooth_ratio:.2f}）。"
        + ("深さが効いたのは関数がジャンプする場合だけだった。" if holds
           else "今回の実行では、ジャンプの場合だけ深さが効くという結果にならなかった。"),
    )
    measured = {
        "steps": steps, "seeds": seeds, "deep_hidden": deep, "shallow_hidden": shallow,
        "deep_params": _params(deep), "shallow_params": _params(shallow),
        "median_test_mse": {a: {f: float(f"{v:.4g}") for f, v in m.items()} for a, m in med.items()},
        "jump_ratio": rounded(jump_ratio), "smooth_ratio": rounded(smooth_ratio),
    }
    return LabOutcome(measured, holds, verdict)


# ---------------------------------------------------------------------------------- over-parameterisation

OVERPARAM_WIDTHS = (2, 4, 8, 16, 32, 64, 128, 256)
NEAR_ZERO = 0.02


@lab_runner("overparameterisation")
def overparameterisation(params: LabParams, ctx: LabContext) -> LabOutcome:
    steps = pick(params, 400, 1500)
    n = pick(params, 300, 600)
    # Random labels (90% replaced by a wrong class): only memorising can fit them, which takes capacity.
    bundle = data(dataset="digits", flatten=True, labels_per_class=n // 10, label_noise=0.9, seed=params.seed)
    x, y = bundle.train.inputs["x"], bundle.train.target
    models = [build(mlp_spec(64, [w], 10, "relu"), params.seed) for w in OVERPARAM_WIDTHS]
    ens = BatchedEnsemble(models, [OptimizerSpec(name="adam", lr=0.01)] * len(models), pad=True)
    names = [f"width_{w}" for w in OVERPARAM_WIDTHS]
    fit(ctx, ens, x, y, CE, steps=steps, batch_size=len(y), seed=params.seed, curves=Curves(ctx, steps, 100),
        names=names)
    losses, accs = ens.evaluate((x,), y, CE)
    assert accs is not None
    for w, loss, acc in zip(OVERPARAM_WIDTHS, losses, accs, strict=True):
        ctx.emit({"type": "metrics", "kind": "summary_point", "variant": f"width_{w}", "x": w,
                  "parameters": 64 * w + w + 10 * w + 10, "train_loss": loss, "train_accuracy": acc})
    inversions = sum(1 for a, b in zip(losses, losses[1:], strict=False) if b > a * 1.05)
    holds = losses[-1] < NEAR_ZERO and losses[0] > 25 * NEAR_ZERO and inversions <= 1
    table = ", ".join(f"{w}: {v:.3f}" for w, v in zip(OVERPARAM_WIDTHS, losses, strict=True))
    verdict = Text(
        f"Final training loss on {len(y)} randomly labelled digits, by hidden width: {table}. "
        + ("Narrow networks stall far from zero; the wide ones drive the loss to about zero." if holds
           else "This run did not show the loss reaching about zero only for wide layers."),
        f"ランダムなラベルの {len(y)} 枚の数字での最終学習損失（中間層の幅ごと）：{table}。"
        + ("幅の狭いネットワークは 0 から遠い値で止まり、幅の広いネットワークは損失をほぼ 0 にした。" if holds
           else "今回の実行では、幅が広いときだけ損失がほぼ 0 になるという結果にならなかった。"),
    )
    measured = {"steps": steps, "samples": len(y), "label_noise": 0.9, "widths": list(OVERPARAM_WIDTHS),
                "train_loss": [float(f"{v:.4g}") for v in losses], "train_accuracy": [rounded(a) for a in accs]}
    return LabOutcome(measured, holds, verdict)


# ------------------------------------------------------------------------------------------ double descent

PEAK_MARGIN = 0.1  # test error at the peak above both ends by this much


def _random_features(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.relu(x @ w + b)


@lab_runner("double_descent")
def double_descent(params: LabParams, ctx: LabContext) -> LabOutcome:
    n_per_class, seeds = pick(params, 20, 40), pick(params, 3, 8)
    bundle = data(dataset="digits", flatten=True, labels_per_class=n_per_class, label_noise=0.2, seed=params.seed)
    x, y = bundle.train.inputs["x"], bundle.train.target
    test_x, test_y = bundle.test.inputs["x"], bundle.test.target
    n = len(y)
    widths = sorted({int(round(v)) for v in np.geomspace(n / 20, n * 16, pick(params, 18, 30))})
    targets = F.one_hot(y, 10).float()
    errors: list[float] = []
    for width in widths:
        check_stop(ctx)
        per_seed = []
        for s in range(seeds):
            gen = torch.Generator().manual_seed(params.seed * 1000 + s)
            w = torch.randn(64, width, generator=gen) / 8
            b = torch.randn(width, generator=gen) * 0.1
            # The trained output layer: minimum-norm least squares, where gradient descent from zero converges.
            beta = torch.linalg.pinv(_random_features(x, w, b)) @ targets
            pred = _random_features(test_x, w, b) @ beta
            per_seed.append(float((pred.argmax(1) != test_y).float().mean()))
        errors.append(statistics.mean(per_seed))
        ctx.emit({"type": "metrics", "kind": "summary_point", "variant": "test_error", "x": width,
                  "parameters": width * 10, "test_error": errors[-1], "threshold": n})
    peak = int(np.argmax(errors))
    near_threshold = n / 2 <= widths[peak] <= n * 2
    holds = near_threshold and errors[peak] - errors[0] > PEAK_MARGIN and errors[peak] - errors[-1] > PEAK_MARGIN
    verdict = Text(
        f"Test error of random-feature networks fitted exactly to {n} samples (20% wrong labels): "
        f"{errors[0]:.2f} at width {widths[0]}, peak {errors[peak]:.2f} at width {widths[peak]} "
        f"(threshold {n}), {errors[-1]:.2f} at width {widths[-1]}. "
        + ("The error rose to a peak at the interpolation threshold and fell again beyond it." if holds
           else "This run did not show a peak at the interpolation threshold."),
        f"{n} 個のデータ（20% は誤ったラベル）にちょうど当てはめたランダム特徴ネットワークのテスト誤差："
        f"幅 {widths[0]} で {errors[0]:.2f}、幅 {widths[peak]} で最大 {errors[peak]:.2f}（閾値 {n}）、"
        f"幅 {widths[-1]} で {errors[-1]:.2f}。"
        + ("誤差は補間閾値で山になり、それを超えると再び下がった。" if holds
           else "今回の実行では補間閾値での山が見られなかった。"),
    )
    measured = {"samples": n, "seeds": seeds, "label_noise": 0.2, "widths": widths,
                "test_error": [rounded(e) for e in errors], "peak_width": widths[peak], "threshold": n}
    return LabOutcome(measured, holds, verdict)
