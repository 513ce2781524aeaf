"""Queue policy: admission caps, round-robin fairness between owners, and which queued jobs start now.

The queue itself is persistent (the store's queued jobs in submission order); this module only decides.
Fairness: owners take turns — the owner who started a job least recently goes first, and within an owner
jobs run in submission order — so one user's burst cannot starve another's single job.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..catalogue.limits import Limits
from .model import JobRecord
from .slots import Allocation, SlotPool, SlotRequest


class QueueFull(Exception):
    """The global queue is at its cap (the API answers 503 with Retry-After)."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the job queue is full ({cap} queued jobs, limits.queue_cap); try again later")
        self.cap = cap


class UserQueueFull(Exception):
    """This user already has the most queued jobs allowed (the API answers 429 with Retry-After)."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"you already have {cap} queued jobs (limits.max_queued); wait for one to start")
        self.cap = cap


@dataclass(frozen=True)
class Start:
    job: JobRecord
    allocation: Allocation


class Scheduler:
    def __init__(self, limits: Limits, pool: SlotPool, gpu_share: float) -> None:
        self.limits = limits
        self.pool = pool
        self.gpu_share = gpu_share
        self._last_start: dict[str, float] = {}

    def admit(self, *, owner_queued: int, total_queued: int) -> None:
        """Raise if one more queued job for this owner would exceed a cap."""
        if total_queued >= self.limits.queue_cap:
            raise QueueFull(self.limits.queue_cap)
        if owner_queued >= self.limits.max_queued:
            raise UserQueueFull(self.limits.max_queued)

    def request_for(self, device: str) -> SlotRequest:
        """A job's slot request from its spec's train.device ('auto' uses a GPU share when there are GPUs)."""
        wants_gpu = device == "cuda" or (device == "auto" and self.pool.gpu_count > 0)
        return SlotRequest(self.gpu_share if wants_gpu else 0.0)

    def order(self, queued: Iterable[JobRecord]) -> list[JobRecord]:
        """The order queued jobs will start in (capacity permitting): owners round-robin, FIFO within one."""
        per_owner: OrderedDict[str, list[JobRecord]] = OrderedDict()
        for job in sorted(queued, key=lambda j: j.queue_order):
            per_owner.setdefault(job.owner, []).append(job)
        owners = sorted(per_owner, key=lambda o: (self._last_start.get(o, float("-inf")), per_owner[o][0].queue_order))
        out: list[JobRecord] = []
        depth = 0
        while len(out) < sum(len(v) for v in per_owner.values()):
            for owner in owners:
                if depth < len(per_owner[owner]):
                    out.append(per_owner[owner][depth])
            depth += 1
        return out

    def positions(self, queued: Iterable[JobRecord]) -> dict[str, int]:
        """1-based queue position of every queued job."""
        return {job.id: i + 1 for i, job in enumerate(self.order(queued))}

    def pick(self, queued: Iterable[JobRecord], running_per_owner: Mapping[str, int], now: float | None = None
             ) -> list[Start]:
        """Jobs to start now, with the slots reserved for them; the caller releases a slot if a start fails."""
        running = dict(running_per_owner)
        cap = self.limits.max_running  # 0: no per-user cap, only the slots limit running jobs
        starts: list[Start] = []
        blocked: set[float] = set()
        for job in self.order(queued):
            if cap and running.get(job.owner, 0) >= cap:
                continue
            request = self.request_for(_device(job))
            if request.gpu in blocked:
                continue  # an earlier job of the same kind is waiting for room: keep FIFO per kind
            allocation = self.pool.acquire(job.id, request)
            if allocation is None:
                blocked.add(request.gpu)
                continue
            running[job.owner] = running.get(job.owner, 0) + 1
            self._last_start[job.owner] = time.time() if now is None else now
            starts.append(Start(job, allocation))
        return starts


def _device(job: JobRecord) -> str:
    train = (job.spec or {}).get("train") or {}
    return str(train.get("device", "auto"))
