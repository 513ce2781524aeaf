"""Queue policy: admission caps, round-robin between owners, FIFO within one, per-user running cap, slots."""

from __future__ import annotations

import pytest

from layerlab.catalogue.limits import Limits
from layerlab.jobs.model import JobRecord, JobStatus
from layerlab.jobs.scheduler import QueueFull, Scheduler, UserQueueFull
from layerlab.jobs.slots import SlotPool


def job(i: int, owner: str, device: str = "auto") -> JobRecord:
    return JobRecord(id=f"j{i}", owner=owner, name=None, spec={"train": {"device": device}},
                     status=JobStatus.QUEUED, reason=None, created_at=float(i), started_at=None, finished_at=None,
                     device=None, attempt=0, queue_order=i, summary=None, last_seq=0)


def scheduler(cpu_slots: int = 1, gpus: int = 0, **limits: int) -> Scheduler:
    return Scheduler(Limits(**limits), SlotPool(cpu_slots=cpu_slots, cores=2, gpu_count=gpus), gpu_share=0.25)


def test_admission_caps() -> None:
    s = scheduler(queue_cap=3, max_queued=2)
    s.admit(owner_queued=1, total_queued=2)
    with pytest.raises(UserQueueFull):
        s.admit(owner_queued=2, total_queued=2)
    with pytest.raises(QueueFull):
        s.admit(owner_queued=0, total_queued=3)


def test_round_robin_between_owners_fifo_within_one() -> None:
    s = scheduler()
    queued = [job(1, "a"), job(2, "a"), job(3, "a"), job(4, "b"), job(5, "c"), job(6, "b")]
    assert [j.id for j in s.order(queued)] == ["j1", "j4", "j5", "j2", "j6", "j3"]
    assert s.positions(queued) == {"j1": 1, "j4": 2, "j5": 3, "j2": 4, "j6": 5, "j3": 6}


def test_owner_who_started_least_recently_goes_first() -> None:
    s = scheduler(cpu_slots=1, max_running=0)
    queued = [job(1, "a"), job(2, "a"), job(3, "b")]
    first = s.pick(queued, {}, now=100.0)
    assert [st.job.id for st in first] == ["j1"]
    s.pool.release("j1")
    # 'a' just started a job, so 'b' (never started) is next although j2 was submitted earlier.
    assert [j.id for j in s.order([job(2, "a"), job(3, "b")])] == ["j3", "j2"]


def test_pick_respects_slots_and_per_user_running_cap() -> None:
    s = scheduler(cpu_slots=3, max_running=1)
    queued = [job(1, "a"), job(2, "a"), job(3, "b"), job(4, "b")]
    starts = s.pick(queued, {"b": 1})
    assert [st.job.id for st in starts] == ["j1"]  # a: one allowed; b already runs one
    assert starts[0].allocation.threads == 1
    s2 = scheduler(cpu_slots=2, max_running=0)
    assert [st.job.id for st in s2.pick(queued, {})] == ["j1", "j3"]


def test_gpu_jobs_pack_and_cpu_jobs_are_not_blocked_by_a_full_gpu() -> None:
    s = scheduler(cpu_slots=1, gpus=1, max_running=0)
    queued = [job(i, f"u{i}", "cuda") for i in range(1, 6)] + [job(6, "u6", "cpu")]
    starts = s.pick(queued, {})
    assert [st.job.id for st in starts] == ["j1", "j2", "j3", "j4", "j6"]
    assert {st.allocation.device for st in starts[:4]} == {"cuda"} and starts[4].allocation.device == "cpu"


def test_auto_device_uses_a_gpu_share_only_when_there_are_gpus() -> None:
    assert scheduler(gpus=0).request_for("auto").gpu == 0
    assert scheduler(gpus=1).request_for("auto").gpu == 0.25
    assert scheduler(gpus=1).request_for("cpu").gpu == 0
