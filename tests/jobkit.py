"""Helpers for tests that drive a real server's job API: tiny specs, polling, process inspection."""

from __future__ import annotations

import copy
import time
from typing import Any

import httpx
import psutil

TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}


def mlp(dataset: str = "xor", n_samples: int = 200, epochs: int = 2, batch_size: int = 32, **train: Any
        ) -> dict[str, Any]:
    """A 2-16-2 MLP on a 2-D toy set: a job of about a second."""
    return {
        "model": {"nodes": [
            {"id": "x", "type": "input", "params": {"shape": [2]}},
            {"id": "h", "type": "dense", "inputs": ["x"], "params": {"units": 16}},
            {"id": "a", "type": "activation", "inputs": ["h"], "params": {"fn": "tanh"}},
            {"id": "out", "type": "dense", "inputs": ["a"], "params": {"units": 2}},
        ]},
        "data": {"dataset": dataset, "n_samples": n_samples},
        "train": {"epochs": epochs, "batch_size": batch_size, **train},
    }


def long_job(max_steps: int = 20_000) -> dict[str, Any]:
    """Thousands of tiny steps: runs until cancelled, killed or capped (tens of seconds otherwise)."""
    return mlp(n_samples=20_000, epochs=5, batch_size=2, max_steps=max_steps)


def nan_job() -> dict[str, Any]:
    """Plain SGD with lr 10 on a regression: the loss overflows within a few steps."""
    spec = mlp(dataset="plane", epochs=5, batch_size=16, optimizer={"name": "sgd", "lr": 10.0})
    spec["model"]["nodes"][-1]["params"]["units"] = 1
    return spec


def oom_job() -> dict[str, Any]:
    """One dense layer of 8192 units over 64 time steps at batch 512: its first activation asks for 1 GiB."""
    return {
        "model": {"nodes": [
            {"id": "x", "type": "input", "params": {"shape": [64], "dtype": "long"}},
            {"id": "e", "type": "embedding", "inputs": ["x"], "params": {"num_embeddings": 128, "embedding_dim": 256}},
            {"id": "h", "type": "dense", "inputs": ["e"], "params": {"units": 8192}},
            {"id": "out", "type": "dense", "inputs": ["h"], "params": {"units": 98}},
        ]},
        "data": {"dataset": "chars", "seq_len": 64, "n_samples": 2000},
        "train": {"epochs": 1, "batch_size": 512},
    }


def with_train(spec: dict[str, Any], **train: Any) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    out.setdefault("train", {}).update(train)
    return out


def submit(client: httpx.Client, spec: dict[str, Any], **headers: str) -> dict[str, Any]:
    r = client.post("/api/jobs", json=spec, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def get(client: httpx.Client, job_id: str) -> dict[str, Any]:
    r = client.get(f"/api/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(client: httpx.Client, job_id: str, statuses: set[str], timeout: float = 60.0,
             need_pid: bool = False) -> dict[str, Any]:
    """Poll the job until its status is in `statuses` (and, with need_pid, its worker pid is known)."""
    deadline = time.monotonic() + timeout
    job = get(client, job_id)
    while time.monotonic() < deadline:
        if job["status"] in statuses and (not need_pid or job["worker_pid"]):
            return job
        if job["status"] in TERMINAL and job["status"] not in statuses:
            raise AssertionError(f"job ended {job['status']} ({job['reason']}), wanted {statuses}")
        time.sleep(0.05)
        job = get(client, job_id)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s, wanted {statuses}")


def wait_first_metrics(client: httpx.Client, job_id: str, timeout: float = 60.0) -> None:
    """Until the job has trained at least one step (its first metrics frame exists)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = client.get(f"/api/jobs/{job_id}/metrics", params={"type": "metrics", "limit": 1}).json()["events"]
        if events:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} produced no metrics in {timeout}s")


def events(client: httpx.Client, job_id: str, after_seq: int = -1) -> list[dict[str, Any]]:
    r = client.get(f"/api/jobs/{job_id}/metrics", params={"after_seq": after_seq})
    assert r.status_code == 200, r.text
    return r.json()["events"]


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    except psutil.NoSuchProcess:
        return []
