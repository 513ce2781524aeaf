"""The lottery-ticket hypothesis (宝くじ仮説): iterative magnitude pruning with rewinding to the initial
weights, against the same sparse structures with fresh random weights.

Each round trains the current tickets and their random re-initialisation controls side by side as one
masked batched ensemble (a mask pins each pruned weight at zero), prunes the smallest surviving weights
of every ticket, and rewinds the survivors to their original initial values.
"""

from __future__ import annotations

import statistics

import torch

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from ..catalogue.training import OptimizerSpec
from ..training.batched import BatchedEnsemble
from ..training.losses import Objective
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, build, data, fit, log, mlp_spec, pick, rounded

CE = Objective("cross_entropy")
HIDDEN = [128, 128]
FINAL_SPARSITY = 0.8
WITHIN = 0.03  # the ticket stays within this of the dense network's test accuracy
BEHIND = 0.01  # the random control falls at least this far behind the ticket
REINIT_SEED = 10_000  # control members draw their weights from other seeds


def _prune(weights: torch.Tensor, mask: torch.Tensor, keep: float) -> torch.Tensor:
    """Keep the largest `keep` share of the surviving weights of each member ([K, ...] each)."""
    out = torch.zeros_like(mask)
    for k in range(len(mask)):
        alive = weights[k].abs()[mask[k] > 0]
        drop = int(round(alive.numel() * (1 - keep)))
        if drop == 0:
            out[k] = mask[k]
            continue
        threshold = alive.kthvalue(drop).values
        out[k] = ((weights[k].abs() > threshold) & (mask[k] > 0)).float()
    return out


def _keep_per_round(sizes: dict[str, int], rounds: int) -> float:
    """The share of hidden-layer weights kept per round so that after `rounds` rounds the whole network is
    FINAL_SPARSITY sparse, when the output layer is pruned at half the hidden layers' rate."""
    total = sum(sizes.values())

    def kept(k: float) -> float:
        return sum(n * ((1 - (1 - k) / 2) if name.startswith("layers.out") else k) ** rounds
                   for name, n in sizes.items()) / total

    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if kept(mid) < 1 - FINAL_SPARSITY else (lo, mid)
    return (lo + hi) / 2


def _sparsity(masks: dict[str, torch.Tensor]) -> float:
    kept = sum(float(m[0].sum()) for m in masks.values())
    total = sum(m[0].numel() for m in masks.values())
    return 1 - kept / total


@lab_runner("lottery_ticket")
def lottery_ticket(params: LabParams, ctx: LabContext) -> LabOutcome:
    rounds, seeds_n, steps = pick(params, 3, 5), pick(params, 3, 5), pick(params, 200, 300)
    seeds = [params.seed + i for i in range(seeds_n)]
    bundle = data(dataset="digits", flatten=True, seed=params.seed)
    x, y = bundle.train.inputs["x"], bundle.train.target
    test = ((bundle.test.inputs["x"],), bundle.test.target)
    spec = mlp_spec(64, HIDDEN, 10, "relu")
    sizes = {n: p.numel() for n, p in build(spec, 0).named_parameters() if n.endswith("weight")}
    prunable = list(sizes)
    # Hidden layers lose the same share each round; the output layer half as much (as in the original paper).
    keep = _keep_per_round(sizes, rounds)
    curves = Curves(ctx, (rounds + 1) * steps, points=200)
    adam = OptimizerSpec(name="adam", lr=0.002)

    log(ctx, "round 0: the dense network", "0 回目：密なネットワーク")
    dense = BatchedEnsemble([build(spec, s) for s in seeds], [adam] * seeds_n)
    fit(ctx, dense, x, y, CE, steps=steps, batch_size=64, seed=params.seed, curves=curves,
        names=[f"ticket/{s}" for s in seeds])
    _, dense_acc = dense.evaluate(*test, CE)
    assert dense_acc is not None
    history = [{"round": 0, "sparsity": 0.0, "ticket": rounded(statistics.mean(dense_acc)), "reinit": None}]
    ctx.emit({"type": "metrics", "kind": "summary_point", "variant": "dense", "x": 0.0, **history[0]})
    trained = {n: dense.params[n].detach() for n in prunable}
    masks = {n: torch.ones_like(trained[n]) for n in prunable}
    ticket_acc: list[float] = list(dense_acc)
    reinit_acc: list[float] = []
    for r in range(1, rounds + 1):
        for n in prunable:
            layer_keep = 1 - (1 - keep) / 2 if n.startswith("layers.out") else keep
            masks[n] = _prune(trained[n][:seeds_n], masks[n][:seeds_n], layer_keep)
        sparsity = _sparsity(masks)
        log(ctx, f"round {r}: {sparsity:.0%} of the weights pruned", f"{r} 回目：重みの {sparsity:.0%} を枝刈り")
        models = [build(spec, s) for s in seeds] + [build(spec, REINIT_SEED + s) for s in seeds]  # rewind / fresh
        both = {n: torch.cat([m, m]) for n, m in masks.items()}
        ens = BatchedEnsemble(models, [adam] * len(models), masks=both)
        fit(ctx, ens, x, y, CE, steps=steps, batch_size=64, seed=params.seed, curves=curves, step0=r * steps,
            names=[f"ticket/{s}" for s in seeds] + [f"reinit/{s}" for s in seeds])
        _, acc = ens.evaluate(*test, CE)
        assert acc is not None
        ticket_acc, reinit_acc = acc[:seeds_n], acc[seeds_n:]
        trained = {n: ens.params[n].detach() for n in prunable}
        history.append({"round": r, "sparsity": rounded(sparsity), "ticket": rounded(statistics.mean(ticket_acc)),
                        "reinit": rounded(statistics.mean(reinit_acc))})
        ctx.emit({"type": "metrics", "kind": "summary_point", "variant": f"round_{r}", "x": sparsity,
                  **history[-1]})
    dense_mean, ticket_mean = statistics.mean(dense_acc), statistics.mean(ticket_acc)
    reinit_mean = statistics.mean(reinit_acc)
    final_sparsity = history[-1]["sparsity"] or 0.0
    holds = ticket_mean >= dense_mean - WITHIN and ticket_mean - reinit_mean >= BEHIND
    verdict = Text(
        f"Test accuracy (mean of {seeds_n} seeds): dense {dense_mean:.3f}; at {final_sparsity:.0%} sparsity the "
        f"rewound ticket {ticket_mean:.3f}, the same structure re-initialised at random {reinit_mean:.3f}. "
        + ("The ticket kept the dense accuracy; fresh random weights on the same structure fell behind."
           if holds else "This run did not show both effects (ticket near dense, random control behind)."),
        f"テスト正解率（{seeds_n} 個の乱数種の平均）：密なネットワーク {dense_mean:.3f}。{final_sparsity:.0%} を刈った"
        f"とき、初期値に巻き戻した当たりくじ {ticket_mean:.3f}、同じ構造を乱数で初期化し直したもの {reinit_mean:.3f}。"
        + ("当たりくじは密なネットワークの性能を保ち、同じ構造でも新しい乱数の重みでは性能が落ちた。"
           if holds else "今回の実行では両方の効果（当たりくじが密な性能を保つ、対照が劣る）は見られなかった。"),
    )
    measured = {"rounds": history, "seeds": seeds_n, "steps_per_round": steps, "hidden": HIDDEN,
                "dense_test_accuracy": rounded(dense_mean), "ticket_test_accuracy": rounded(ticket_mean),
                "reinit_test_accuracy": rounded(reinit_mean), "final_sparsity": final_sparsity}
    return LabOutcome(measured, holds, verdict)
