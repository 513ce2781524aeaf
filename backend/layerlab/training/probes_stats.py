"""Per-layer scalars for metrics frames: gradient norms and activation statistics (incl. dead ReLUs).

Each function gathers its numbers into one tensor and converts once, so a probe costs one device→host
copy however many layers the model has.
"""

from __future__ import annotations

import torch
from torch import nn


def grad_norms(layers: nn.ModuleDict, nodes: list[str]) -> dict[str, float]:
    """L2 norm of each node's parameter gradients taken together (torch.nn.utils.get_total_norm)."""
    names, norms = [], []
    for node in nodes:
        grads = [p.grad for p in layers[node].parameters() if p.grad is not None]
        if grads:
            names.append(node)
            norms.append(torch.nn.utils.get_total_norm(grads).float())
    if not norms:
        return {}
    return dict(zip(names, torch.stack(norms).tolist(), strict=True))


def activation_stats(
    values: dict[str, torch.Tensor], nodes: list[str], relu_nodes: frozenset[str]
) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of each node's output over the probe batch; for ReLU nodes also the
    fraction of units that output zero for every probe sample ("dead" units, which no longer learn)."""
    rows: list[torch.Tensor] = []
    for node in nodes:
        flat = values[node].detach().float().reshape(values[node].shape[0], -1)
        dead = (flat <= 0).all(dim=0).float().mean() if node in relu_nodes else flat.new_tensor(float("nan"))
        std = flat.std() if flat.numel() > 1 else flat.new_zeros(())
        rows.append(torch.stack([flat.mean(), std, dead]))
    if not rows:
        return {}
    out: dict[str, dict[str, float]] = {}
    for node, (mean, std, dead) in zip(nodes, torch.stack(rows).tolist(), strict=True):
        out[node] = {"mean": mean, "std": std}
        if node in relu_nodes:
            out[node]["dead"] = dead
    return out
