"""A lab as a job: the stored payload, and the worker-side generator that turns a runner's emits into frames.

The runner runs on a helper thread and reports through a FrameContext (a queue); the generator, on the
worker's own thread, encodes what arrives as wire frames (scalar events as `metrics`/`log` text frames,
tensors as binary frames with their meta in the header) and checks the job's stop flag between them, so
all pipe traffic stays on one thread. The summary frame carries LabOutcome.to_json().
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..catalogue.labs import LabParams
from ..streaming.protocol import Frame, FrameEncoder
from ..training.run import with_error_frame
from .base import LabOutcome, LabStopped
from .registry import runner_for

_POLL_S = 0.05
_SCALAR_TYPES = ("metrics", "log")


def lab_payload(lab_id: str, params: LabParams) -> dict[str, Any]:
    """What a lab job stores (its `spec`); labs run on the CPU."""
    return {"kind": "lab", "lab": lab_id, "params": params.model_dump(mode="json"), "train": {"device": "cpu"}}


class FrameContext:
    """A LabContext whose emits go onto a queue that the job's generator drains."""

    def __init__(self) -> None:
        self.items: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.stop = threading.Event()

    def emit(self, event: dict[str, Any]) -> None:
        self.items.put(("text", dict(event)))

    def emit_tensor(self, kind: str, node: str, array: np.ndarray, step: int, meta: dict[str, Any] | None = None
                    ) -> None:
        self.items.put(("tensor", kind, node, np.array(array, dtype=np.float32), int(step), dict(meta or {})))

    def should_stop(self) -> bool:
        return self.stop.is_set()


def _frame(enc: FrameEncoder, item: tuple[Any, ...]) -> Frame:
    if item[0] == "tensor":
        _, kind, node, array, step, meta = item
        return enc.tensor(kind, node, step, array, meta=meta)
    event = dict(item[1])
    kind = event.pop("type", "metrics")
    if kind not in _SCALAR_TYPES:  # a runner's own event name travels as a field of a metrics frame
        event["event"] = kind
        kind = "metrics"
    return enc.text(kind, **event)


def lab_events(
    payload: dict[str, Any], *, seq_start: int, should_stop: Callable[[], bool], artifact_dir: str | Path
) -> Iterator[Frame]:
    enc = FrameEncoder(seq_start)
    yield from with_error_frame(enc, _run(payload, enc, should_stop))


def _run(payload: dict[str, Any], enc: FrameEncoder, should_stop: Callable[[], bool]) -> Iterator[Frame]:
    lab_id = payload["lab"]
    params = LabParams.model_validate(payload["params"])
    runner = runner_for(lab_id)
    ctx = FrameContext()
    result: dict[str, Any] = {}
    threads = torch.get_num_threads()

    def work() -> None:
        torch.set_num_threads(threads)
        try:
            result["outcome"] = runner(params, ctx)
        except BaseException as exc:  # noqa: B036 - handed to the generator, which reports and re-raises it
            result["error"] = exc

    started = time.perf_counter()
    yield enc.text("status", status="running", lab=lab_id, scale=params.scale, seed=params.seed, threads=threads)
    thread = threading.Thread(target=work, name=f"lab-{lab_id}", daemon=True)
    thread.start()
    try:
        while thread.is_alive() or not ctx.items.empty():
            if not ctx.stop.is_set() and should_stop():
                ctx.stop.set()
            try:
                item = ctx.items.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            yield _frame(enc, item)
    finally:
        if thread.is_alive():  # the generator was closed early (e.g. Ray's cancel): let the runner end too
            ctx.stop.set()
    thread.join()
    seconds = time.perf_counter() - started
    error = result.get("error")
    if isinstance(error, LabStopped) or (error is None and ctx.stop.is_set() and "outcome" not in result):
        yield enc.text("summary", lab=lab_id, stop_reason="stopped", seconds=seconds)
        return
    if error is not None:
        raise error
    outcome: LabOutcome = result["outcome"]
    stop_reason = "stopped" if ctx.stop.is_set() else "completed"
    yield enc.text("summary", lab=lab_id, params=params.model_dump(mode="json"), stop_reason=stop_reason,
                   seconds=seconds, **outcome.to_json())
