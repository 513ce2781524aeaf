"""Training objectives: which loss a job minimises and how its accuracy is counted.

`resolve_loss` turns the spec's `loss` (possibly "auto") into a concrete kind from the data set's task;
`Objective` computes the mean loss and the (correct, counted) pair that accuracy is made of, so the
loop needs only one device→host sync per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

LossKind = Literal["cross_entropy", "mse", "bce", "sequence_cross_entropy"]

_SEQUENCE_TASKS = frozenset({"seq2seq", "sequence_labeling"})


def resolve_loss(name: str, *, task: str, target: str) -> LossKind:
    """Pick the concrete loss: an explicit choice wins; "auto" follows the task (MSE when target=input)."""
    if name == "cross_entropy" or name == "mse" or name == "bce" or name == "sequence_cross_entropy":
        return name
    if name != "auto":
        raise ValueError(f"unknown loss {name!r}")
    if target == "input" or task == "regression":
        return "mse"
    if task in _SEQUENCE_TASKS:
        return "sequence_cross_entropy"
    return "cross_entropy"


def _ce(out: torch.Tensor, y: torch.Tensor, pad: int) -> torch.Tensor:
    return F.cross_entropy(out, y)


def _seq_ce(out: torch.Tensor, y: torch.Tensor, pad: int) -> torch.Tensor:
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=pad)


def _mse(out: torch.Tensor, y: torch.Tensor, pad: int) -> torch.Tensor:
    return F.mse_loss(out, y.reshape(out.shape).to(out.dtype))


def _bce(out: torch.Tensor, y: torch.Tensor, pad: int) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(out.reshape(y.shape), y.to(out.dtype))


_LOSS_FNS: dict[str, Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]] = {
    "cross_entropy": _ce,
    "sequence_cross_entropy": _seq_ce,
    "mse": _mse,
    "bce": _bce,
}


@dataclass(frozen=True)
class Objective:
    """A concrete loss plus its accuracy rule. `pad_index` is ignored by sequence losses and accuracy."""

    kind: LossKind
    pad_index: int | None = None

    @property
    def has_accuracy(self) -> bool:
        return self.kind != "mse"

    @property
    def ignore_index(self) -> int:
        return -100 if self.pad_index is None else self.pad_index

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch (over samples, or over non-pad tokens for sequences)."""
        return _LOSS_FNS[self.kind](out, y, self.ignore_index)

    def counts(self, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | int]:
        """(number correct, number counted); `counted` also weighs the batch's mean loss in evaluation."""
        if self.kind == "cross_entropy":
            return (out.argmax(-1) == y).sum(), y.numel()
        if self.kind == "sequence_cross_entropy":
            mask = y != self.ignore_index
            return ((out.argmax(-1) == y) & mask).sum(), mask.sum()
        if self.kind == "bce":
            return ((out.reshape(y.shape) > 0) == (y > 0.5)).sum(), y.numel()
        return torch.zeros((), device=out.device), out.numel()

    def step_stats(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> tuple[float, float | None]:
        """(loss, accuracy) of a training batch as Python floats, with a single device→host sync."""
        if not self.has_accuracy:
            return loss.item(), None
        correct, counted = self.counts(out.detach(), y)
        if isinstance(counted, int):
            lv, cv = torch.stack((loss.detach(), correct.to(loss.dtype))).tolist()
            return lv, cv / counted if counted else None
        lv, cv, nv = torch.stack((loss.detach(), correct.to(loss.dtype), counted.to(loss.dtype))).tolist()
        return lv, cv / nv if nv else None
