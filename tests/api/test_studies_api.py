"""Studies and lab runs through the API of a real server: a batched study (one job, members equal to the
same variants trained as ordinary jobs), a study of separate jobs, 422 answers naming the variant and the
node, labs run as jobs whose summary carries the outcome, cancel, and the labs in the catalogue."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.asyncio.client import connect

from jobkit import TERMINAL, events, mlp, submit, wait_for
from layerlab.streaming.protocol import decode_tensor
from serverkit import LiveServer, start_server

ENV = {
    "LAYERLAB_JOBS__CPU_SLOTS": "1",
    "LAYERLAB_JOBS__THREADS_PER_JOB": "1",
    "LAYERLAB_LIMITS__MAX_QUEUED": "20",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("studies_api")
    live = start_server(root / "data", root / "server.log", ENV)
    yield live
    live.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def wait_study(client: httpx.Client, study_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/studies/{study_id}")
        assert r.status_code == 200, r.text
        study = r.json()
        if study["status"] in TERMINAL:
            return study
        time.sleep(0.2)
    raise AssertionError(f"study {study_id} still {study['status']} after {timeout}s")


def test_a_batched_study_is_one_job_whose_members_equal_ordinary_jobs(client: httpx.Client) -> None:
    base = mlp(epochs=3, n_samples=240)
    body = {"name": "optimizers x seeds", "base": base,
            "vary": {"path": "train.optimizer.name", "values": ["sgd", "momentum", "adam"]},
            "vary2": {"path": "train.seed", "values": [0, 1]}}
    r = client.post("/api/studies", json=body)
    assert r.status_code == 201, r.text
    study = r.json()
    assert study["mode"] == "batched" and len(study["jobs"]) == 1 and len(study["members"]) == 6
    assert r.headers["location"] == f"/api/studies/{study['id']}"
    study = wait_study(client, study["id"])
    assert study["status"] == "succeeded"
    job_id = study["jobs"][0]
    steps = [e for e in events(client, job_id) if e["type"] == "metrics" and e.get("kind") == "step"]
    assert steps and all(len(e["losses"]) == 6 for e in steps)
    plot = study["summary_plot"]
    assert plot["metric"] == "test_accuracy" and plot["x"] == "train.optimizer.name" and plot["series"] == "train.seed"
    assert [(p["x"], p["series"]) for p in plot["points"]] == [(o, s) for o in ("sgd", "momentum", "adam")
                                                               for s in (0, 1)]
    assert all(p["y"] is not None and 0 <= p["y"] <= 1 for p in plot["points"])
    # member "adam, seed 1" ends exactly where the same spec ends as an ordinary job
    member = study["members"][5]
    assert member["values"] == {"train.optimizer.name": "adam", "train.seed": 1}
    solo_spec = copy.deepcopy(base)
    solo_spec["train"].update(optimizer={"name": "adam"}, seed=1)
    solo = wait_for(client, submit(client, solo_spec)["id"], {"succeeded"})
    for key in ("train_loss", "test_loss", "test_accuracy"):
        assert member["metrics"][key] == pytest.approx(solo["summary"][key], rel=1e-4, abs=1e-6), key


def test_a_study_of_different_layers_runs_as_separate_jobs(client: httpx.Client) -> None:
    body = {"base": mlp(epochs=1, n_samples=100), "vary": {"path": "nodes.a.params.fn", "values": ["tanh", "relu"]}}
    r = client.post("/api/studies", json=body)
    assert r.status_code == 201, r.text
    study = r.json()
    assert study["mode"] == "jobs" and len(set(study["jobs"])) == 2
    assert "variant 2" in study["why_not_batched"]
    study = wait_study(client, study["id"])
    assert study["status"] == "succeeded"
    for member, fn in zip(study["members"], ("tanh", "relu"), strict=True):
        job = client.get(f"/api/jobs/{member['job_id']}").json()
        act = next(n for n in job["spec"]["model"]["nodes"] if n["id"] == "a")
        assert act["params"]["fn"] == fn and member["metrics"]["test_loss"] == job["summary"]["test_loss"]
    listed = client.get("/api/studies").json()
    assert study["id"] in [s["id"] for s in listed["studies"]]


def test_widths_batch_when_only_dense_units_differ(client: httpx.Client) -> None:
    body = {"base": mlp(epochs=1, n_samples=100), "vary": {"path": "nodes.h.params.units", "values": [2, 8, 32]},
            "mode": "batched"}
    r = client.post("/api/studies", json=body)
    assert r.status_code == 201, r.text
    study = wait_study(client, r.json()["id"])
    assert study["mode"] == "batched" and study["status"] == "succeeded"
    job = client.get(f"/api/jobs/{study['jobs'][0]}").json()
    assert [m["values"]["nodes.h.params.units"] for m in job["summary"]["members"]] == [2, 8, 32]
    assert job["summary"]["params"] == [(2 * u + u) + (u * 2 + 2) for u in (2, 8, 32)]  # x->h->out per member


@pytest.mark.parametrize(("body", "status", "needle", "node"), [
    ({"vary": {"path": "nodes.h.params.units", "values": [4, 0]}}, 422, "variant 2 (nodes.h.params.units=0)", "h"),
    ({"vary": {"path": "nodes.zz.params.units", "values": [4]}}, 422, "node 'zz'", "zz"),
    ({"vary": {"path": "train.optimizer.lr", "values": [0.1, 50]}}, 422, "variant 2 (train.optimizer.lr=50)", None),
    ({"vary": {"path": "__class__.x", "values": [1]}}, 422, "not a path", None),
    ({"vary": {"path": "nodes.a.params.fn", "values": ["tanh", "relu"]}, "mode": "batched"}, 422, "impossible", None),
    ({"vary": {"path": "train.seed", "values": list(range(65))}}, 422, "at most 64", None),
])
def test_bad_studies_answer_422_naming_the_variant_and_node(
    make_client: Callable[..., TestClient], body: dict[str, Any], status: int, needle: str, node: str | None
) -> None:
    client = make_client()
    r = client.post("/api/studies", json={"base": mlp(epochs=1), **body})
    assert r.status_code == status, r.text
    error = r.json()
    assert needle in error["message"] and error["node_id"] == node
    assert client.get("/api/jobs").json()["total"] == 0  # nothing was queued


def test_a_lab_runs_as_a_job_and_its_summary_is_the_outcome(client: httpx.Client) -> None:
    r = client.post("/api/labs/double_descent/run", json={"scale": "quick", "seed": 0})
    assert r.status_code == 201, r.text
    job = wait_for(client, r.json()["id"], {"succeeded"}, timeout=120)
    summary = job["summary"]
    assert summary["lab"] == "double_descent" and summary["claim_holds"] is True
    assert summary["verdict"]["en"] and summary["verdict"]["ja"]
    assert summary["measurements"]["peak_width"] > 0
    frames = events(client, job["id"])
    points = [e for e in frames if e["type"] == "metrics" and e.get("kind") == "summary_point"]
    assert len(points) == len(summary["measurements"]["widths"])
    assert frames[0]["status"] == "queued" and frames[1]["status"] == "running"


def test_a_lab_streams_its_tensors_as_binary_frames_over_the_websocket(client: httpx.Client,
                                                                       server: LiveServer) -> None:
    job_id = client.post("/api/labs/autoencoder/run", json={"scale": "quick"}).json()["id"]
    url = server.url.replace("http://", "ws://") + f"/api/jobs/{job_id}/stream"

    async def read() -> list[str | bytes]:
        async with connect(url, max_size=2**24) as ws:
            return [m async for m in ws]

    messages = asyncio.run(asyncio.wait_for(read(), 120))
    tensors = [decode_tensor(m) for m in messages if isinstance(m, bytes)]
    kinds = {h["kind"] for h, _ in tensors}
    assert {"reconstructions", "latent_map"} <= kinds
    recon = [(h, a) for h, a in tensors if h["kind"] == "reconstructions"]
    assert recon[-1][1].shape == (2, 8, 8, 8) and recon[-1][0]["rows"] == ["input", "output"]
    texts = [json.loads(m) for m in messages if isinstance(m, str)]
    assert texts[-1]["type"] == "status" and texts[-1]["status"] == "succeeded"
    assert texts[-1]["summary"]["claim_holds"] is True
    seqs = [h["seq"] for h, _ in tensors] + [t["seq"] for t in texts]
    assert len(seqs) == len(set(seqs))


def test_a_running_lab_can_be_cancelled(client: httpx.Client) -> None:
    r = client.post("/api/labs/overparameterisation/run", json={"scale": "full"})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not [e for e in events(client, job_id) if e["type"] == "metrics"]:
        time.sleep(0.1)
    asked = time.monotonic()
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 202
    job = wait_for(client, job_id, {"cancelled"}, timeout=30)
    assert time.monotonic() - asked < 10 and job["status"] == "cancelled"


def test_labs_are_listed_and_unknown_labs_answer_404(client: httpx.Client) -> None:
    labs = client.get("/api/labs").json()["labs"]
    mine = {lab["id"]: lab for lab in labs if lab["section"] in ("9.3.1", "9.3.2", "9.3.3", "gap")}
    assert len(mine) == 11 and all(lab["runnable"] for lab in mine.values())
    catalogue_ids = {lab["id"] for lab in client.get("/api/catalogue").json()["labs"]}
    assert set(mine) <= catalogue_ids
    assert client.post("/api/labs/no_such_lab/run", json={}).status_code == 404
    r = client.post("/api/labs/double_descent/run", json={"scale": "huge"})
    assert r.status_code == 422
