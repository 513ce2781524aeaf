"""What the scheduler needs from an executor (local processes now, Ray later): launch, stop, report.

An executor never decides a job's final state. It forwards frames as they arrive and, once per launched
job, reports a `JobExit` with the facts (what the worker said, how the process ended); the job service
combines them with what it asked for (cancel, timeout, shutdown) into the terminal state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

from ...streaming.protocol import Frame
from ..slots import Allocation


@dataclass(frozen=True)
class JobLaunch:
    job_id: str
    spec: dict[str, Any]
    seq_start: int
    artifact_dir: str
    allocation: Allocation


@dataclass(frozen=True)
class JobResume:
    """A job the store has as running, to be followed again after an API restart (executors that keep jobs)."""

    job_id: str
    after_seq: int
    artifact_dir: str


@dataclass(frozen=True)
class Capacity:
    """What an executor places jobs on when that is not this machine: CPU slots of `threads` threads each,
    and whole GPUs (fractional shares are packed per GPU, Ray's num_gpus semantics), with a label each."""

    cpu_slots: int
    threads: int
    gpus: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobExit:
    """How a launched job ended, as far as the executor can tell.

    `reported` is the worker's own verdict ("succeeded", "stopped", "failed") or None if it died first;
    `reason` is the worker's failure reason, or the executor's (`lost_heartbeat`, `worker_died:signal_9`).
    """

    job_id: str
    reported: str | None
    reason: str | None
    exitcode: int | None


class ExecutorEvents(Protocol):
    def on_frame(self, job_id: str, frame: Frame) -> None: ...

    def on_exit(self, result: JobExit) -> None: ...

    def on_capacity(self, capacity: Capacity) -> None: ...


class Executor(ABC):
    name: str
    #: True when jobs outlive this process (Ray's detached JobManager): `close` then leaves them running
    #: and a restarted API picks them up with `reattach` instead of marking them interrupted.
    keeps_jobs: bool = False

    @abstractmethod
    async def start(self, events: ExecutorEvents) -> None:
        """Get ready to run jobs (e.g. pre-warm a worker); frames and exits go to `events`."""

    @abstractmethod
    async def launch(self, job: JobLaunch) -> None:
        """Start a job; raises if it could not be started (the job is then failed by the caller)."""

    @abstractmethod
    def stop(self, job_id: str) -> None:
        """Ask a running job to stop between steps, escalating to SIGTERM after 1 s and SIGKILL after 2 s."""

    @abstractmethod
    def running(self) -> set[str]:
        """Ids of launched jobs whose exit has not been reported yet."""

    def worker_pid(self, job_id: str) -> int | None:
        """The OS process of a running job, where there is one on this machine."""
        return None

    def capacity(self) -> Capacity | None:
        """Where jobs run when it is not this machine (a Ray cluster); None: this machine's cores and GPUs."""
        return None

    async def ready(self) -> Capacity | None:
        """Wait until jobs can be launched (Ray: connected to the cluster); returns `capacity()`."""
        return self.capacity()

    async def reattach(self, jobs: list[JobResume]) -> set[str]:
        """After an API restart: follow again those of `jobs` that still run; returns their ids."""
        return set()

    @abstractmethod
    async def close(self) -> None:
        """Stop every job (each reports its exit) and release workers; returns within a few seconds."""
