"""The body of one Ray job task: `training.run.job_events` as bytes items, like the local worker's pipe.

It runs in a fresh Ray worker process (the task is declared with max_calls=1: one process per job, as
with the local executor, so GPU memory and threads never leak from one job into the next). The artifact
files are written to a temporary directory on whichever node runs the task and travel back as items just
before the summary frame, so the API machine needs no shared file system with the GPU nodes.

Stop is cooperative first, exactly as in the local worker: a watcher thread waits on the JobManager
(one long-poll call, no per-step cost) and `should_stop` reads its flag between steps. Ray's own cancel
(KeyboardInterrupt / GeneratorExit, then a forced kill) is the manager's escalation when that is ignored.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from . import ray_items

ARTIFACT_ORDER = ("weights.safetensors", "model.onnx")


class StopFlag:
    """Set by a daemon thread once `wait_for_stop()` returns True; read between steps for free."""

    def __init__(self, wait_for_stop: Callable[[], bool] | None) -> None:
        self._event = threading.Event()
        if wait_for_stop is not None:
            threading.Thread(target=self._watch, args=(wait_for_stop,), daemon=True, name="stop-watch").start()

    def _watch(self, wait_for_stop: Callable[[], bool]) -> None:
        try:
            if wait_for_stop():
                self._event.set()
        except Exception:  # the manager is gone: nobody can ask us to stop any more; Ray kills us if needed
            return

    def __call__(self) -> bool:
        return self._event.is_set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()


def placement(gpu_ids: list[Any], node_id: str) -> dict[str, Any]:
    """Where the task runs. It does not touch CUDA: a CPU job's (reused) worker must never initialise it,
    or a later GPU task in the same process would not see the GPU Ray gives it."""
    return {"node_id": node_id, "node_ip": _node_ip(), "hostname": socket.gethostname(), "pid": os.getpid(),
            "gpu_ids": [str(g) for g in gpu_ids],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def _node_ip() -> str:
    try:
        import ray

        return str(ray.util.get_node_ip_address())
    except Exception:
        return ""


def _artifacts(directory: Path) -> Iterator[bytes]:
    for name in ARTIFACT_ORDER:
        path = directory / name
        if path.is_file():
            yield ray_items.artifact_item(name, path.read_bytes())


def job_items(job: dict[str, Any], stop: StopFlag, where: Callable[[], dict[str, Any]]) -> Iterator[bytes]:
    """Placement first, then every frame (artifacts before the summary), then how it ended.

    `job` carries spec, seq_start, threads and gpu (the share asked for). Failures become a `done` item
    with the same reason the local worker reports; a GeneratorExit (Ray's cancel) ends the stream at once.
    """
    # Imported here, not at module level: the JobManager actor imports this module and needs no torch.
    import torch

    from ...training import run

    started = time.monotonic()
    if not job.get("gpu"):
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # a CPU job must not touch a GPU (set before CUDA is used)
    torch.set_num_threads(int(job["threads"]))
    yield ray_items.json_item(ray_items.PLACEMENT, where())
    done: dict[str, Any]
    with TemporaryDirectory(prefix="layerlab-job-") as tmp:
        try:
            frames = run.job_events(job["spec"], seq_start=int(job["seq_start"]), should_stop=stop,
                                    artifact_dir=tmp)
            for frame in frames:
                if frame.type == "summary":
                    yield from _artifacts(Path(tmp))
                yield ray_items.frame_item(frame)
        except GeneratorExit:
            raise
        except BaseException as exc:  # noqa: B036 - MemoryError, KeyboardInterrupt: all become a reason
            done = {"status": "failed", "reason": run.failure_reason(exc)}
        else:
            done = {"status": "stopped" if stop.requested else "succeeded", "reason": None}
    done["seconds"] = round(time.monotonic() - started, 3)
    yield ray_items.json_item(ray_items.DONE, done)
