"""Learning-rate schedules as a pure factor of the step, applied by the loop before every step.

A closed form (rather than torch.optim.lr_scheduler objects) keeps the hot path to one multiply
and lets the UI and tests draw the exact curve a job will follow.
"""

from __future__ import annotations

import math

from ..catalogue.training import ScheduleSpec


def lr_factor(spec: ScheduleSpec, step: int, *, steps_per_epoch: int, total_steps: int) -> float:
    """Multiplier of the base lr for 0-based `step` (the step about to be taken)."""
    name = spec.name
    if name == "constant":
        return 1.0
    if name == "step":
        epoch = step // max(steps_per_epoch, 1)
        return spec.gamma ** (epoch // spec.step_size)
    if name == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1)))
    if name == "linear_warmup":
        return min(1.0, (step + 1) / spec.warmup_steps)
    raise ValueError(f"unknown schedule {name!r}")


def lr_curve(spec: ScheduleSpec, base_lr: float, *, steps_per_epoch: int, total_steps: int) -> list[float]:
    """The lr of every step of a run, e.g. for a preview plot."""
    return [
        base_lr * lr_factor(spec, s, steps_per_epoch=steps_per_epoch, total_steps=total_steps)
        for s in range(total_steps)
    ]
