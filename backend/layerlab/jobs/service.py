"""The job service: submissions, the queue pump, executor events, caps on wall clock, and terminal states.

It lives in the API process, on the event loop. The store is the truth; the executor only reports facts
(`JobExit`), and this module decides the terminal state from them and from what it asked for (cancel,
timeout, shutdown). The API itself emits only two status frames per job: `queued` at submission and the
terminal one, numbered after the highest seq the worker produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import time
import uuid
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..catalogue.errors import SpecError
from ..catalogue.spec import JobSpec
from ..settings import Settings
from ..streaming.protocol import Frame
from .artifacts import atomic_write_bytes, job_dir
from .events import EventRouter, EventWriter
from .executors.base import Capacity, Executor, JobExit, JobLaunch, JobResume
from .model import JobRecord, JobStatus, Reason
from .scheduler import Scheduler
from .slots import SlotPool
from .store import EventRow, JobStore, sqlite_path

log = logging.getLogger(__name__)
_WORKER_VERDICTS = {"succeeded": JobStatus.SUCCEEDED, "failed": JobStatus.FAILED}


class JobNotFound(Exception):
    pass


class JobConflict(Exception):
    """The job is not in a state that allows the request (e.g. cancel of a finished job)."""


@dataclass(frozen=True)
class JobView:
    record: JobRecord
    queue_position: int | None
    worker_pid: int | None


class JobService:
    def __init__(self, settings: Settings, executor: Executor | None = None) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        jobs = settings.jobs
        self.pool = SlotPool(cpu_slots=jobs.cpu_slots, cores=os.cpu_count() or 1, gpu_count=_gpu_count(),
                             threads_per_job=jobs.threads_per_job)
        self.scheduler = Scheduler(settings.limits, self.pool, jobs.gpu_share)
        self.executor = executor or _default_executor(settings)
        self.store: JobStore | None = None
        self.router: EventRouter | None = None
        self._running: dict[str, str] = {}  # job id -> owner, for jobs this process launched
        self._intent: dict[str, tuple[JobStatus, str | None]] = {}
        self._summary: dict[str, dict[str, Any]] = {}
        self._deadlines: dict[str, asyncio.TimerHandle] = {}
        self._launching: dict[str, asyncio.Task[None]] = {}  # jobs waiting for a worker to take them
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._adopting = False

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, mark jobs a previous process left running as interrupted, start the executor."""
        self.store = JobStore(sqlite_path(self.settings.database_url))
        self.router = EventRouter(EventWriter(self.store))
        await self.executor.start(self)
        if self.executor.keeps_jobs:  # Ray: adopt what still runs once the cluster answers (it may be later)
            self._adopting = True
            self._spawn(self._adopt())
            return
        self._reconcile(set())
        self._pump()

    def _reconcile(self, kept: set[str]) -> None:
        for job_id, seq in self._db.reconcile(Reason.API_RESTART, keep=kept):
            self._events.status(job_id, seq, status=JobStatus.INTERRUPTED.value, reason=Reason.API_RESTART)
        self._events.writer.flush()

    async def _adopt(self) -> None:
        """Executors whose jobs outlive the API: wait until connected, size the slots to the cluster,
        reattach to the jobs it still runs, reconcile the others, then start the queue."""
        capacity = await self.executor.ready()
        if capacity is not None:  # a cluster: slots mirror its nodes, not this machine
            self.pool = SlotPool(cpu_slots=capacity.cpu_slots, cores=capacity.cpu_slots * capacity.threads,
                                 gpu_count=len(capacity.gpus), threads_per_job=capacity.threads)
            self.scheduler.pool = self.pool
        self._reconcile(await self._reattach())
        self._adopting = False
        self._pump()

    async def _reattach(self) -> set[str]:
        """Jobs the store has as running and the executor still runs (Ray): followed again, holding their
        slots, with what is left of their wall-clock cap. The rest are reconciled as interrupted."""
        records, _ = self._db.list_jobs(owner=None, statuses=[JobStatus.RUNNING], limit=1_000_000)
        if not records:
            return set()
        resumes = [JobResume(r.id, r.last_seq, str(self.artifact_dir(r.id))) for r in records]
        kept = await self.executor.reattach(resumes)
        loop = asyncio.get_running_loop()
        for record in records:
            full = self._db.get(record.id) if record.id in kept else None
            if full is None:
                continue
            device = str(((full.spec or {}).get("train") or {}).get("device", "auto"))
            self.pool.acquire(record.id, self.scheduler.request_for(device))  # None if the cluster shrank
            self._running[record.id] = record.owner
            left = self.settings.limits.max_wall_seconds - (time.time() - (record.started_at or time.time()))
            self._deadlines[record.id] = loop.call_later(max(0.0, left), self._timeout, record.id)
            log.info("reattached to running job %s", record.id)
        return kept

    async def stop(self) -> None:
        """Graceful shutdown: running jobs are stopped and end `interrupted` with reason `shutdown` — except
        with an executor that keeps jobs (Ray): they run on in the cluster and the next start reattaches."""
        self._stopping = True
        keep = self.executor.keeps_jobs
        for job_id in [] if keep else list(self._running):
            self._intent[job_id] = (JobStatus.INTERRUPTED, Reason.SHUTDOWN)
        for task in list(self._launching.values()):
            task.cancel()
        await asyncio.sleep(0)  # let cancelled launches record their jobs as interrupted
        await self.executor.close()
        for job_id in [] if keep else list(self._running):  # launched but never reported (e.g. still starting)
            self._finish(job_id, JobStatus.INTERRUPTED, Reason.SHUTDOWN)
        for task in list(self._tasks):
            task.cancel()
        assert self.store is not None and self.router is not None
        self.router.writer.flush()
        self.store.close()

    @property
    def _db(self) -> JobStore:
        assert self.store is not None, "JobService.start() was not awaited"
        return self.store

    @property
    def _events(self) -> EventRouter:
        assert self.router is not None, "JobService.start() was not awaited"
        return self.router

    # -- requests -----------------------------------------------------------------------------------------

    def submit(
        self, owner: str, spec: JobSpec, *, idempotency_key: str | None = None, request_hash: str | None = None
    ) -> tuple[JobView, bool]:
        """Queue a validated spec; (view, created). Raises QueueFull/UserQueueFull/IdempotencyConflict."""
        if idempotency_key is not None:
            earlier = self._db.find_idempotent(owner, idempotency_key, request_hash)
            if earlier is not None:
                return self.view(earlier), False
        self._check_device(spec.train.device)
        self._admit(owner, 1)
        return self._create(owner, spec.name, spec.model_dump(mode="json"), spec, idempotency_key, request_hash)

    def submit_task(self, owner: str, payload: dict[str, Any], *, name: str | None) -> JobView:
        """Queue a lab or batched-study job. `payload` is stored as the job's spec: its `kind` tells the worker
        what to run (training/run.job_events) and its train.device is read by the scheduler as a job's is."""
        self._check_device(str((payload.get("train") or {}).get("device", "cpu")))
        self._admit(owner, 1)
        return self._create(owner, name, payload, None)[0]

    def submit_group(self, owner: str, specs: list[JobSpec]) -> list[JobView]:
        """Queue several jobs admitted as one request (a study of separate jobs): each takes a place of the
        global queue, and together they count as one submission against the owner's queued cap."""
        for spec in specs:
            self._check_device(spec.train.device)
        self._admit(owner, len(specs))
        return [self._create(owner, spec.name, spec.model_dump(mode="json"), spec)[0] for spec in specs]

    def _check_device(self, device: str) -> None:
        if not self.pool.can_ever_fit(self.scheduler.request_for(device)):
            raise SpecError(f"train.device is {device!r} but this server has no GPU; use 'auto' or 'cpu'",
                            loc=["train", "device"])

    def _admit(self, owner: str, count: int) -> None:
        """Raise QueueFull/UserQueueFull unless `count` more jobs fit the queue and the owner may submit."""
        self.scheduler.admit(owner_queued=self._db.count(status=JobStatus.QUEUED, owner=owner),
                             total_queued=self._db.count(status=JobStatus.QUEUED) + count - 1)

    def _create(
        self, owner: str, name: str | None, stored: dict[str, Any], spec: JobSpec | None,
        idempotency_key: str | None = None, request_hash: str | None = None,
    ) -> tuple[JobView, bool]:
        job_id = uuid.uuid4().hex
        self._write_static_artifacts(job_id, spec, stored)
        record, created = self._db.create_job(job_id=job_id, owner=owner, name=name, spec=stored,
                                               idempotency_key=idempotency_key, request_hash=request_hash)
        if created:
            position = self.scheduler.positions(self._db.queued()).get(job_id)
            self._events.status(job_id, 0, status=JobStatus.QUEUED.value, queue_position=position)
            self._events.writer.flush()  # an accepted job's first event is durable before the 201
            asyncio.get_running_loop().call_soon(self._pump)  # after the answer is built: it says "queued"
        return self.view(self._db.get(record.id) or record), created

    def get(self, owner: str | Set[str], job_id: str) -> JobView:
        """`owner`: the caller's id, or every owner they may see (a teacher's class)."""
        record = self._db.get(job_id)
        if record is None or not _sees(owner, record.owner):
            raise JobNotFound(job_id)  # another user's job is as absent as a missing one
        return self.view(record)

    def view(self, record: JobRecord) -> JobView:
        position = None
        if record.status is JobStatus.QUEUED:
            position = self.scheduler.positions(self._db.queued()).get(record.id)
        pid = self.executor.worker_pid(record.id) if record.status is JobStatus.RUNNING else None
        return JobView(record, position, pid)

    def list(
        self, owner: str | Set[str], statuses: list[JobStatus], limit: int, offset: int
    ) -> tuple[list[JobView], int]:
        records, total = self._db.list_jobs(owner=owner, statuses=statuses, limit=limit, offset=offset)
        positions = self.scheduler.positions(self._db.queued()) if any(r.status is JobStatus.QUEUED
                                                                        for r in records) else {}
        return [JobView(r, positions.get(r.id), self.executor.worker_pid(r.id)) for r in records], total

    def cancel(self, owner: str | Set[str], job_id: str) -> JobView:
        """A queued job is cancelled at once; a running one is asked to stop and ends cancelled."""
        record = self.get(owner, job_id).record
        if record.status is JobStatus.QUEUED:
            if self._finish(job_id, JobStatus.CANCELLED, None):
                return self.get(owner, job_id)
            record = self.get(owner, job_id).record  # it started meanwhile
        if record.status is JobStatus.RUNNING:
            self._stop(job_id, JobStatus.CANCELLED, None)
            return self.view(record)
        raise JobConflict(f"job {job_id} is already {record.status.value}")

    def events(
        self, owner: str | Set[str], job_id: str, after_seq: int, types: tuple[str, ...], limit: int
    ) -> list[EventRow]:
        """Stored text frames after `after_seq`, including those not yet flushed to disk."""
        self.get(owner, job_id)
        rows = self._db.events(job_id, after_seq=after_seq, types=types, limit=limit)
        last = rows[-1].seq if rows else after_seq
        pending = self._events.writer.pending(job_id, last, types)
        return (rows + pending)[:limit]

    def artifact_dir(self, job_id: str) -> Path:
        return job_dir(self.data_dir, job_id)

    def _write_static_artifacts(self, job_id: str, spec: JobSpec | None, stored: dict[str, Any]) -> None:
        """spec.json and model.py depend only on the spec: written at submission, before the job is visible.
        A lab or study job (no single model) gets spec.json only."""
        from ..training.export_py import model_py

        directory = self.artifact_dir(job_id)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(directory / "spec.json", json.dumps(stored, indent=2, ensure_ascii=False).encode())
        if spec is None:
            return
        try:
            code = model_py(spec.model)
        except Exception:  # an export gap must not refuse a valid job; the artifact is then just absent
            log.exception("model.py export failed for job %s", job_id)
            return
        atomic_write_bytes(directory / "model.py", code.encode())

    # -- the queue ----------------------------------------------------------------------------------------

    def _pump(self) -> None:
        """Start every queued job that fits now (fairness and caps per the scheduler)."""
        if self._stopping or self.store is None or self._adopting:
            return
        running_per_owner: dict[str, int] = {}
        for owner in self._running.values():
            running_per_owner[owner] = running_per_owner.get(owner, 0) + 1
        for start in self.scheduler.pick(self._db.queued(), running_per_owner):
            job = start.job
            if not self._db.transition(job.id, JobStatus.RUNNING, device=start.allocation.describe()):
                self.pool.release(job.id)
                continue
            self._running[job.id] = job.owner
            launch = JobLaunch(job.id, job.spec, self._events.next_seq(job.id, job.last_seq),
                               str(self.artifact_dir(job.id)), start.allocation)
            self._deadlines[job.id] = asyncio.get_running_loop().call_later(
                self.settings.limits.max_wall_seconds, self._timeout, job.id)
            task = self._spawn(self._launch(launch))
            self._launching[job.id] = task
            task.add_done_callback(functools.partial(self._launched, job.id))

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _launch(self, launch: JobLaunch) -> None:
        try:
            await self.executor.launch(launch)
        except Exception as exc:
            if self._stopping:  # the executor closed while this job waited for its worker
                self._finish(launch.job_id, JobStatus.INTERRUPTED, Reason.SHUTDOWN)
                return
            log.exception("could not start job %s", launch.job_id)
            self._finish(launch.job_id, JobStatus.FAILED, Reason.exception(type(exc).__name__, str(exc)))

    def _launched(self, job_id: str, task: asyncio.Task[None]) -> None:
        """A launch that was cancelled (cancel, timeout or shutdown before a worker took the job) ends here."""
        self._launching.pop(job_id, None)
        if task.cancelled() and job_id in self._running and job_id not in self.executor.running():
            self._finish(job_id, *self._intent.get(job_id, (JobStatus.INTERRUPTED, Reason.SHUTDOWN)))

    def _stop(self, job_id: str, status: JobStatus, reason: str | None) -> None:
        """Ask a running job to end as `status`: drop it if no worker has it yet, else stop its worker."""
        self._intent.setdefault(job_id, (status, reason))
        pending = self._launching.get(job_id)
        if pending is not None:
            pending.cancel()
        else:
            self.executor.stop(job_id)

    def _timeout(self, job_id: str) -> None:
        if job_id in self._running:
            log.info("job %s reached its wall-clock cap", job_id)
            self._stop(job_id, JobStatus.FAILED, Reason.TIMEOUT)

    # -- executor events ----------------------------------------------------------------------------------

    def on_frame(self, job_id: str, frame: Frame) -> None:
        if frame.type == "summary":
            with contextlib.suppress(ValueError):
                self._summary[job_id] = {k: v for k, v in json.loads(frame.data).items() if k not in ("seq", "type")}
        self._events.publish(job_id, frame)

    def on_exit(self, result: JobExit) -> None:
        """Decide the terminal state: the worker's own verdict, else what we asked for, else how it died."""
        intent = self._intent.get(result.job_id)
        verdict = _WORKER_VERDICTS.get(result.reported or "")
        if verdict is JobStatus.SUCCEEDED and intent is not None and intent[0] is JobStatus.INTERRUPTED:
            verdict = None  # shut down right at the end: the artifacts may not be complete
        if verdict is not None:
            status, reason = verdict, result.reason if verdict is JobStatus.FAILED else None
        elif intent is not None:
            status, reason = intent
        else:
            status, reason = JobStatus.FAILED, result.reason or Reason.worker_died(result.exitcode)
        self._finish(result.job_id, status, reason)

    def on_capacity(self, capacity: Capacity) -> None:
        """The cluster gained or lost nodes: resize the slots, then start what now fits."""
        self.pool.resize(cpu_slots=capacity.cpu_slots, gpu_count=len(capacity.gpus))
        self._pump()

    def device_load(self) -> dict[str, Any]:
        """What the scheduler knows of each device: CPU slots in use, and each GPU's free share and jobs."""
        gpu_jobs = [0] * self.pool.gpu_count
        for allocation in self.pool.held().values():
            for index, _ in allocation.gpus:
                if index < len(gpu_jobs):
                    gpu_jobs[index] += 1
        capacity = self.executor.capacity()
        return {
            "cpu": {"slots": self.pool.cpu_slots, "slots_free": self.pool.cpu_free(), "threads": self.pool.threads},
            "gpus": [{"share_free": free, "jobs": jobs} for free, jobs in zip(self.pool.gpu_free(), gpu_jobs,
                                                                               strict=True)],
            "cluster_gpus": list(capacity.gpus) if capacity is not None else None,
        }

    def _finish(self, job_id: str, status: JobStatus, reason: str | None) -> bool:
        """Apply a terminal state once, publish the terminal frame, free the slot, start what can start."""
        record = self._db.get(job_id)
        summary = self._summary.pop(job_id, None)
        seq = self._events.next_seq(job_id, record.last_seq if record else -1)
        ok = self._db.transition(job_id, status, reason=reason, summary=summary, last_seq=seq)
        if ok:
            fields: dict[str, Any] = {"status": status.value, "reason": reason}
            if summary is not None:
                fields["summary"] = summary
            self._events.status(job_id, seq, **fields)
            self._events.writer.flush()
        self._running.pop(job_id, None)
        self._intent.pop(job_id, None)
        timer = self._deadlines.pop(job_id, None)
        if timer is not None:
            timer.cancel()
        self.pool.release(job_id)
        self._events.forget(job_id)
        self._pump()
        return ok


def _default_executor(settings: Settings) -> Executor:
    """LAYERLAB_EXECUTOR: the embedded local executor, or Ray (an optional extra, imported only then)."""
    if settings.executor == "ray":
        from .executors.ray import RayExecutor

        return RayExecutor(settings)
    from .executors.local import LocalExecutor

    return LocalExecutor(settings.jobs)


def _sees(owner: str | Set[str], job_owner: str) -> bool:
    return job_owner == owner if isinstance(owner, str) else job_owner in owner


def _gpu_count() -> int:
    """GPUs this process may hand out (no CUDA context is created by asking)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0
