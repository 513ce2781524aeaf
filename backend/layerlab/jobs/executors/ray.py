"""The Ray executor (LAYERLAB_EXECUTOR=ray): jobs as Ray Core streaming-generator tasks on a cluster.

The API process is a Ray driver on a Ray node of its own with zero resources (Ray Client `ray://` cannot
stream generators). Jobs are started and owned by the detached JobManager actor on the head node
(ray_manager.py), so they outlive the API: `close` leaves them running and a restarted API `reattach`es
to them and streams them from the last seq it stored. Per job this process keeps one follower task
reading the manager's `follow` stream: frames go to the job service exactly as the local executor's do,
artifact files are written into the job's directory here, and the task's `done` item becomes `JobExit`.

Resources: a GPU job asks Ray for its slot's `num_gpus` share (0.25 packs four per GPU) and no CPU; a CPU
job asks for `num_cpus` = its threads. The job service sizes its slots from `capacity()` (the cluster's
alive nodes, refreshed every few seconds), so overflow waits in the API's queue with a position; what Ray
still cannot place (a node lost meanwhile) waits in Ray's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import math
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ...settings import Settings
from ..artifacts import atomic_write_bytes
from ..slots import UNITS, Allocation
from . import ray_items
from .base import Capacity, Executor, ExecutorEvents, JobExit, JobLaunch, JobResume

log = logging.getLogger(__name__)
T = TypeVar("T")

CAPACITY_PERIOD_S = 2.0
MAX_RETRY_S = 15.0
INSTALL_HINT = "the Ray executor needs Ray: pip install 'layerlab[ray]' (ray==2.60.0)"


def resources_for(allocation: Allocation) -> dict[str, float]:
    """Ray task options for a slot: its GPU share and no CPU, or as many CPUs as it has threads."""
    if allocation.gpus:
        return {"num_gpus": sum(units for _, units in allocation.gpus) / UNITS, "num_cpus": 0}
    return {"num_gpus": 0, "num_cpus": allocation.threads}


def capacity_of(nodes: list[dict[str, Any]], threads: int) -> Capacity:
    """Capacity of the alive nodes of `ray.nodes()`: CPU slots of `threads` CPUs, and one label per GPU."""
    cpus = 0.0
    gpus: list[str] = []
    for node in sorted(nodes, key=lambda n: (str(n.get("NodeManagerAddress")), str(n.get("NodeID")))):
        if not node.get("Alive"):
            continue
        res = node.get("Resources") or {}
        cpus += float(res.get("CPU", 0))
        kind = next((k.split(":", 1)[1] for k in res if k.startswith("accelerator_type:")), "GPU")
        where = f"{node.get('NodeManagerAddress', '?')}/{str(node.get('NodeID', ''))[:8]}"
        gpus += [f"{kind} {i} on {where}" for i in range(int(res.get("GPU", 0)))]
    return Capacity(cpu_slots=max(1, math.floor(cpus / threads)), threads=threads, gpus=tuple(gpus))


def _in_daemon_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """A blocking Ray call off the event loop, on a daemon thread: unlike asyncio.to_thread, a call stuck
    on an unreachable cluster never holds up the loop's or the interpreter's shutdown."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def work() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn()
        except BaseException as exc:  # noqa: B036 - handed to the awaiting coroutine
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="layerlab-ray-call", daemon=True).start()
    return future


class _Followed:
    """A job this process follows: where its artifacts go and where it runs."""

    def __init__(self, artifact_dir: str) -> None:
        self.artifact_dir = Path(artifact_dir)
        self.task: asyncio.Task[None] | None = None
        self.placement: dict[str, Any] = {}


class RayExecutor(Executor):
    name = "ray"
    keeps_jobs = True

    def __init__(self, settings: Settings) -> None:
        self._address = settings.ray_address or "auto"
        self._threads = settings.jobs.threads_per_job or 1
        self._events: ExecutorEvents | None = None
        self._manager: Any = None
        self._jobs: dict[str, _Followed] = {}
        self._capacity: Capacity | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._connector: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._host = socket.gethostname()

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def start(self, events: ExecutorEvents) -> None:
        """Connect in the background: the API serves (and queues jobs) while the cluster is not there yet."""
        if importlib.util.find_spec("ray") is None:
            raise RuntimeError(INSTALL_HINT)
        if self._address.startswith("ray://"):
            raise RuntimeError(f"LAYERLAB_RAY_ADDRESS={self._address!r}: Ray Client cannot stream generators; "
                               "run `ray start --address=<head>:6379 --num-cpus=0 --num-gpus=0` on the API "
                               "machine and use LAYERLAB_RAY_ADDRESS=auto (or the head's <host>:6379)")
        self._events = events
        self._connected = asyncio.Event()
        self._connector = asyncio.create_task(self._connect_until_done())

    async def _connect_until_done(self) -> None:
        delay = 1.0
        while True:
            try:
                await _in_daemon_thread(self._connect)
                break
            except Exception as exc:
                log.warning("Ray cluster at %s not reachable yet (%s); retrying in %.0f s", self._address,
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__, delay)
                with contextlib.suppress(Exception):
                    import ray

                    await _in_daemon_thread(ray.shutdown)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)
        self._connected.set()
        self._watcher = asyncio.create_task(self._watch_capacity())

    def _connect(self) -> None:
        import ray

        from .ray_manager import NAMESPACE, get_or_create_manager

        if not ray.is_initialized():
            ray.init(address=self._address, namespace=NAMESPACE, logging_level=logging.WARNING,
                     log_to_driver=False)
        self._manager = get_or_create_manager()
        self._capacity = capacity_of(ray.nodes(), self._threads)
        log.info("ray executor connected to %s: %d CPU slots, GPUs %s", self._address,
                 self._capacity.cpu_slots, list(self._capacity.gpus))

    async def ready(self) -> Capacity | None:
        await self._connected.wait()
        return self._capacity

    def capacity(self) -> Capacity | None:
        return self._capacity

    async def _watch_capacity(self) -> None:
        import ray

        while True:
            await asyncio.sleep(CAPACITY_PERIOD_S)
            try:
                fresh = capacity_of(await _in_daemon_thread(ray.nodes), self._threads)
            except Exception:
                log.warning("could not read the Ray cluster's nodes", exc_info=True)
                continue
            if fresh != self._capacity:
                log.info("ray cluster capacity changed: %s -> %s", self._capacity, fresh)
                self._capacity = fresh
                if self._events is not None:
                    self._events.on_capacity(fresh)

    async def close(self) -> None:
        """Stop following; the jobs run on in the cluster (the next API start reattaches to them)."""
        for background in (self._connector, self._watcher):
            if background is not None:
                background.cancel()
        tasks = [f.task for f in self._jobs.values() if f.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()
        with contextlib.suppress(Exception):
            import ray

            await asyncio.wait_for(_in_daemon_thread(ray.shutdown), timeout=5.0)

    # -- jobs ---------------------------------------------------------------------------------------------

    async def launch(self, job: JobLaunch) -> None:
        await self._connected.wait()
        resources = resources_for(job.allocation)
        payload = {"job_id": job.job_id, "spec": job.spec, "seq_start": job.seq_start,
                   "threads": job.allocation.threads, "gpu": resources["num_gpus"]}
        self._jobs[job.job_id] = _Followed(job.artifact_dir)
        try:
            await self._manager.launch.remote(payload, resources)
        except Exception:
            self._jobs.pop(job.job_id, None)
            raise
        self._follow(job.job_id, job.seq_start - 1)

    async def reattach(self, jobs: list[JobResume]) -> set[str]:
        states: dict[str, dict[str, Any]] = await self._manager.jobs_state.remote()
        wanted = {job.job_id for job in jobs}
        for job_id, state in states.items():
            if job_id not in wanted and state["ended"]:
                self._manager.forget.remote(job_id)  # ended while no API was there to record it
        found: set[str] = set()
        for job in jobs:
            if job.job_id in states:
                self._jobs[job.job_id] = _Followed(job.artifact_dir)
                self._follow(job.job_id, job.after_seq)
                found.add(job.job_id)
        return found

    def _follow(self, job_id: str, after_seq: int) -> None:
        self._jobs[job_id].task = asyncio.create_task(self._read(job_id, after_seq), name=f"ray-follow-{job_id}")

    async def _read(self, job_id: str, after_seq: int) -> None:
        """Relay one job's items until its end; a broken follow stream (manager lost) ends the job."""
        try:
            stream = self._manager.follow.options(num_returns="streaming").remote(job_id, after_seq)
            async for ref in stream:
                for item in ray_items.unpack(await ref):
                    if await self._handle(job_id, item):
                        return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("lost the stream of job %s: %r", job_id, exc)
            self._exit(job_id, None, "worker_died:manager_lost")
            return
        self._exit(job_id, None, "worker_died:stream_ended")

    async def _handle(self, job_id: str, item: bytes) -> bool:
        """One item; True once it was the job's end."""
        tag = ray_items.tag_of(item)
        followed = self._jobs.get(job_id)
        if tag in (ray_items.TEXT, ray_items.BINARY):
            if self._events is not None:
                self._events.on_frame(job_id, ray_items.frame_of(item))
        elif tag == ray_items.ARTIFACT and followed is not None:
            name, data = ray_items.artifact_of(item)
            await asyncio.to_thread(atomic_write_bytes, followed.artifact_dir / name, data)
        elif tag == ray_items.PLACEMENT and followed is not None:
            followed.placement = ray_items.json_of(item)
            log.info("job %s runs on %s", job_id, followed.placement)
        elif tag == ray_items.DONE:
            done = ray_items.done_of(item)
            self._exit(job_id, done.status if done.status in ("succeeded", "stopped", "failed") else None,
                       done.reason)
            return True
        return False

    def _exit(self, job_id: str, reported: str | None, reason: str | None) -> None:
        if self._jobs.pop(job_id, None) is None:
            return
        if self._events is not None:
            self._events.on_exit(JobExit(job_id, reported, reason, None))
        with contextlib.suppress(Exception):
            self._manager.forget.remote(job_id)

    def stop(self, job_id: str) -> None:
        if job_id in self._jobs:
            self._manager.stop.remote(job_id)

    def running(self) -> set[str]:
        return set(self._jobs)

    def worker_pid(self, job_id: str) -> int | None:
        """The task's process id when it runs on this machine (a one-host cluster, or a GPU on the API host)."""
        followed = self._jobs.get(job_id)
        if followed is None or followed.placement.get("hostname") != self._host:
            return None
        pid = followed.placement.get("pid")
        return int(pid) if isinstance(pid, int) and pid != os.getpid() else None

    def placement(self, job_id: str) -> dict[str, Any]:
        """Where a followed job runs: node, GPU ids, pid (empty until the task has started)."""
        followed = self._jobs.get(job_id)
        return dict(followed.placement) if followed else {}
