"""Weight initialisation schemes, applied to the trainable weights of Linear, Conv and RNN layers.

Fixed (non-trainable) weights such as the slide's mean/edge filters are never touched.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..catalogue.training import InitSpec

_WEIGHTED: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.RNNBase)

_Fill = Callable[[torch.Tensor, InitSpec], None]

_WEIGHT_FILL: dict[str, _Fill] = {
    "xavier": lambda w, s: nn.init.xavier_uniform_(w),
    "he": lambda w, s: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "zeros": lambda w, s: nn.init.zeros_(w),
    "normal": lambda w, s: nn.init.normal_(w, mean=0.0, std=s.std),
}


def _weights_and_biases(module: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """A layer's own trainable weight matrices (rank ≥ 2) and bias vectors."""
    weights: list[nn.Parameter] = []
    biases: list[nn.Parameter] = []
    for name, p in module.named_parameters(recurse=False):
        if not p.requires_grad:
            continue
        if name.startswith("weight") and p.dim() >= 2:
            weights.append(p)
        elif name.startswith("bias"):
            biases.append(p)
    return weights, biases


@torch.no_grad()
def apply_init(model: nn.Module, spec: InitSpec) -> int:
    """Re-initialise every Linear/Conv/RNN weight with `spec.scheme` (biases to zero); returns how many
    weight tensors changed. `default` keeps each layer's own initialisation."""
    if spec.scheme == "default":
        return 0
    fill = _WEIGHT_FILL[spec.scheme]
    changed = 0
    for module in model.modules():
        if not isinstance(module, _WEIGHTED):
            continue
        weights, biases = _weights_and_biases(module)
        for w in weights:
            fill(w, spec)
            changed += 1
        for b in biases:
            nn.init.zeros_(b)
    return changed
