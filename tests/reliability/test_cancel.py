"""Cancel against a real server: running -> cancelled within 2 s with no process left; queued -> at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobkit import descendants, events, get, long_job, mlp, submit, wait_first_metrics, wait_for, wait_gone
from serverkit import LiveServer, start_server

ENV = {"LAYERLAB_JOBS__CPU_SLOTS": "1", "LAYERLAB_JOBS__THREADS_PER_JOB": "1", "LAYERLAB_LIMITS__MAX_QUEUED": "10"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root: Path = tmp_path_factory.mktemp("cancel")
    live = start_server(root / "data", root / "server.log", ENV)
    yield live
    live.stop()


def _forkserver_children(server: LiveServer) -> list[int]:
    """Worker processes (children of the forkserver): with no job running, at most the one idle worker."""
    forkservers = [p for p in descendants(server.pid) if "forkserver" in " ".join(p.cmdline())]
    return [c.pid for f in forkservers for c in f.children() if c.is_running()]


def test_cancel_running_job_is_cancelled_within_2s_and_leaves_no_process(server: LiveServer) -> None:
    with server.client() as c:
        job = submit(c, long_job())
        assert job["status"] == "queued" and job["queue_position"] == 1
        running = wait_for(c, job["id"], {"running"}, need_pid=True)
        wait_first_metrics(c, job["id"])
        pid = running["worker_pid"]
        started = time.monotonic()
        r = c.post(f"/api/jobs/{job['id']}/cancel")
        assert r.status_code == 202, r.text
        done = wait_for(c, job["id"], {"cancelled"}, timeout=5)
        assert time.monotonic() - started <= 2.0
        assert done["finished_at"] is not None and done["worker_pid"] is None
        assert wait_gone(pid, 1.0), "the worker process outlived its cancelled job"
        assert pid not in _forkserver_children(server)
        assert len(_forkserver_children(server)) <= 1
        frames = events(c, job["id"])
        seqs = [f["seq"] for f in frames]
        # Strictly increasing from the queued frame (binary frames, not stored, take the missing numbers).
        assert seqs[0] == 0 and all(a < b for a, b in zip(seqs, seqs[1:], strict=False))
        assert frames[0]["status"] == "queued" and frames[1]["status"] == "running"
        assert frames[-1] == {**frames[-1], "type": "status", "status": "cancelled"}
        assert any(f["type"] == "metrics" for f in frames)


def test_cancel_queued_job_is_immediate_and_the_queue_moves_on(server: LiveServer) -> None:
    with server.client() as c:
        blocker = submit(c, long_job())
        waiting = submit(c, mlp())
        wait_for(c, blocker["id"], {"running"})
        assert get(c, waiting["id"])["queue_position"] == 1
        r = c.post(f"/api/jobs/{waiting['id']}/cancel")
        assert r.status_code == 202 and r.json()["status"] == "cancelled"
        assert [f["status"] for f in events(c, waiting["id"])] == ["queued", "cancelled"]
        after = submit(c, mlp())
        assert c.post(f"/api/jobs/{blocker['id']}/cancel").status_code == 202
        wait_for(c, blocker["id"], {"cancelled"}, timeout=5)
        finished = wait_for(c, after["id"], {"succeeded"}, timeout=60)
        assert finished["summary"]["steps"] > 0
        assert get(c, waiting["id"])["started_at"] is None  # it never ran


def test_cancel_of_finished_or_unknown_job(server: LiveServer) -> None:
    with server.client() as c:
        job = submit(c, mlp())
        wait_for(c, job["id"], {"succeeded"}, timeout=60)
        r = c.post(f"/api/jobs/{job['id']}/cancel")
        assert r.status_code == 409 and "succeeded" in r.json()["message"]
        assert c.post("/api/jobs/" + "0" * 32 + "/cancel").status_code == 404
        assert c.get("/api/jobs/not-a-job").status_code == 404
