"""Optimizer construction: each catalogue name maps to a torch class through an explicit builder."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from ..catalogue.training import OptimizerSpec

_Builder = Callable[[list[nn.Parameter], OptimizerSpec, float, float], torch.optim.Optimizer]

_BUILDERS: dict[str, _Builder] = {
    "sgd": lambda ps, o, lr, wd: torch.optim.SGD(ps, lr=lr, weight_decay=wd),
    "momentum": lambda ps, o, lr, wd: torch.optim.SGD(ps, lr=lr, momentum=o.momentum, weight_decay=wd),
    "nesterov": lambda ps, o, lr, wd: torch.optim.SGD(
        ps, lr=lr, momentum=o.momentum, nesterov=o.momentum > 0, weight_decay=wd
    ),
    "adagrad": lambda ps, o, lr, wd: torch.optim.Adagrad(ps, lr=lr, weight_decay=wd),
    # The spec's `momentum` is RMSProp's squared-gradient decay ρ (Keras' rho, torch's alpha).
    "rmsprop": lambda ps, o, lr, wd: torch.optim.RMSprop(ps, lr=lr, alpha=o.momentum, weight_decay=wd),
    "adam": lambda ps, o, lr, wd: torch.optim.Adam(ps, lr=lr, betas=(o.beta1, o.beta2), weight_decay=wd),
    "adamw": lambda ps, o, lr, wd: torch.optim.AdamW(ps, lr=lr, betas=(o.beta1, o.beta2), weight_decay=wd),
}

OPTIMIZER_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def make_optimizer(
    params: Iterable[nn.Parameter], spec: OptimizerSpec, *, weight_decay: float = 0.0, lr: float | None = None
) -> torch.optim.Optimizer:
    """Build the optimizer for the trainable `params`; L2 goes in as weight decay (decoupled for adamw)."""
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters (every node frozen or parameter-free)")
    return _BUILDERS[spec.name](trainable, spec, spec.lr if lr is None else lr, weight_decay)
