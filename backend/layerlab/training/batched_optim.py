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


Hyper = float | torch.Tensor  # one value for the whole group, or [k] values (one per member)


@dataclass
class _Group:
    """Members sharing one optimizer family: their row indices, hyperparameters and state."""

    name: str
    index: torch.Tensor | None  # None: every member, in order
    hyper: dict[str, Hyper]
    state: dict[str, Tensors] = field(default_factory=dict)
    steps: int = 0


def _hyper(values: Sequence[float], device: torch.device, dtype: torch.dtype) -> Hyper:
    """A Python float when every member agrees (torch.optim's exact arithmetic), else a [k] tensor."""
    if all(v == values[0] for v in values):
        return float(values[0])
    return torch.tensor(list(values), device=device, dtype=dtype)


def _shape(h: Hyper, like: torch.Tensor) -> Hyper:
    """A per-member hyperparameter shaped to broadcast over [k, ...]; a float stays a float."""
    return h if isinstance(h, float) else h.reshape(-1, *([1] * (like.dim() - 1)))


def _nonzero(h: Hyper) -> bool:
    return h != 0 if isinstance(h, float) else bool((h != 0).any())


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
            columns = {"lr": [s.lr for s in specs], "weight_decay": [weight_decays[i] for i in rows],
                       "momentum": [s.momentum for s in specs], "beta1": [s.beta1 for s in specs],
                       "beta2": [s.beta2 for s in specs]}
            self.groups.append(_Group(
                name=name,
                index=None if len(rows) == k else torch.tensor(rows, device=device),
                hyper={key: _hyper(vals, device, dtype) for key, vals in columns.items()},
            ))

    @torch.no_grad()
    def step(self, grads: Tensors, lr_factor: float = 1.0) -> None:
        """One update of every member; `lr_factor` is the schedule's multiplier of each base lr."""
        for group in self.groups:
            group.steps += 1
            for name, p_all in self.params.items():
                g = grads[name]
                if group.index is None:
                    self._update(group, name, p_all.detach(), g, lr_factor)
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
        h = {key: _shape(v, p) for key, v in group.hyper.items()}
        lr = h["lr"] * factor
        wd = h["weight_decay"]
        kind = group.name
        if kind == "adamw":
            if _nonzero(wd):
                p.mul_(1 - lr * wd)
        elif _nonzero(wd):
            g = g + wd * p
        if kind in ("sgd", "momentum", "nesterov"):
            mu = h["momentum"]
            if kind != "sgd" and _nonzero(mu):
                buf = self._state(group, name, "momentum", p)
                buf.mul_(mu).add_(g)
                g = g + mu * buf if kind == "nesterov" else buf
            _descend(p, g, lr)
        elif kind == "adagrad":
            total = self._state(group, name, "sum", p)
            total.addcmul_(g, g)
            _descend(p, g / total.sqrt().add_(ADAGRAD_EPS), lr)
        elif kind == "rmsprop":
            rho = h["momentum"]
            avg = self._state(group, name, "square_avg", p)
            if isinstance(rho, float):
                avg.mul_(rho).addcmul_(g, g, value=1 - rho)
            else:
                avg.mul_(rho).add_((1 - rho) * g * g)
            _descend(p, g / avg.sqrt().add_(RMSPROP_EPS), lr)
        elif kind in ("adam", "adamw"):
            self._adam(group, name, p, g, lr, h["beta1"], h["beta2"])
        else:
            raise ValueError(f"no stacked update for optimizer {kind!r}")

    def _adam(self, group: _Group, name: str, p: torch.Tensor, g: torch.Tensor, lr: Hyper, b1: Hyper, b2: Hyper
              ) -> None:
        m = self._state(group, name, "exp_avg", p)
        v = self._state(group, name, "exp_avg_sq", p)
        t = group.steps
        m.lerp_(g, 1 - b1)
        if isinstance(b2, float):
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
        else:
            v.mul_(b2).add_((1 - b2) * g * g)
        bc1 = 1 - b1 ** t
        bc2_sqrt = (1 - b2 ** t) ** 0.5
        denom = (v.sqrt() / bc2_sqrt).add_(ADAM_EPS)
        step = lr / bc1
        if isinstance(step, float):
            p.addcdiv_(m, denom, value=-step)
        else:
            p.sub_(step * m / denom)


def _descend(p: torch.Tensor, direction: torch.Tensor, lr: Hyper) -> None:
    """p ← p − lr·direction, with lr one float or one value per member."""
    if isinstance(lr, float):
        p.add_(direction, alpha=-lr)
    else:
        p.sub_(lr * direction)
