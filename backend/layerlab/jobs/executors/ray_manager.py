"""The detached JobManager actor: owns every job's Ray task, so jobs outlive the API process.

One named actor per cluster (`layerlab-jobs` in namespace `layerlab`), pinned to the head node (the API's
own Ray node goes away with the API container). For each job it starts one streaming-generator task with
the job's resources and keeps what the task yields in a `JobLog`. The API follows a job with `follow`, a
streaming actor method that replays the log after a seq and then waits for more; a restarted API calls
`follow` again from the last seq it stored and misses nothing it had not persisted.

Only bytes cross the process boundaries (see ray_items). The log keeps every text frame, the artifacts
and the end until the API says `forget`; binary (heavy) frames are dropped once delivered, and the oldest
undelivered ones go first beyond `BINARY_BUDGET` bytes (they are latest-wins samples anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import ray
import ray.exceptions

from ... import __version__
from ..model import Reason
from . import ray_items
from .ray_task import StopFlag, job_items, placement

log = logging.getLogger(__name__)

NAMESPACE = "layerlab"
MANAGER_NAME = "layerlab-jobs"
HEAD_RESOURCE = "node:__internal_head__"
CANCEL_AFTER_S = 1.0  # stop ignored this long: ray.cancel (KeyboardInterrupt / GeneratorExit)
FORCE_AFTER_S = 2.0  # ... and this long: ray.cancel(force=True) kills the worker process
BINARY_BUDGET = 64 * 1024 * 1024
BATCH_ITEMS = 512
FINISHED_TTL_S = 3600.0
PROTOCOL = 1  # bump when the manager's methods or items change: an older manager is then replaced


def _job_stream(job: dict[str, Any], manager: Any) -> Iterator[bytes]:
    """One job's items, streamed back to the manager that owns the task."""
    job_id = job["job_id"]
    stop = StopFlag(lambda: bool(ray.get(manager.wait_stop.remote(job_id))))
    yield from job_items(job, stop, lambda: placement(ray.get_gpu_ids(), ray.get_runtime_context().get_node_id()))


# CPU jobs reuse warm worker processes (torch already imported: a job starts in well under a second).
# A GPU job gets a fresh process (max_calls=1): a CUDA context is bound to the GPU it was created on and
# holds memory until its process ends, so a worker never carries one into the next job. Two functions,
# not two wrappers of one: Ray registers max_calls once per function (module and name).
@ray.remote(num_returns="streaming", max_retries=0, retry_exceptions=False)
def run_cpu_job(job: dict[str, Any], manager: Any) -> Iterator[bytes]:
    yield from _job_stream(job, manager)


@ray.remote(num_returns="streaming", max_retries=0, retry_exceptions=False, max_calls=1)
def run_gpu_job(job: dict[str, Any], manager: Any) -> Iterator[bytes]:
    yield from _job_stream(job, manager)


def exit_reason(exc: BaseException) -> str | None:
    """Why a task's stream broke, in the job record's words (None: it was cancelled, as asked)."""
    if isinstance(exc, ray.exceptions.TaskCancelledError):
        return None
    if isinstance(exc, ray.exceptions.OutOfMemoryError):
        return Reason.OOM
    if isinstance(exc, ray.exceptions.NodeDiedError):
        return "worker_died:node_died"
    if isinstance(exc, ray.exceptions.WorkerCrashedError):
        return "worker_died:worker_crashed"
    if isinstance(exc, ray.exceptions.ObjectLostError | ray.exceptions.OwnerDiedError):
        return "worker_died:object_lost"
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        return Reason.exception(type(cause).__name__, str(cause))
    return "worker_died:" + re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


class JobLog:
    """One job's items in arrival order, a wake-up for followers, and the task's handles."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.items: list[bytes | None] = []
        self.binary_bytes = 0
        self.generator: Any = None
        self.consumer: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()
        self.stop_timers: list[asyncio.TimerHandle] = []
        self.started = False
        self.ended_at: float | None = None
        self.created_at = time.time()
        self._wake = asyncio.Event()

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def add(self, item: bytes) -> None:
        tag = ray_items.tag_of(item)
        if tag == ray_items.PLACEMENT:
            self.started = True
        if tag == ray_items.BINARY:
            self.binary_bytes += len(item)
            self._trim_binary()
        self.items.append(item)
        if tag == ray_items.DONE:
            self.ended_at = time.time()
            for timer in self.stop_timers:
                timer.cancel()
            self.stop.set()  # releases the task's stop watcher
        self._wake.set()
        self._wake = asyncio.Event()

    def end(self, reason: str | None) -> None:
        """The stream broke without the task's own `done` item: record the manager's verdict instead."""
        if not self.ended:
            self.add(ray_items.json_item(ray_items.DONE, {"status": None, "reason": reason}))

    def _trim_binary(self) -> None:
        for i, item in enumerate(self.items):
            if self.binary_bytes <= BINARY_BUDGET:
                return
            if item is not None and ray_items.tag_of(item) == ray_items.BINARY:
                self.binary_bytes -= len(item)
                self.items[i] = None

    def take(self, cursor: int, after_seq: int) -> tuple[list[bytes], int]:
        """Items from `cursor` on (frames only with seq > after_seq), at most BATCH_ITEMS; the new cursor.
        Delivered binary frames are dropped: nobody replays heavy frames."""
        out: list[bytes] = []
        while cursor < len(self.items) and len(out) < BATCH_ITEMS:
            item = self.items[cursor]
            if item is not None:
                seq = ray_items.seq_of(item)
                if seq is None or seq > after_seq:
                    out.append(item)
                if ray_items.tag_of(item) == ray_items.BINARY:
                    self.binary_bytes -= len(item)
                    self.items[cursor] = None
            cursor += 1
        return out, cursor

    async def changed(self, cursor: int) -> None:
        if cursor >= len(self.items) and not self.ended:
            await self._wake.wait()

    def state(self) -> dict[str, Any]:
        return {"started": self.started, "ended": self.ended, "stopping": self.stop.is_set() and not self.ended,
                "created_at": self.created_at, "items": len(self.items)}


class JobManager:
    """Async actor: every method runs on the actor's event loop, so the logs need no locks."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobLog] = {}
        self.handle: Any = None

    async def ping(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "version": __version__}

    async def launch(self, job: dict[str, Any], resources: dict[str, float]) -> bool:
        """Start a job's task unless it already exists (a retried launch is harmless); True if started."""
        self._sweep()
        job_id = job["job_id"]
        if job_id in self.jobs:
            return False
        if self.handle is None:
            self.handle = ray.get_runtime_context().current_actor
        entry = JobLog(job_id)
        self.jobs[job_id] = entry
        task = run_gpu_job if resources.get("num_gpus") else run_cpu_job
        entry.generator = task.options(**resources).remote(job, self.handle)
        entry.consumer = asyncio.get_running_loop().create_task(self._consume(entry))
        return True

    async def _consume(self, entry: JobLog) -> None:
        try:
            async for ref in entry.generator:
                entry.add(await ref)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("job %s stream ended: %r", entry.job_id, exc)
            entry.end(exit_reason(exc))
        else:
            entry.end(None if entry.stop.is_set() else "worker_died:stream_ended")

    async def stop(self, job_id: str) -> bool:
        """Ask the task to stop between steps; Ray's cancel after CANCEL_AFTER_S, a forced kill after
        FORCE_AFTER_S. A task Ray has not started yet is cancelled at once."""
        entry = self.jobs.get(job_id)
        if entry is None or entry.ended or entry.stop.is_set():
            return False
        entry.stop.set()
        if not entry.started:
            self._cancel(entry, False)
            return True
        loop = asyncio.get_running_loop()
        entry.stop_timers = [loop.call_later(CANCEL_AFTER_S, self._cancel, entry, False),
                             loop.call_later(FORCE_AFTER_S, self._cancel, entry, True)]
        return True

    @staticmethod
    def _cancel(entry: JobLog, force: bool) -> None:
        if not entry.ended and entry.generator is not None:
            with contextlib.suppress(Exception):
                ray.cancel(entry.generator, force=force)

    async def wait_stop(self, job_id: str) -> bool:
        """Called once by the task's watcher thread: returns when a stop is asked (True) or the job ends."""
        entry = self.jobs.get(job_id)
        if entry is None:
            return False
        await entry.stop.wait()
        return not entry.ended

    async def follow(self, job_id: str, after_seq: int) -> AsyncIterator[bytes]:
        """Packed batches of the job's items (frames with seq > after_seq), live until its `done` item."""
        entry = self.jobs.get(job_id)
        if entry is None:
            yield ray_items.pack([ray_items.json_item(ray_items.DONE,
                                                      {"status": None, "reason": "worker_died:job_unknown"})])
            return
        cursor = 0
        while True:
            items, cursor = entry.take(cursor, after_seq)
            if items:
                yield ray_items.pack(items)
            elif entry.ended and cursor >= len(entry.items):
                return
            else:
                await entry.changed(cursor)

    async def jobs_state(self) -> dict[str, dict[str, Any]]:
        return {job_id: entry.state() for job_id, entry in self.jobs.items()}

    async def forget(self, job_id: str) -> None:
        """The API has recorded the job's end: drop its log (a running job is stopped first)."""
        entry = self.jobs.get(job_id)
        if entry is None:
            return
        if not entry.ended:
            await self.stop(job_id)
            return
        del self.jobs[job_id]

    def _sweep(self) -> None:
        """Logs of ended jobs nobody came back for are dropped after FINISHED_TTL_S."""
        now = time.time()
        for job_id, entry in list(self.jobs.items()):
            if entry.ended_at is not None and now - entry.ended_at > FINISHED_TTL_S:
                del self.jobs[job_id]


def get_or_create_manager() -> Any:
    """The cluster's JobManager (created on the head node the first time); call after ray.init.

    A manager left by another LayerLab version (detached actors outlive upgrades) is replaced when it has
    no unfinished job, and used as it is (with a warning) while it still runs some."""
    options = {"name": MANAGER_NAME, "namespace": NAMESPACE, "lifetime": "detached", "get_if_exists": True,
               "num_cpus": 0, "resources": {HEAD_RESOURCE: 0.001}, "max_concurrency": 10_000, "max_restarts": 0}
    actor = ray.remote(JobManager).options(**options)
    handle = actor.remote()
    found = ray.get(handle.ping.remote(), timeout=120)
    wanted = {"protocol": PROTOCOL, "version": __version__}
    if found == wanted:
        return handle
    states = ray.get(handle.jobs_state.remote(), timeout=60) if isinstance(found, dict) else {}
    if any(not state.get("ended") for state in states.values()):
        log.warning("JobManager %s (wanted %s) still runs jobs: using it until they end", found, wanted)
        return handle
    log.info("replacing JobManager %s with %s", found, wanted)
    ray.kill(handle)
    deadline = time.monotonic() + 30
    while True:  # the name is free once the old actor is seen dead
        try:
            fresh = actor.remote()
            if fresh._actor_id != handle._actor_id:
                ray.get(fresh.ping.remote(), timeout=120)
                return fresh
        except (ValueError, ray.exceptions.RayActorError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("could not replace the cluster's JobManager")
        time.sleep(0.5)
