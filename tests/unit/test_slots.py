"""Device slots as a pure allocator: CPU slots, and GPU shares with Ray `num_gpus` semantics."""

from __future__ import annotations

import pytest

from layerlab.jobs.slots import SlotPool, SlotRequest


def test_cpu_slots_and_thread_share() -> None:
    pool = SlotPool(cpu_slots=2, cores=8)
    a = pool.acquire("a", SlotRequest())
    b = pool.acquire("b", SlotRequest())
    assert a is not None and b is not None and a.threads == 4 and a.device == "cpu" and a.visible_devices == ""
    assert pool.acquire("c", SlotRequest()) is None
    pool.release("a")
    assert pool.acquire("c", SlotRequest()) is not None
    pool.release("a")  # twice: harmless
    assert pool.cpu_free() == 0


def test_threads_override_and_at_least_one_thread() -> None:
    assert SlotPool(cpu_slots=4, cores=2).threads == 1
    assert SlotPool(cpu_slots=1, cores=16, threads_per_job=3).threads == 3


def test_four_quarter_gpu_jobs_pack_onto_one_gpu_and_the_fifth_waits() -> None:
    pool = SlotPool(cpu_slots=1, cores=2, gpu_count=1)
    allocs = [pool.acquire(f"j{i}", SlotRequest(0.25)) for i in range(4)]
    assert all(a is not None and a.gpus == ((0, 2500),) and a.visible_devices == "0" for a in allocs)
    assert pool.gpu_free() == [0.0]
    assert pool.acquire("j4", SlotRequest(0.25)) is None
    pool.release("j2")
    again = pool.acquire("j4", SlotRequest(0.25))
    assert again is not None and again.device == "cuda"


def test_fractions_pack_best_fit_and_never_split_across_gpus() -> None:
    pool = SlotPool(cpu_slots=1, cores=2, gpu_count=2)
    assert pool.acquire("a", SlotRequest(0.5)).gpus[0][0] == 0
    assert pool.acquire("b", SlotRequest(0.25)).gpus[0][0] == 0  # best fit: the partly used GPU
    assert pool.acquire("c", SlotRequest(0.5)).gpus[0][0] == 1  # 0.25 left on GPU 0 is not enough
    assert pool.acquire("d", SlotRequest(0.75)) is None  # 0.25 + 0.5 free in total, but not on one GPU
    assert pool.gpu_free() == [0.25, 0.5]


def test_whole_gpus_need_entirely_free_devices() -> None:
    pool = SlotPool(cpu_slots=1, cores=2, gpu_count=2)
    pool.acquire("small", SlotRequest(0.1))
    assert pool.acquire("two", SlotRequest(2)) is None
    one = pool.acquire("one", SlotRequest(1))
    assert one is not None and one.gpus == ((1, 10000),)
    pool.release("small")
    pool.release("one")
    two = pool.acquire("two", SlotRequest(2))
    assert two is not None and two.visible_devices == "0,1"


def test_no_float_drift_with_tenths() -> None:
    pool = SlotPool(cpu_slots=1, cores=2, gpu_count=1)
    assert all(pool.acquire(f"j{i}", SlotRequest(0.1)) is not None for i in range(10))
    assert pool.acquire("j10", SlotRequest(0.1)) is None


def test_requests_that_cannot_ever_fit_and_invalid_requests() -> None:
    assert not SlotPool(cpu_slots=1, cores=2).can_ever_fit(SlotRequest(0.25))
    assert SlotPool(cpu_slots=1, cores=2, gpu_count=1).can_ever_fit(SlotRequest(1))
    assert not SlotPool(cpu_slots=1, cores=2, gpu_count=1).can_ever_fit(SlotRequest(2))
    for bad in (-0.5, 1.5):
        with pytest.raises(ValueError):
            SlotRequest(bad)
    pool = SlotPool(cpu_slots=1, cores=2)
    pool.acquire("a", SlotRequest())
    with pytest.raises(ValueError):
        pool.acquire("a", SlotRequest())
