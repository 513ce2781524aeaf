"""Every lab runner module, imported once, and the check that each declared lab has a runner.

Import this (not the runner modules one by one) wherever labs run: the job worker, the API's lab routes,
the tests. A lab declared in the catalogue without a runner is listed by `missing_runners()`.
"""

from __future__ import annotations

from ..catalogue.labs import LABS
from . import (  # noqa: F401  (each module registers its runners)
    autoencoders,
    bert,
    capacity,
    cnn_filters,
    dropout,
    gradients,
    landscape,
    lottery,
    optimizers,
    pooling,
    recurrent,
    seq2seq,
    transfer,
    transformer_heads,
)
from .base import RUNNERS, Runner


def missing_runners() -> list[str]:
    """Declared labs that no module implements (should be empty)."""
    return [lab_id for lab_id in LABS if lab_id not in RUNNERS]


def runner_for(lab_id: str) -> Runner:
    """The runner of a declared lab; KeyError when there is none."""
    return RUNNERS[lab_id]
