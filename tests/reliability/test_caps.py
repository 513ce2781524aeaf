"""Caps and bad submissions against a real server: each answers 4xx before anything is queued, naming the
cap or the node, and the queue (and the worker processes) stay exactly as they were."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobkit import descendants, long_job, mlp, submit, wait_for
from serverkit import LiveServer, start_server

ENV = {
    "LAYERLAB_JOBS__CPU_SLOTS": "1",
    "LAYERLAB_JOBS__THREADS_PER_JOB": "1",
    "LAYERLAB_JOBS__RETRY_AFTER_S": "7",
    "LAYERLAB_LIMITS__MAX_QUEUED": "2",
    "LAYERLAB_LIMITS__MAX_EPOCHS": "5",
    "LAYERLAB_LIMITS__MAX_PARAMS": "10000",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root: Path = tmp_path_factory.mktemp("caps")
    live = start_server(root / "data", root / "server.log", ENV)
    yield live
    live.stop()


def _state(c: httpx.Client) -> tuple[int, list[tuple[str, str]]]:
    listing = c.get("/api/jobs", params={"limit": 200}).json()
    return listing["total"], [(j["id"], j["status"]) for j in listing["jobs"]]


def _bad_specs() -> list[tuple[str, Any, int, str]]:
    """(label, body, expected status, text the error must contain)."""
    wide = mlp()
    wide["model"]["nodes"][1]["params"]["units"] = 4096
    unknown = mlp()
    unknown["model"]["nodes"][2]["type"] = "os.system"
    shape = mlp()
    shape["model"]["nodes"][1]["type"] = "conv2d"
    shape["model"]["nodes"][1]["params"] = {}
    dangling = mlp()
    dangling["model"]["nodes"][3]["inputs"] = ["nope"]
    extra = mlp()
    extra["train"]["pickle"] = "cos\nsystem\n"
    return [
        ("epochs over the cap", mlp(epochs=6), 422, "max_epochs"),
        ("params over the cap", wide, 422, "max_params"),
        ("unknown layer type", unknown, 422, "os.system"),
        ("conv on a vector", shape, 422, "h"),
        ("dangling input", dangling, 422, "nope"),
        ("unknown key", extra, 422, "pickle"),
        ("no data", {"model": mlp()["model"]}, 422, "data"),
        ("not an object", [1, 2], 422, "object"),
        ("string for a number", {**mlp(), "train": {"epochs": "3"}}, 422, "epochs"),
        ("cuda on a CPU server", mlp(device="cuda"), 422, "GPU"),
    ]


def test_bad_and_over_cap_specs_are_refused_and_change_nothing(server: LiveServer) -> None:
    with server.client() as c:
        before = _state(c)
        workers_before = len(descendants(server.pid))
        for label, body, status, text in _bad_specs():
            r = c.post("/api/jobs", json=body)
            assert r.status_code == status, (label, r.text)
            err = r.json()
            assert text in err["message"] or text == err.get("cap") or text == err.get("node_id"), (label, err)
        assert c.post("/api/jobs", content=b"{not json", headers={"content-type": "application/json"}
                      ).status_code == 422
        big = c.post("/api/jobs", content=b'{"name":"' + b"x" * (300 * 1024) + b'"}',
                     headers={"content-type": "application/json"})
        assert big.status_code == 413 and big.json()["cap"] == "max_body_bytes"
        assert c.post("/api/jobs", json=mlp(), headers={"Idempotency-Key": "bad key"}).status_code == 422
        assert _state(c) == before
        assert len(descendants(server.pid)) == workers_before  # no worker was started for any of them


def test_per_user_queue_cap_answers_429_with_retry_after(server: LiveServer) -> None:
    with server.client() as c:
        blocker = submit(c, long_job())
        wait_for(c, blocker["id"], {"running"})
        queued = [submit(c, mlp()) for _ in range(2)]
        before = _state(c)
        r = c.post("/api/jobs", json=mlp())
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"
        assert r.json()["cap"] == "max_queued"
        assert _state(c) == before
        assert [c.get(f"/api/jobs/{j['id']}").json()["queue_position"] for j in queued] == [1, 2]
        for job in (*queued, blocker):
            c.post(f"/api/jobs/{job['id']}/cancel")
        wait_for(c, blocker["id"], {"cancelled"}, timeout=5)
        assert submit(c, mlp())["status"] == "queued"  # room again
