"""Device slots: CPU slots sized to the machine and fractional GPUs with Ray's `num_gpus` semantics.

A request asks for either a CPU slot (gpu=0) or a GPU share: a fraction in (0, 1) must fit on ONE GPU
(several such jobs pack onto the same GPU up to 1.0), a whole number n >= 1 takes n entire GPUs.
Shares are counted in 1/10000 units (Ray's granularity) so 4 x 0.25 fills a GPU exactly, with no float drift.
Pure bookkeeping: no torch, no processes; the scheduler asks and releases.
"""

from __future__ import annotations

from dataclasses import dataclass

UNITS = 10_000


@dataclass(frozen=True)
class SlotRequest:
    gpu: float = 0.0

    def __post_init__(self) -> None:
        if self.gpu < 0 or (self.gpu > 1 and self.gpu != int(self.gpu)):
            raise ValueError(f"a GPU request is a fraction in (0, 1] or a whole number, got {self.gpu}")

    @property
    def units(self) -> int:
        return round(self.gpu * UNITS)


@dataclass(frozen=True)
class Allocation:
    """Where a job runs: a CPU slot (with its thread share) or GPU shares as (gpu index, units)."""

    threads: int
    gpus: tuple[tuple[int, int], ...] = ()

    @property
    def device(self) -> str:
        return "cuda" if self.gpus else "cpu"

    @property
    def visible_devices(self) -> str:
        """The value for CUDA_VISIBLE_DEVICES ("" for a CPU job: it must not touch a GPU)."""
        return ",".join(str(i) for i, _ in self.gpus)

    def describe(self) -> str:
        if not self.gpus:
            return f"cpu ({self.threads} threads)"
        return ", ".join(f"cuda:{i} x{units / UNITS:g}" for i, units in self.gpus)


class SlotPool:
    def __init__(self, *, cpu_slots: int, cores: int, gpu_count: int = 0, threads_per_job: int | None = None) -> None:
        if cpu_slots < 1:
            raise ValueError("at least one CPU slot")
        self.cpu_slots = cpu_slots
        self.threads = threads_per_job or max(1, cores // cpu_slots)
        self._cpu_used: set[str] = set()
        self._gpu_free = [UNITS] * gpu_count
        self._held: dict[str, Allocation] = {}

    @property
    def gpu_count(self) -> int:
        return len(self._gpu_free)

    def gpu_free(self) -> list[float]:
        return [u / UNITS for u in self._gpu_free]

    def cpu_free(self) -> int:
        return self.cpu_slots - len(self._cpu_used)

    def can_ever_fit(self, request: SlotRequest) -> bool:
        """False when no amount of waiting helps (e.g. 2 GPUs asked of a 1-GPU machine)."""
        if request.units == 0:
            return True
        if request.gpu <= 1:
            return self.gpu_count >= 1
        return int(request.gpu) <= self.gpu_count

    def acquire(self, job_id: str, request: SlotRequest) -> Allocation | None:
        """Reserve room for a job now, or None if it has to wait. Fractions go best-fit to pack GPUs."""
        if job_id in self._held:
            raise ValueError(f"job {job_id} already holds a slot")
        units = request.units
        if units == 0:
            if len(self._cpu_used) >= self.cpu_slots:
                return None
            self._cpu_used.add(job_id)
            alloc = Allocation(self.threads)
        elif units < UNITS:
            fitting = [i for i, free in enumerate(self._gpu_free) if free >= units]
            if not fitting:
                return None
            best = min(fitting, key=lambda i: (self._gpu_free[i], i))
            self._gpu_free[best] -= units
            alloc = Allocation(1, ((best, units),))
        else:
            whole = [i for i, free in enumerate(self._gpu_free) if free == UNITS][: units // UNITS]
            if len(whole) < units // UNITS:
                return None
            for i in whole:
                self._gpu_free[i] = 0
            alloc = Allocation(1, tuple((i, UNITS) for i in whole))
        self._held[job_id] = alloc
        return alloc

    def resize(self, *, cpu_slots: int, gpu_count: int) -> None:
        """Follow a cluster that gained or lost nodes. New GPUs come in free; a lost GPU is dropped from the
        end once nothing holds a share of it (jobs on it end when their node goes), so indices stay valid."""
        self.cpu_slots = max(1, cpu_slots)
        while len(self._gpu_free) < gpu_count:
            self._gpu_free.append(UNITS)
        while len(self._gpu_free) > gpu_count and self._gpu_free[-1] == UNITS:
            self._gpu_free.pop()

    def release(self, job_id: str) -> None:
        """Give back what a job held; releasing twice (or a job that held nothing) is harmless."""
        alloc = self._held.pop(job_id, None)
        if alloc is None:
            return
        if not alloc.gpus:
            self._cpu_used.discard(job_id)
        for i, units in alloc.gpus:
            self._gpu_free[i] += units

    def held(self) -> dict[str, Allocation]:
        return dict(self._held)
