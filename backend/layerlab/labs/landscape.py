"""Loss flatness (損失平坦性): the loss around a small-batch and a large-batch solution.

Both networks train from the same initial weights until their training loss is equally low; then the loss
is measured along random directions that are filter-normalised (Li et al., 2018: each unit's direction
scaled to the norm of that unit's weights, so sharpness is comparable between two networks). Every point
of a 1-D profile or a 2-D surface is one member of a batched forward pass.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from ..catalogue.training import OptimizerSpec
from ..training.batched import BatchedEnsemble, member_losses, stacked_forward
from ..training.losses import Objective
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, build, data, fit, log, mlp_spec, pick, rounded

CE = Objective("cross_entropy")
BATCHES = {"small_batch": 16, "large_batch": 256}
# Plain SGD: its gradient noise (lr / batch size) is what the small batch has more of.
SGD = OptimizerSpec(name="sgd", lr=0.1)
CHECK_EVERY = 50
GENERALISES = 0.01  # small-batch test accuracy at least large-batch's minus this


def _directions(theta: dict[str, torch.Tensor], count: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """Random directions, each row (a unit's incoming weights) scaled to that row's norm; biases left still."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        d = {}
        for name, p in theta.items():
            r = torch.randn(p.shape, generator=gen)
            d[name] = r / r.norm(dim=1, keepdim=True) * p.norm(dim=1, keepdim=True) if p.dim() == 2 \
                else torch.zeros_like(p)
        out.append(d)
    return out


def _losses_at(base: nn.Module, points: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Training loss at each stacked parameter point, in chunks of points."""
    n = next(iter(points.values())).shape[0]
    out = []
    with torch.no_grad():
        for start in range(0, n, 64):
            chunk = {k: v[start:start + 64] for k, v in points.items()}
            out.append(member_losses(stacked_forward(base, chunk, {}, x), y, CE))
    return torch.cat(out)


def _train_until(ctx: LabContext, ens: BatchedEnsemble, x: torch.Tensor, y: torch.Tensor, *, batch: int,
                 target: float, cap: int, seed: int, name: str, curves: Curves) -> int:
    """Train until the whole-training-set loss is below `target` (or `cap` steps); returns the steps taken."""
    steps = 0
    while steps < cap:
        fit(ctx, ens, x, y, CE, steps=CHECK_EVERY, batch_size=batch, seed=seed + steps, step0=steps)
        steps += CHECK_EVERY
        loss, acc = ens.evaluate((x,), y, CE)
        curves.point(name, steps, kind="eval", split="train", loss=loss[0], accuracy=(acc or [None])[0])
        if loss[0] < target:
            break
    return steps


@lab_runner("loss_flatness")
def loss_flatness(params: LabParams, ctx: LabContext) -> LabOutcome:
    target, cap = pick(params, 0.03, 0.01), pick(params, 4000, 12000)
    n_dirs, n_alpha, side = pick(params, 3, 6), pick(params, 21, 41), pick(params, 15, 31)
    bundle = data(dataset="digits", flatten=True, seed=params.seed)
    x, y = bundle.train.inputs["x"], bundle.train.target
    test = ((bundle.test.inputs["x"],), bundle.test.target)
    spec = mlp_spec(64, [64, 64], 10, "relu")
    base = copy.deepcopy(build(spec, params.seed)).to("meta")
    alphas = torch.linspace(-1, 1, n_alpha)
    curves = Curves(ctx, cap, points=100)
    results: dict[str, dict[str, object]] = {}
    for name, batch in BATCHES.items():
        log(ctx, f"training with batch size {batch} to loss {target}", f"バッチサイズ {batch} で損失 {target} まで学習")
        ens = BatchedEnsemble([build(spec, params.seed)], [SGD])
        steps = _train_until(ctx, ens, x, y, batch=batch, target=target, cap=cap, seed=params.seed, name=name,
                             curves=curves)
        theta = {k: v.detach()[0] for k, v in ens.params.items()}
        dirs = _directions(theta, n_dirs, params.seed)
        profiles = []
        for d in dirs:
            points = {k: torch.stack([theta[k] + a * d[k] for a in alphas]) for k in theta}
            profiles.append(_losses_at(base, points, x, y))
        profile = torch.stack(profiles).mean(0)
        for a, v in zip(alphas.tolist(), profile.tolist(), strict=True):
            ctx.emit({"type": "metrics", "kind": "profile", "variant": name, "alpha": a, "loss": v})
        grid = torch.linspace(-1, 1, side)
        aa, bb = torch.meshgrid(grid, grid, indexing="ij")
        surface_points = {k: theta[k] + aa.reshape(-1, *[1] * theta[k].dim()) * dirs[0][k]
                          + bb.reshape(-1, *[1] * theta[k].dim()) * dirs[1][k] for k in theta}
        surface = _losses_at(base, surface_points, x, y).reshape(side, side)
        ctx.emit_tensor("landscape", name, surface.numpy(), steps, {"extent": [-1.0, 1.0, -1.0, 1.0],
                                                                     "axes": ["direction 1", "direction 2"]})
        _, acc = ens.evaluate(*test, CE)
        centre = float(profile[n_alpha // 2])
        results[name] = {"batch_size": batch, "steps": steps, "train_loss": rounded(centre),
                         "test_accuracy": rounded((acc or [0.0])[0]),
                         "sharpness": rounded(float((profile - centre).mean())),
                         "profile": [rounded(v) for v in profile.tolist()]}
    small, large = results["small_batch"], results["large_batch"]
    s_sharp, l_sharp = float(small["sharpness"]), float(large["sharpness"])  # type: ignore[arg-type]
    s_acc, l_acc = float(small["test_accuracy"]), float(large["test_accuracy"])  # type: ignore[arg-type]
    holds = s_sharp < l_sharp and s_acc >= l_acc - GENERALISES
    verdict = Text(
        f"Mean loss rise within distance 1 of the solution (filter-normalised): small batch {s_sharp:.3f}, large "
        f"batch {l_sharp:.3f}; test accuracy {s_acc:.3f} vs {l_acc:.3f}. "
        + ("The small-batch solution sits in a flatter region and generalises at least as well." if holds
           else "This run did not find the small-batch solution flatter with equal or better accuracy."),
        f"解から距離 1 以内での損失の平均上昇（フィルタ正規化）：小さいバッチ {s_sharp:.3f}、大きいバッチ "
        f"{l_sharp:.3f}。テスト正解率 {s_acc:.3f} 対 {l_acc:.3f}。"
        + ("小さいバッチの解はより平坦な領域にあり、汎化性能も同等以上だった。" if holds
           else "今回の実行では、小さいバッチの解がより平坦で同等以上に汎化するという結果にならなかった。"),
    )
    measured = {"target_train_loss": target, "directions": n_dirs, "alphas": [rounded(a) for a in alphas.tolist()],
                "results": results}
    return LabOutcome(measured, holds, verdict)
