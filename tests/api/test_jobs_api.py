"""The jobs API against a real server: presets train queued -> running -> succeeded with metrics, a burst of jobs
runs in submission order within the CPU slots, listing/pagination, idempotency, event history, artifacts
(ONNX in onnxruntime == torch, model.py + weights standalone), and 429/503 answers of full queues."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load as load_safetensors

from jobkit import events, mlp, submit, wait_for
from layerlab.streaming.steps import expand_steps
from serverkit import LiveServer, start_server

ENV = {
    "LAYERLAB_JOBS__CPU_SLOTS": "2",
    "LAYERLAB_JOBS__THREADS_PER_JOB": "1",
    "LAYERLAB_LIMITS__MAX_RUNNING": "2",
    "LAYERLAB_LIMITS__MAX_QUEUED": "20",
}
PRESETS = ["mlp_spiral", "cnn_mnist", "lstm_sentiment", "seq2seq_attention", "transformer_sentiment"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("jobs_api")
    live = start_server(root / "data", root / "server.log", ENV)
    yield live
    live.stop()


def preset_spec(preset_id: str) -> dict[str, Any]:
    from layerlab.catalogue.presets import PRESETS_BY_ID

    spec = copy.deepcopy(PRESETS_BY_ID[preset_id].spec)
    spec["train"].update(epochs=1, max_steps=4)
    spec["name"] = f"test {preset_id}"
    return spec


def test_presets_train_to_success_with_metrics(server: LiveServer) -> None:
    with server.client() as c:
        jobs = {pid: submit(c, preset_spec(pid)) for pid in PRESETS}
        for pid, job in jobs.items():
            assert job["status"] == "queued" and job["queue_position"] >= 1 and job["name"] == f"test {pid}"
            done = wait_for(c, job["id"], {"succeeded"}, timeout=120)
            assert done["summary"]["steps"] == 4 and done["attempt"] == 1 and done["reason"] is None
            assert done["started_at"] >= done["created_at"] and done["finished_at"] >= done["started_at"]
            frames = events(c, job["id"])
            statuses = [f["status"] for f in frames if f["type"] == "status"]
            assert statuses == ["queued", "running", "succeeded"], pid
            steps = [row for f in frames for row in expand_steps(f)]
            assert [f["step"] for f in steps] == [1, 2, 3, 4]
            assert {"step", "epoch", "split", "loss", "accuracy", "lr"} <= steps[0].keys()
            assert any(f["type"] == "metrics" and f.get("split") == "test" for f in frames)
            assert [f["type"] for f in frames[-2:]] == ["summary", "status"]
            assert frames[-1]["seq"] == done["last_seq"]


def test_burst_of_jobs_runs_in_order_within_the_slots(server: LiveServer) -> None:
    with server.client() as c:
        jobs = [submit(c, mlp(seed=i)) for i in range(6)]
        assert [j["queue_position"] for j in jobs] == sorted(j["queue_position"] for j in jobs)
        done = [wait_for(c, j["id"], {"succeeded"}, timeout=120) for j in jobs]
    starts = [d["started_at"] for d in done]
    assert starts == sorted(starts)
    for d in done:  # never more than the 2 CPU slots running at once
        overlapping = [o for o in done if o["started_at"] <= d["started_at"] < o["finished_at"]]
        assert len(overlapping) <= 2


def test_listing_filters_and_paginates(server: LiveServer) -> None:
    with server.client() as c:
        ids = [submit(c, mlp(seed=100 + i))["id"] for i in range(3)]
        for job_id in ids:
            wait_for(c, job_id, {"succeeded"}, timeout=60)
        page = c.get("/api/jobs", params={"limit": 2}).json()
        assert [j["id"] for j in page["jobs"]] == ids[::-1][:2] and page["total"] >= 3
        assert page["jobs"][0]["spec"] is None  # listings leave specs out
        nxt = c.get("/api/jobs", params={"limit": 2, "offset": 2}).json()
        assert nxt["jobs"][0]["id"] == ids[0]
        ok = c.get("/api/jobs", params=[("status", "succeeded"), ("status", "failed")]).json()
        assert all(j["status"] in ("succeeded", "failed") for j in ok["jobs"]) and ok["total"] >= 3
        assert c.get("/api/jobs", params={"status": "nonsense"}).status_code == 422
        assert c.get("/api/jobs", params={"limit": 0}).status_code == 422


def test_idempotency_key_creates_one_job(server: LiveServer) -> None:
    with server.client() as c:
        first = c.post("/api/jobs", json=mlp(seed=7), headers={"Idempotency-Key": "retry-me"})
        again = c.post("/api/jobs", json=mlp(seed=7), headers={"Idempotency-Key": "retry-me"})
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
        other = c.post("/api/jobs", json=mlp(seed=8), headers={"Idempotency-Key": "retry-me"})
        assert other.status_code == 409


def test_job_read_metrics_history_and_404s(server: LiveServer) -> None:
    with server.client() as c:
        job = submit(c, mlp())
        done = wait_for(c, job["id"], {"succeeded"}, timeout=60)
        assert done["spec"]["data"]["dataset"] == "xor" and done["spec"]["train"]["optimizer"]["name"] == "adam"
        page = c.get(f"/api/jobs/{job['id']}/metrics", params={"after_seq": 2, "type": "metrics"}).json()
        assert page["status"] == "succeeded" and page["after_seq"] == 2
        assert all(f["seq"] > 2 and f["type"] == "metrics" for f in page["events"])
        assert page["last_seq"] == page["events"][-1]["seq"]
        empty = c.get(f"/api/jobs/{job['id']}/metrics", params={"after_seq": done["last_seq"]}).json()
        assert empty["events"] == [] and empty["last_seq"] == done["last_seq"]
        missing = "f" * 32
        for path in (f"/api/jobs/{missing}", f"/api/jobs/{missing}/metrics", f"/api/jobs/{missing}/artifacts/model.py"):
            r = c.get(path)
            assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_artifacts_onnx_matches_torch_and_model_py_runs_standalone(server: LiveServer, tmp_path: Path) -> None:
    from layerlab.catalogue.spec import JobSpec
    from layerlab.training.build import build_model
    from layerlab.training.data import load_dataset

    with server.client() as c:
        job = submit(c, preset_spec("cnn_mnist"))
        done = wait_for(c, job["id"], {"succeeded"}, timeout=120)
        assert done["summary"]["artifacts"]["model.onnx"] is True
        files = {}
        for name in ("spec.json", "weights.safetensors", "model.onnx", "model.py"):
            r = c.get(f"/api/jobs/{job['id']}/artifacts/{name}")
            assert r.status_code == 200, (name, r.text)
            files[name] = r.content
        for bad in ("../layerlab.sqlite3", "..%2Flayerlab.sqlite3", "weights", "model.pt", "%2e%2e"):
            assert c.get(f"/api/jobs/{job['id']}/artifacts/{bad}").status_code == 404
    spec = JobSpec.model_validate(json.loads(files["spec.json"]))
    assert json.loads(files["spec.json"]) == done["spec"]
    torch.manual_seed(0)
    model = build_model(spec.model)
    model.load_state_dict(load_safetensors(files["weights.safetensors"]))
    model.eval()
    x = load_dataset(spec.data).test.inputs["x"][:16]
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(files["model.onnx"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(got, expected, atol=1e-4)

    (tmp_path / "model.py").write_bytes(files["model.py"])
    (tmp_path / "weights.safetensors").write_bytes(files["weights.safetensors"])
    np.save(tmp_path / "x.npy", x.numpy())
    script = (
        "import numpy as np, torch\nfrom safetensors.torch import load_file\nfrom model import Model\n"
        "m = Model(); m.load_state_dict(load_file('weights.safetensors')); m.eval()\n"
        "with torch.no_grad(): y = m(torch.from_numpy(np.load('x.npy')))\nnp.save('y.npy', y.numpy())\n"
    )
    subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.')\n{script}"], cwd=tmp_path,
                   check=True, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)


@pytest.mark.parametrize(("limits", "status", "cap"), [({"queue_cap": 0}, 503, "queue_cap"),
                                                       ({"max_queued": 0}, 429, "max_queued")])
def test_full_queues_answer_with_retry_after(make_client: Callable[..., TestClient], limits: dict[str, int],
                                             status: int, cap: str) -> None:
    client = make_client(limits=limits, jobs={"prewarm": False, "retry_after_s": 11})
    r = client.post("/api/jobs", json=mlp())
    assert r.status_code == status, r.text
    assert r.headers["Retry-After"] == "11" and r.json()["cap"] == cap
    assert client.get("/api/jobs").json()["total"] == 0
