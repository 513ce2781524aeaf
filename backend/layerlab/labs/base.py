"""The lab runner contract: a lab runs inside a job's worker and reports through a LabContext.

A runner is `fn(params: LabParams, ctx: LabContext) -> LabOutcome`. It trains real models (reduced when
params.scale == "quick"), streams what it measures through ctx (scalar events and tensor frames), checks
the chapter's claim on the measured numbers and returns them with a verdict in en/ja. A runner that sees
`ctx.should_stop()` may return early or raise LabStopped; either way the job ends `cancelled`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..catalogue.base import Text
from ..catalogue.labs import LABS, LabParams


class LabContext(Protocol):
    def emit(self, event: dict[str, Any]) -> None:
        """A scalar event, e.g. {"type": "metrics", "variant": "relu", "step": 3, "loss": 0.4}."""

    def emit_tensor(self, kind: str, node: str, array: np.ndarray, step: int, meta: dict[str, Any] | None = None
                    ) -> None:
        """A heavy frame (landscape grid, alignment map, attention heads, reconstructions...); `meta` adds small
        JSON fields to its header that say how to read it (a grid's extent, axis names)."""

    def should_stop(self) -> bool:
        """True once the job was cancelled; runners check it between steps."""


class LabStopped(Exception):
    """Raised by a runner that noticed `ctx.should_stop()`: the lab ends without an outcome."""


@dataclass
class LabOutcome:
    measurements: dict[str, Any]
    claim_holds: bool
    verdict: Text
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"measurements": self.measurements, "claim_holds": self.claim_holds,
                "verdict": self.verdict.to_json(), **self.extra}


@dataclass
class RecordingContext:
    """A LabContext that keeps everything in memory: used by tests and by `layerlab lab` runs."""

    events: list[dict[str, Any]] = field(default_factory=list)
    tensors: list[tuple[str, str, np.ndarray, int]] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)  # tensors[i]'s meta, {} when none
    stop: Callable[[], bool] = lambda: False

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def emit_tensor(self, kind: str, node: str, array: np.ndarray, step: int, meta: dict[str, Any] | None = None
                    ) -> None:
        self.tensors.append((kind, node, array, step))
        self.metas.append(dict(meta or {}))

    def should_stop(self) -> bool:
        return self.stop()


Runner = Callable[[LabParams, LabContext], LabOutcome]
RUNNERS: dict[str, Runner] = {}


def lab_runner(lab_id: str) -> Callable[[Runner], Runner]:
    """Register the runner of a declared lab (the declaration must exist: one source of truth)."""

    def register(fn: Runner) -> Runner:
        if lab_id not in LABS:
            raise ValueError(f"runner for undeclared lab {lab_id!r}")
        if lab_id in RUNNERS:
            raise ValueError(f"lab {lab_id!r} has two runners")
        RUNNERS[lab_id] = fn
        return fn

    return register
