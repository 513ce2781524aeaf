"""The optimizer race (9.3.1): SGD, Momentum, AdaGrad, RMSProp and Adam from the same initial weights on
the same mini-batches (one batched ensemble: identical start, identical batches by construction), plus
their paths on the Rosenbrock function, a curved valley where the differences are visible in 2-D.
"""

from __future__ import annotations

from typing import Any

import torch

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from ..catalogue.training import OptimizerSpec
from ..training.batched_loop import Member
from ..training.batched_optim import StackedOptimizer
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, check_stop, data, job_spec, mlp_nodes, pick, rounded, train_ensemble

# One learning rate per optimizer, each a usual default for it.
RACE: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(name="sgd", lr=0.01),
    "momentum": OptimizerSpec(name="momentum", lr=0.01, momentum=0.9),
    "adagrad": OptimizerSpec(name="adagrad", lr=0.01),
    "rmsprop": OptimizerSpec(name="rmsprop", lr=0.001, momentum=0.9),
    "adam": OptimizerSpec(name="adam", lr=0.001),
}
# On Rosenbrock the gradient is large on the walls and tiny on the valley floor: rates that keep SGD stable.
SURFACE: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(name="sgd", lr=1e-3),
    "momentum": OptimizerSpec(name="momentum", lr=1e-3, momentum=0.9),
    "adagrad": OptimizerSpec(name="adagrad", lr=0.5),
    "rmsprop": OptimizerSpec(name="rmsprop", lr=0.01, momentum=0.9),
    "adam": OptimizerSpec(name="adam", lr=0.05),
}
START = (-1.5, 2.0)
EXTENT = (-2.0, 2.0, -1.0, 3.0)  # x0, x1, y0, y1 of the contour grid
GRID = 96


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """(1 − x)² + 100 (y − x²)²: minimum 0 at (1, 1) at the end of a long, curved, flat-bottomed valley."""
    return (1 - p[..., 0]) ** 2 + 100 * (p[..., 1] - p[..., 0] ** 2) ** 2


def _surface(ctx: LabContext, steps: int) -> dict[str, dict[str, Any]]:
    """Each optimizer's path from START on the Rosenbrock surface, streamed in chunks; final loss and distance."""
    xs = torch.linspace(EXTENT[0], EXTENT[1], GRID)
    ys = torch.linspace(EXTENT[2], EXTENT[3], GRID)
    grid = rosenbrock(torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1))
    meta = {"extent": list(EXTENT), "transform": "log10(1+f)", "minimum": [1.0, 1.0]}
    ctx.emit_tensor("landscape", "rosenbrock", torch.log10(1 + grid).numpy(), 0, meta)
    names = list(SURFACE)
    # One point per optimizer, updated together by the stacked optimizer (the same rules as torch.optim).
    points = torch.tensor([START] * len(names), requires_grad=True)
    opt = StackedOptimizer({"p": points}, [SURFACE[n] for n in names], [0.0] * len(names))
    path = [points.detach().clone()]
    for step in range(1, steps + 1):
        (grad,) = torch.autograd.grad(rosenbrock(points).sum(), [points])
        opt.step({"p": grad})
        path.append(points.detach().clone())
        if step % (steps // 5) == 0:
            check_stop(ctx)
            trail = torch.stack(path, dim=1).numpy()  # [optimizers, steps + 1, 2]
            for i, name in enumerate(names):
                ctx.emit_tensor("paths", name, trail[i], step, {"extent": list(EXTENT)})
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        final = points.detach()[i]
        out[name] = {"loss": float(f"{rosenbrock(final).item():.4g}"),
                     "distance_to_minimum": rounded(torch.dist(final, torch.ones(2)).item()),
                     "end": [rounded(v) for v in final.tolist()]}
    return out


@lab_runner("optimizer_race")
def optimizer_race(params: LabParams, ctx: LabContext) -> LabOutcome:
    steps = pick(params, 400, 1500)
    surface_steps = pick(params, 1000, 3000)
    data_spec = {"dataset": "digits", "flatten": True, "seed": params.seed}
    spec = job_spec(mlp_nodes(64, [64, 64], 10, "relu"), data_spec, epochs=50, max_steps=steps, batch_size=32,
                    seed=params.seed)
    names = list(RACE)
    members = [Member(seed=params.seed, optimizer=RACE[n]) for n in names]
    summary = train_ensemble(ctx, Curves(ctx, steps, points=100), names, spec, members, bundle=data(**data_spec))
    race = {n: {"lr": RACE[n].lr, "train_loss": rounded(m["train_loss"]), "test_accuracy": rounded(m["test_accuracy"])}
            for n, m in zip(names, summary.members, strict=True)}
    surface = _surface(ctx, surface_steps)
    sgd_loss, sgd_dist = race["sgd"]["train_loss"] or 0.0, surface["sgd"]["distance_to_minimum"] or 0.0
    better = [n for n in names[1:] if (race[n]["train_loss"] or 0.0) < sgd_loss]
    closer = [n for n in names[1:] if (surface[n]["distance_to_minimum"] or 0.0) < sgd_dist]
    holds = len(better) == len(names) - 1 and len(closer) == len(names) - 1
    losses = ", ".join(f"{n} {race[n]['train_loss']:.3f}" for n in names)
    beat_en, beat_ja = ", ".join(better) or "none", ", ".join(better) or "なし"
    near_en, near_ja = ", ".join(closer) or "none", ", ".join(closer) or "なし"
    dists = ", ".join(f"{n} {surface[n]['distance_to_minimum']:.2f}" for n in names)
    verdict = Text(
        f"Training loss after {steps} identical steps: {losses}. Distance to the Rosenbrock minimum after "
        f"{surface_steps} steps: {dists}. "
        + ("Every improved optimizer beat plain SGD on both." if holds
           else f"Beat SGD on the network: {beat_en}; on the valley: {near_en}."),
        f"同一の {steps} ステップ後の学習損失：{losses}。{surface_steps} ステップ後の Rosenbrock 関数の最小点までの"
        f"距離：{dists}。"
        + ("改良された最適化器はどれも両方で素の SGD を上回った。" if holds
           else f"ネットワークで SGD を上回ったもの：{beat_ja}、谷では：{near_ja}。"),
    )
    measured: dict[str, Any] = {"steps": steps, "network": race, "surface_steps": surface_steps,
                                "rosenbrock": surface, "start": list(START)}
    return LabOutcome(measured, holds, verdict)
