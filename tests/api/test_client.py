"""layerlab/client.py against a real server: a job's round trip (submit, stream over the websocket and by
polling, wait, get, list, metrics, artifacts), idempotent retries, cancel, and the typed errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import numpy as np
import pytest
from safetensors.numpy import load as load_safetensors

from jobkit import long_job, mlp
from layerlab.client import (
    Client,
    Conflict,
    InvalidSpec,
    NotFound,
    ServerUnreachable,
    TensorFrame,
    Unauthorized,
    expand_steps,
)
from serverkit import LiveServer, start_server

TOKEN = "client-test-token-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("client")
    live = start_server(root / "data", root / "server.log", {"LAYERLAB_AUTH_TOKENS": TOKEN})
    yield live
    live.stop()


@pytest.fixture
def lab(server: LiveServer) -> Iterator[Client]:
    with Client(server.url, token=TOKEN) as client:
        yield client


def test_round_trip(lab: Client) -> None:
    spec = mlp(n_samples=200, epochs=2)
    spec["name"] = "client round trip"
    job = lab.submit(spec)
    assert job["status"] == "queued" and job["name"] == "client round trip"

    frames = list(lab.stream(job["id"], tensors=True))
    texts = [f for f in frames if isinstance(f, dict)]
    seqs = [f.seq if isinstance(f, TensorFrame) else f["seq"] for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert texts[0]["type"] == "status" and texts[0]["status"] == "queued"
    assert texts[-1]["type"] == "status" and texts[-1]["status"] == "succeeded"
    steps = [row for f in texts for row in expand_steps(f)]
    assert steps and all(np.isfinite(f["loss"]) for f in steps)
    for tensor in (f for f in frames if isinstance(f, TensorFrame)):
        itemsize = {"float32": 4, "float16": 2, "uint8": 1}[tensor.header["dtype"]]
        assert len(tensor.data) == int(np.prod(tensor.header["shape"])) * itemsize

    done = lab.wait(job["id"], timeout=30)
    assert done["status"] == "succeeded" and done["summary"]["steps"] > 0
    assert lab.get(job["id"])["spec"]["data"]["dataset"] == "xor"
    assert job["id"] in {j["id"] for j in lab.list(status="succeeded")["jobs"]}
    assert job["id"] not in {j["id"] for j in lab.list(status=["queued", "running"])["jobs"]}

    # The same text frames by polling, and the history again after a given seq.
    polled = list(lab.stream(job["id"], websocket=False))
    assert [f["seq"] for f in polled] == [f["seq"] for f in texts]
    middle = texts[len(texts) // 2]["seq"]
    page = lab.metrics(job["id"], after_seq=middle)
    assert [f["seq"] for f in page["events"]] == [f["seq"] for f in texts if f["seq"] > middle]
    only_steps = lab.metrics(job["id"], types=["metrics"])["events"]
    assert only_steps and {f["type"] for f in only_steps} == {"metrics"}

    weights = load_safetensors(lab.artifact(job["id"], "weights.safetensors"))
    assert "layers.h.weight" in weights and weights["layers.h.weight"].shape == (16, 2)
    assert json.loads(lab.artifact(job["id"], "spec.json"))["name"] == "client round trip"
    assert "class Model" in lab.artifact(job["id"], "model.py").decode()


def test_idempotent_submit_and_cancel(lab: Client) -> None:
    first = lab.submit(long_job(), idempotency_key="client-retry-1")
    again = lab.submit(long_job(), idempotency_key="client-retry-1")
    assert again["id"] == first["id"]
    lab.cancel(first["id"])
    assert lab.wait(first["id"], timeout=60)["status"] == "cancelled"
    with pytest.raises(Conflict) as info:
        lab.cancel(first["id"])
    assert info.value.status == 409 and "cancelled" in info.value.message


def test_errors_are_typed_and_carry_the_servers_message(lab: Client, server: LiveServer) -> None:
    spec = mlp()
    spec["model"]["nodes"].insert(1, {"id": "conv", "type": "conv2d", "inputs": ["x"],
                                      "params": {"filters": 4, "kernel_size": 3}})
    spec["model"]["nodes"][2]["inputs"] = ["conv"]
    with pytest.raises(InvalidSpec) as info:
        lab.submit(spec)
    err = info.value
    assert err.status == 422 and err.node_id == "conv" and "conv" in str(err) and err.message
    with pytest.raises(InvalidSpec):
        lab.validate(spec)
    with pytest.raises(NotFound) as missing:
        lab.get("0" * 32)
    assert missing.value.error == "not_found"
    with pytest.raises(NotFound):
        lab.artifact("0" * 32, "../../etc/passwd")
    with pytest.raises(NotFound):
        next(iter(lab.stream("0" * 32)))
    with Client(server.url) as anonymous, pytest.raises(Unauthorized) as denied:
        anonymous.list()
    assert denied.value.status == 401
    with Client(server.url, token="wrong-token-0123456789") as wrong, pytest.raises(Unauthorized):
        next(iter(wrong.stream("0" * 32)))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", timeout=5) as nowhere, pytest.raises(ServerUnreachable):
        nowhere.health()
