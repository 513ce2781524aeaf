"""Crash consistency: `kill -9` of the API mid-training, then a restart on the same data dir; and SIGTERM.

After the restart: succeeded jobs are intact with identical stored events, the in-flight job is
`interrupted` (reason api_restart) as soon as the server answers, queued jobs kept their order and then
run, an accepted Idempotency-Key still names the same job, and the database passes integrity_check.
The killed server's forkserver and workers do not outlive it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx

from jobkit import descendants, events, get, long_job, mlp, submit, wait_first_metrics, wait_for, wait_gone
from serverkit import start_server

ENV = {"LAYERLAB_JOBS__CPU_SLOTS": "1", "LAYERLAB_JOBS__THREADS_PER_JOB": "1", "LAYERLAB_LIMITS__MAX_QUEUED": "10"}


def signature(client: httpx.Client, job_id: str) -> tuple[int, str]:
    """(row count, sha256 of the stored frames) — the events a finished job keeps."""
    frames = client.get(f"/api/jobs/{job_id}/metrics").json()["events"]
    digest = hashlib.sha256("\n".join(repr(sorted(f.items())) for f in frames).encode()).hexdigest()
    return len(frames), digest


def integrity(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "layerlab.sqlite3") as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def test_kill_9_mid_training_then_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data, tmp_path / "first.log", ENV)
    try:
        with first.client() as c:
            done = [submit(c, mlp(seed=i)) for i in range(2)]
            for job in done:
                wait_for(c, job["id"], {"succeeded"}, timeout=60)
            before = {job["id"]: signature(c, job["id"]) for job in done}
            in_flight = submit(c, long_job(), **{"Idempotency-Key": "long-1"})
            queued = [submit(c, mlp(seed=10 + i)) for i in range(2)]
            running = wait_for(c, in_flight["id"], {"running"}, need_pid=True)
            wait_first_metrics(c, in_flight["id"])
            orphans = [p.pid for p in descendants(first.pid)]
            assert running["worker_pid"] in orphans
            time.sleep(0.5)
        os.kill(first.pid, signal.SIGKILL)
        first.process.wait(5)
        for pid in orphans:  # forkserver, idle and busy workers, resource tracker: all leave with the API
            assert wait_gone(pid, 5), f"process {pid} outlived the killed API"
    finally:
        first.stop()

    second = start_server(data, tmp_path / "second.log", ENV)
    try:
        ready = time.monotonic()
        with second.client() as c:
            interrupted = get(c, in_flight["id"])
            assert interrupted["status"] == "interrupted" and interrupted["reason"] == "api_restart"
            assert time.monotonic() - ready <= 5
            assert events(c, in_flight["id"])[-1]["status"] == "interrupted"
            for job_id, sig in before.items():
                assert get(c, job_id)["status"] == "succeeded"
                assert signature(c, job_id) == sig
            retried = c.post("/api/jobs", json=long_job(), headers={"Idempotency-Key": "long-1"})
            assert retried.status_code == 201 and retried.json()["id"] == in_flight["id"]
            assert retried.headers["Idempotent-Replayed"] == "true"
            finished = [wait_for(c, job["id"], {"succeeded"}, timeout=60) for job in queued]
            assert finished[0]["started_at"] <= finished[1]["started_at"]  # still in submission order
            assert all(job["attempt"] == 1 for job in finished)
            total = c.get("/api/jobs").json()["total"]
            assert total == 5  # nothing lost, nothing duplicated
        assert integrity(data) == "ok"
    finally:
        second.stop()


def test_sigterm_interrupts_running_job_and_exits_within_10s(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data, tmp_path / "server.log", ENV)
    try:
        with server.client() as c:
            job = submit(c, long_job())
            wait_for(c, job["id"], {"running"}, need_pid=True)
            wait_first_metrics(c, job["id"])
        children = {p.pid: " ".join(p.cmdline())[-80:] for p in descendants(server.pid)}
        os.kill(server.pid, signal.SIGTERM)  # the API process only, as an init system would
        started = time.monotonic()
        code = server.process.wait(12)
        assert time.monotonic() - started <= 10
        # uvicorn re-raises the SIGTERM it handled once shutdown is complete: -15 is its clean exit.
        assert code in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in server.log.read_text()
        for pid, command in children.items():
            assert wait_gone(pid, 5), f"process {pid} ({command}) outlived the server"
    finally:
        server.stop()
    with sqlite3.connect(data / "layerlab.sqlite3") as db:
        status, reason = db.execute("SELECT status, reason FROM jobs WHERE id = ?", (job["id"],)).fetchone()
    assert (status, reason) == ("interrupted", "shutdown")
