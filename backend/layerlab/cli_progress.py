"""Progress of a followed job for `layerlab submit --follow`, drawn from its stream frames.

On a terminal: one bar redrawn in place (at most 10 times a second) with step, epoch, loss and accuracy,
and a line per evaluation. Into a file or pipe (CI logs, tests): a plain line at every tenth of the run
(or every 2 s when the number of steps is unknown) and per evaluation, never carriage returns.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from .streaming.steps import expand_steps

BAR_WIDTH = 24
REDRAW_S = 0.1
UNKNOWN_TOTAL_EVERY_S = 2.0


class Progress:
    def __init__(self, out: TextIO, total: int | None, *, tty: bool | None = None) -> None:
        self.out = out
        self.total = total
        self.tty = out.isatty() if tty is None else tty
        self.step = 0
        self.epoch: int | None = None
        self.loss: float | None = None
        self.accuracy: float | None = None
        self._drawn = 0.0
        self._bar_shown = False
        self._next_tenth = 1
        self._last_line = time.monotonic()

    def frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "metrics" and frame.get("kind", "step") in ("step", "steps"):
            for row in expand_steps({**frame, "kind": frame.get("kind", "step")}):
                self._step(row)
        elif kind == "metrics" and frame.get("kind") == "eval" and frame.get("split") == "test":
            split, loss, acc = frame.get("split"), frame.get("loss"), frame.get("accuracy")
            self._line(f"epoch {frame.get('epoch')}: {split} loss {_num(loss)}"
                       + (f"  accuracy {_num(acc)}" if acc is not None else ""))
        elif kind == "status":
            self._status(frame)
        elif kind == "log":
            self._line(f"log: {frame.get('message', '')}")
        elif kind == "error":
            self._line(f"error: {frame.get('reason', '')} {frame.get('message', '')}".rstrip())

    def close(self) -> None:
        if self._bar_shown:
            self._draw(force=True)
            self.out.write("\n")
            self._bar_shown = False
        self.out.flush()

    def _status(self, frame: dict[str, Any]) -> None:
        status = frame.get("status")
        if status == "queued":
            where = f" at position {frame['queue_position']}" if frame.get("queue_position") else ""
            self._line(f"queued{where}")
        elif status == "running":
            params = frame.get("params")
            self._line(f"running on {frame.get('device', '?')}" + (f", {params:,} parameters" if params else "")
                       + (f", {self.total:,} steps" if self.total else ""))
        else:
            reason = f" ({frame['reason']})" if frame.get("reason") else ""
            self._line(f"{status}{reason}")

    def _step(self, frame: dict[str, Any]) -> None:
        self.step = max(self.step, int(frame.get("step") or 0))
        self.epoch = frame.get("epoch", self.epoch)
        self.loss = frame.get("loss", self.loss)
        self.accuracy = frame.get("accuracy", self.accuracy)
        if self.tty:
            self._draw()
        elif self.total:
            tenth = min(10, self.step * 10 // self.total)
            if tenth >= self._next_tenth:
                self._next_tenth = tenth + 1
                self._line(self._text())
        elif time.monotonic() - self._last_line >= UNKNOWN_TOTAL_EVERY_S:
            self._line(self._text())

    def _text(self) -> str:
        if self.total:
            done = min(1.0, self.step / self.total)
            filled = round(done * BAR_WIDTH)
            head = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done * 100:3.0f}%  step {self.step}/{self.total}"
        else:
            head = f"step {self.step}"
        parts = [head]
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch}")
        parts.append(f"loss {_num(self.loss)}")
        if self.accuracy is not None:
            parts.append(f"acc {_num(self.accuracy)}")
        return "  ".join(parts)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < REDRAW_S:
            return
        self._drawn = now
        self.out.write("\r\x1b[2K" + self._text())
        self.out.flush()
        self._bar_shown = True

    def _line(self, text: str) -> None:
        if self._bar_shown:
            self.out.write("\r\x1b[2K")
        self.out.write(text + "\n")
        self._last_line = time.monotonic()
        if self._bar_shown:
            self._draw(force=True)
        self.out.flush()


def describe_outcome(job: dict[str, Any]) -> str:
    """One line: how the job ended, with its headline metrics or its reason."""
    status, summary = job["status"], job.get("summary") or {}
    if status != "succeeded":
        return f"job {job['id']} {status}" + (f": {job['reason']}" if job.get("reason") else "")
    facts = [f"{k} {_num(summary[k])}" for k in ("test_accuracy", "test_loss", "train_loss")
             if summary.get(k) is not None]
    took = f" in {summary['seconds']:.1f} s" if isinstance(summary.get("seconds"), int | float) else ""
    return f"job {job['id']} succeeded{took}" + (f": {', '.join(facts)}" if facts else "")


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "-"
