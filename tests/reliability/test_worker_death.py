"""A job whose worker dies, diverges, runs out of memory, hangs or overruns its wall clock ends `failed` with
the right reason within 5 s, its process is gone, and the next queued job starts and succeeds."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobkit import (
    get,
    long_job,
    mlp,
    nan_job,
    oom_job,
    submit,
    wait_first_metrics,
    wait_for,
    wait_gone,
)
from serverkit import LiveServer, start_server

WALL_CAP_S = 8
HEARTBEAT_TIMEOUT_S = 2
ENV = {
    "LAYERLAB_JOBS__CPU_SLOTS": "1",
    "LAYERLAB_JOBS__THREADS_PER_JOB": "1",
    "LAYERLAB_JOBS__HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
    # Test-only: each worker may grow 384 MiB past its size at job start (RLIMIT_AS), so the OOM spec's
    # 1 GiB activation is refused by the allocator instead of being allocated.
    "LAYERLAB_JOBS__WORKER_ADDRESS_SPACE_MB": "384",
    "LAYERLAB_LIMITS__MAX_WALL_SECONDS": str(WALL_CAP_S),
    "LAYERLAB_LIMITS__MAX_STEP_MEMORY_BYTES": str(4 << 30),
    "LAYERLAB_LIMITS__MAX_QUEUED": "10",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root: Path = tmp_path_factory.mktemp("death")
    live = start_server(root / "data", root / "server.log", ENV)
    yield live
    live.stop()


def _next_job_runs(server: LiveServer, job_id: str) -> None:
    with server.client() as c:
        done = wait_for(c, job_id, {"succeeded"}, timeout=30)
        assert done["summary"]["steps"] > 0


def test_sigkilled_worker_fails_the_job_and_the_queue_goes_on(server: LiveServer) -> None:
    with server.client() as c:
        victim = submit(c, long_job())
        following = submit(c, mlp())
        running = wait_for(c, victim["id"], {"running"}, need_pid=True)
        wait_first_metrics(c, victim["id"])
        pid = running["worker_pid"]
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        failed = wait_for(c, victim["id"], {"failed"}, timeout=5)
        assert time.monotonic() - killed_at <= 5
        assert failed["reason"] == "worker_died:signal_9"
        assert wait_gone(pid, 1)
        started = wait_for(c, following["id"], {"running", "succeeded"}, timeout=5)
        assert started["started_at"] - failed["finished_at"] <= 5
    _next_job_runs(server, following["id"])


def test_worker_killed_twice_in_a_row(server: LiveServer) -> None:
    with server.client() as c:
        for _ in range(2):
            job = submit(c, long_job())
            running = wait_for(c, job["id"], {"running"}, need_pid=True, timeout=30)
            os.kill(running["worker_pid"], signal.SIGKILL)
            assert wait_for(c, job["id"], {"failed"}, timeout=5)["reason"] == "worker_died:signal_9"
        after = submit(c, mlp())
    _next_job_runs(server, after["id"])


def test_nan_loss_fails_with_nan_loss(server: LiveServer) -> None:
    with server.client() as c:
        job = submit(c, nan_job())
        following = submit(c, mlp())
        failed = wait_for(c, job["id"], {"failed"}, timeout=30)
        assert failed["reason"] == "nan_loss"
        frames = c.get(f"/api/jobs/{job['id']}/metrics", params={"type": "error"}).json()["events"]
        assert frames and frames[0]["reason"] == "nan_loss" and "loss is" in frames[0]["message"]
    _next_job_runs(server, following["id"])


def test_out_of_memory_fails_with_oom(server: LiveServer) -> None:
    with server.client() as c:
        job = submit(c, oom_job())
        following = submit(c, mlp())
        failed = wait_for(c, job["id"], {"failed"}, timeout=30)
        assert failed["reason"] == "oom", failed
    _next_job_runs(server, following["id"])


def test_job_over_its_wall_clock_cap_fails_with_timeout(server: LiveServer) -> None:
    with server.client() as c:
        job = submit(c, long_job())
        following = submit(c, mlp())
        running = wait_for(c, job["id"], {"running"}, need_pid=True, timeout=30)
        failed = wait_for(c, job["id"], {"failed"}, timeout=WALL_CAP_S + 10)
        assert failed["reason"] == "timeout"
        assert failed["finished_at"] - failed["started_at"] <= WALL_CAP_S + 3
        assert wait_gone(running["worker_pid"], 2)
    _next_job_runs(server, following["id"])


def test_frozen_worker_is_killed_for_lost_heartbeat(server: LiveServer) -> None:
    with server.client() as c:
        job = submit(c, long_job())
        running = wait_for(c, job["id"], {"running"}, need_pid=True, timeout=30)
        wait_first_metrics(c, job["id"])
        pid = running["worker_pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            failed = wait_for(c, job["id"], {"failed"}, timeout=HEARTBEAT_TIMEOUT_S + 5)
        finally:
            if get(c, job["id"])["status"] == "running":
                os.kill(pid, signal.SIGKILL)
        assert failed["reason"] == "lost_heartbeat"
        assert wait_gone(pid, 2)
