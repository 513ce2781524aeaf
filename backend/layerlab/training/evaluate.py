"""Whole-split evaluation in eval mode, including greedy decoding for encoder–decoder models.

Seq2seq models train with teacher forcing (the true previous token is fed as `tgt_in`), but that
overstates what they can do alone. `greedy_decode` feeds the model's own predictions back token
by token, so the test accuracy reported is the accuracy of real generation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .losses import Objective


@dataclass(frozen=True)
class DeviceSplit:
    """A split already on the training device, inputs in the model's argument order."""

    inputs: tuple[torch.Tensor, ...]
    target: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.target.shape[0])


def greedy_decode(model: nn.Module, inputs: tuple[torch.Tensor, ...], position: int, fill: int) -> torch.Tensor:
    """Logits [B,T',V] produced when the decoder input at argument `position` is built from the model's
    own argmax predictions (its first token, BOS, is kept). Positions not yet generated hold `fill`;
    a causal decoder never looks at them."""
    given = inputs[position]
    buf = torch.full_like(given, fill)
    buf[:, 0] = given[:, 0]
    args = list(inputs)
    args[position] = buf
    length = given.shape[1]
    out = model(*args)
    for t in range(length - 1):
        buf[:, t + 1] = out[:, t].argmax(-1)
        out = model(*args)
    return out


@torch.no_grad()
def evaluate(
    model: nn.Module,
    split: DeviceSplit,
    objective: Objective,
    *,
    batch_size: int = 512,
    decoder_position: int | None = None,
) -> tuple[float, float | None]:
    """(mean loss, accuracy or None) over a split. With `decoder_position` the loss stays teacher-forced
    (comparable with training) and accuracy comes from greedy decoding."""
    was_training = model.training
    model.eval()
    device = split.target.device
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct_sum = torch.zeros((), device=device, dtype=torch.float64)
    counted_sum = torch.zeros((), device=device, dtype=torch.float64)
    fill = max(objective.ignore_index, 0)
    try:
        for start in range(0, split.size, batch_size):
            xs = tuple(x[start:start + batch_size] for x in split.inputs)
            y = split.target[start:start + batch_size]
            out = model(*xs)
            loss = objective.loss(out, y)
            if decoder_position is not None:
                out = greedy_decode(model, xs, decoder_position, fill)
            correct, counted = objective.counts(out, y)
            loss_sum += loss.double() * counted
            correct_sum += correct
            counted_sum += counted
    finally:
        model.train(was_training)
    total, loss_total, correct_total = torch.stack((counted_sum, loss_sum, correct_sum)).tolist()
    if total == 0:
        return float("nan"), None
    accuracy = correct_total / total if objective.has_accuracy else None
    return loss_total / total, accuracy
