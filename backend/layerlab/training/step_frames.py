"""Per-step training metrics on the wire: a `step` frame per step, or a `steps` frame when steps come fast.

Every optimizer step's loss, accuracy and lr reach the client (the chapter's curves are per step), but a
small MLP makes a thousand steps a second and neither a browser (it draws ~60 times a second) nor a
classroom's fan-out (one socket write per watcher per frame) gains from a frame each. So a step that
comes STEP_FRAME_S or more after the last frame goes out alone as before:

    {"seq", "type": "metrics", "kind": "step", "step", "epoch", "loss", "accuracy", "lr", "examples",
     "phase", "split": "train"}

and faster steps are held and sent together, at most every STEP_FRAME_S, as columns of equal length:

    {"seq", "type": "metrics", "kind": "steps", "phase", "split": "train",
     "step": [...], "epoch": [...], "loss": [...], "accuracy": [...], "lr": [...], "examples": [...]}

Held steps are sent before any other frame of the job (evaluations, probes, summary, error), so the
stream's order is the training's order. `streaming.steps.expand_steps` turns either form back into rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from ..streaming.protocol import Frame, FrameEncoder
from ..streaming.steps import COLUMNS
from .records import StepRecord

STEP_FRAME_S = 0.02


def record_fields(record: Any) -> dict[str, Any]:
    """A loop record's metrics-frame fields: its own, and `split` (train unless it says)."""
    fields = record.to_json()
    fields.setdefault("split", "train")
    return fields


def step_frame(enc: FrameEncoder, record: StepRecord) -> Frame:
    """One step's frame, formatted directly: the same bytes as encoding `record_fields(record)`, at a quarter
    of the cost (dumping a dict is ~10 µs, a noticeable part of a small MLP's ~700 µs step). Anything
    unusual (a non-float, a non-finite value, an unknown phase) takes the general path."""
    loss, accuracy, lr = record.loss, record.accuracy, record.lr
    if (type(loss) is not float or type(lr) is not float or not (accuracy is None or type(accuracy) is float)
            or record.phase not in ("train", "pretrain")
            or not (math.isfinite(loss) and math.isfinite(lr) and (accuracy is None or math.isfinite(accuracy)))):
        return enc.text("metrics", **record_fields(record))
    acc = "null" if accuracy is None else repr(accuracy)
    return enc.preformatted(
        "metrics",
        f'"kind":"step","step":{int(record.step)},"epoch":{int(record.epoch)},"loss":{loss!r},"accuracy":{acc},'
        f'"lr":{lr!r},"examples":{int(record.examples)},"phase":"{record.phase}","split":"train"',
    )


def steps_frame(enc: FrameEncoder, records: list[StepRecord]) -> Frame:
    """Several steps of one phase as one frame of columns."""
    return enc.text(
        "metrics", kind="steps", phase=records[0].phase, split="train",
        **{name: [getattr(r, name) for r in records] for name in COLUMNS},
    )


class StepFrames:
    """Holds fast steps and hands out their frames; see the module docstring for when."""

    def __init__(self, enc: FrameEncoder, clock: Callable[[], float] = time.monotonic,
                 period: float = STEP_FRAME_S) -> None:
        self.enc = enc
        self.clock = clock
        self.period = period
        self._held: list[StepRecord] = []
        self._last = -math.inf

    def add(self, record: StepRecord) -> list[Frame]:
        """Take one step; the frames due now (none while the step is held)."""
        out = [self._emit()] if self._held and self._held[-1].phase != record.phase else []
        self._held.append(record)
        if self.clock() - self._last >= self.period:
            out.append(self._emit())
        return out

    def drain(self) -> list[Frame]:
        """The held steps' frame, if any: before any other frame of the job."""
        return [self._emit()] if self._held else []

    def _emit(self) -> Frame:
        held, self._held = self._held, []
        self._last = self.clock()
        return step_frame(self.enc, held[0]) if len(held) == 1 else steps_frame(self.enc, held)
