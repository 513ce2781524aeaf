"""Optimizers for stacked parameters: K members' tensors [K, ...] updated in one pass, each member with
its own optimizer family, learning rate, weight decay, momentum and betas.

The update rules are torch.optim's (single-tensor CPU path) written out on stacked tensors, so a member
follows the same trajectory as the same model trained alone with `training.optim.make_optimizer`:
SGD (+ momentum / Nesterov), AdaGrad (eps 1e-10), RMSProp (ρ = spec.momentum, eps 1e-8), Adam and
AdamW (eps 1e-8, bias-corrected). Members are grouped by family; a group that covers every member
updates in place, a partial group reads and writes its rows with index_select / index_copy_.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..catalogue.training import OptimizerSpec

ADAGRAD_EPS = 1e-10
RMSPROP_EPS = 1e-8
ADAM_EPS = 1e-8

Tensors = dict[str, torch.Tensor]


@dataclass
class _Group:
    """Members sharing one optimizer family: their row indices, hyperparameters [k] and state."""

    name: str
    index: torch.Tensor | None  # None: every member, in order
    lr: torch.Tensor
    weight_decay: torch.Tensor
    momentum: torch.Tensor
    beta1: torch.Tensor
    beta2: torch.Tensor
    state: dict[str, Tensors] = field(default_factory=dict)
    steps: int = 0


def _per_member(values: Sequence[float], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(list(values), device=device, dtype=dtype)


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A [k] hyperparameter shaped to broadcast over [k, ...]."""
    return v.reshape(-1, *([1] * (like.dim() - 1)))


class StackedOptimizer:
    """Updates stacked parameters from stacked gradients, member by member hyperparameters."""

    def __init__(self, params: Tensors, optimizers: Sequence[OptimizerSpec], weight_decays: Sequence[float]) -> None:
        if not params:
            raise ValueError("nothing to optimise: the ensemble has no parameters")
        first = next(iter(params.values()))
        k = first.shape[0]
        if len(optimizers) != k or len(weight_decays) != k:
            raise ValueError(f"{k} members but {len(optimizers)} optimizers / {len(weight_decays)} weight decays")
        self.params = params
        device, dtype = first.device, first.dtype
        by_name: dict[str, list[int]] = {}
        for i, spec in enumerate(optimizers):
            by_name.setdefault(spec.name, []).append(i)
        self.groups: list[_Group] = []
        for name, rows in by_name.items():
            specs = [optimizers[i] for i in rows]
            self.groups.append(_Group(
                name=name,
                index=None if len(rows) == k else torch.tensor(rows, device=device),
                lr=_per_member([s.lr for s in specs], device, dtype),
                weight_decay=_per_member([weight_decays[i] for i in rows], device, dtype),
                momentum=_per_member([s.momentum for s in specs], device, dtype),
                beta1=_per_member([s.beta1 for s in specs], device, dtype),
                beta2=_per_member([s.beta2 for s in specs], device, dtype),
            ))

    @torch.no_grad()
    def step(self, grads: Tensors, lr_factor: float = 1.0) -> None:
        """One update of every member; `lr_factor` is the schedule's multiplier of each base lr."""
        for group in self.groups:
            group.steps += 1
            for name, p_all in self.params.items():
                g = grads[name]
                if group.index is None:
                    p = p_all.detach()
                    self._update(group, name, p, g, lr_factor)
                else:
                    p = p_all.detach().index_select(0, group.index)
                    self._update(group, name, p, g.index_select(0, group.index), lr_factor)
                    p_all.detach().index_copy_(0, group.index, p)

    def _state(self, group: _Group, name: str, key: str, like: torch.Tensor) -> torch.Tensor:
        slot = group.state.setdefault(name, {})
        if key not in slot:
            slot[key] = torch.zeros_like(like)
        return slot[key]

    def _update(self, group: _Group, name: str, p: torch.Tensor, g: torch.Tensor, factor: float) -> None:
        """Update `p` in place (a parameter view, or a copy of the group's rows)."""
        lr = _bcast(group.lr, p) * factor
        wd = _bcast(group.weight_decay, p)
        kind = group.name
        if kind == "adamw":
            p.mul_(1 - lr * wd)
        elif bool((group.weight_decay != 0).any()):
            g = g + wd * p
        if kind in ("sgd", "momentum", "nesterov"):
            if kind != "sgd" and bool((group.momentum != 0).any()):
                mu = _bcast(group.momentum, p)
                buf = self._state(group, name, "momentum", p)
                buf.mul_(mu).add_(g)
                g = g + mu * buf if kind == "nesterov" else buf
            p.sub_(lr * g)
        elif kind == "adagrad":
            total = self._state(group, name, "sum", p)
            total.addcmul_(g, g)
            p.sub_(lr * g / (total.sqrt() + ADAGRAD_EPS))
        elif kind == "rmsprop":
            rho = _bcast(group.momentum, p)
            avg = self._state(group, name, "square_avg", p)
            avg.mul_(rho).add_((1 - rho) * g * g)
            p.sub_(lr * g / (avg.sqrt() + RMSPROP_EPS))
        elif kind in ("adam", "adamw"):
            b1, b2 = _bcast(group.beta1, p), _bcast(group.beta2, p)
            m = self._state(group, name, "exp_avg", p)
            v = self._state(group, name, "exp_avg_sq", p)
            m.lerp_(g, 1 - b1)
            v.mul_(b2).add_((1 - b2) * g * g)
            t = group.steps
            bc1 = 1 - b1 ** t
            bc2_sqrt = (1 - b2 ** t).sqrt()
            p.sub_((lr / bc1) * m / (v.sqrt() / bc2_sqrt + ADAM_EPS))
        else:
            raise ValueError(f"no stacked update for optimizer {kind!r}")
