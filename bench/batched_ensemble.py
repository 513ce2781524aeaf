"""Benchmark: a study of 32 small MLPs trained as ONE batched (vmap) ensemble ÷ the same 32 as separate jobs,
in model-steps per second (DESIGN §11.6, target ≥ 5), measured side by side in one run; and the CPU time of
the lab suite.

1. Through a real server (one CPU slot, one torch thread per job): POST /api/studies with mode "batched"
   (one job), then the same 32 specs as 32 POST /api/jobs; wall time from the first submission to the last
   job's end (the server's own timestamps), model-steps from the job summaries. Repeated `--rounds` times,
   alternating which goes first; the ratio of the medians is the headline.
2. The training loops alone, in this process on one thread: `training/loop.py` train_records for each of
   the 32 specs in turn ÷ `training/batched_loop.py` train_batched once, same data bundle (no process
   start, data loading, evaluation streaming or artifacts: the lower bound of the gain).
3. Every registered lab at `--scale` (default full), one after the other in this process: CPU seconds and
   whether the chapter's claim held.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
MEMBERS = 32
TARGET = 5.0
TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}


def base_spec(epochs: int) -> dict[str, Any]:
    """A 2-32-32-2 MLP on the spiral: one of the playground's small networks."""
    nodes = [{"id": "x", "type": "input", "params": {"shape": [2]}}]
    prev = "x"
    for i in (1, 2):
        nodes += [{"id": f"h{i}", "type": "dense", "params": {"units": 32}, "inputs": [prev]},
                  {"id": f"a{i}", "type": "activation", "params": {"fn": "tanh"}, "inputs": [f"h{i}"]}]
        prev = f"a{i}"
    nodes.append({"id": "out", "type": "dense", "params": {"units": 2}, "inputs": [prev]})
    return {"model": {"nodes": nodes}, "data": {"dataset": "spiral", "n_samples": 500},
            "train": {"epochs": epochs, "batch_size": 32, "optimizer": {"name": "adam", "lr": 0.01},
                      "device": "cpu"}}


def variants(epochs: int) -> list[dict[str, Any]]:
    out = []
    for seed in range(MEMBERS):
        spec = copy.deepcopy(base_spec(epochs))
        spec["train"]["seed"] = seed
        out.append(spec)
    return out


# ----------------------------------------------------------------------------------------- real server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
    env.update({"OMP_NUM_THREADS": "1", "LAYERLAB_JOBS__CPU_SLOTS": "1", "LAYERLAB_JOBS__THREADS_PER_JOB": "1",
                "LAYERLAB_LIMITS__MAX_QUEUED": "64", "LAYERLAB_LIMITS__MAX_RUNNING": "1"})
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "layerlab", "serve", "--port", str(port), "--data-dir",
                                 str(data_dir)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError(f"server did not start; log:\n{log.read_text()[-3000:]}")


def wait_jobs(client: httpx.Client, job_ids: list[str], timeout: float = 1800) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    pending = list(job_ids)
    done: dict[str, dict[str, Any]] = {}
    while pending and time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{pending[0]}").json()
        if job["status"] in TERMINAL:
            if job["status"] != "succeeded":
                raise RuntimeError(f"job {job['id']} ended {job['status']}: {job['reason']}")
            done[job["id"]] = job
            pending.pop(0)
        else:
            time.sleep(0.1)
    if pending:
        raise RuntimeError(f"{len(pending)} jobs unfinished after {timeout}s")
    return [done[j] for j in job_ids]


def run_batched(client: httpx.Client, epochs: int) -> dict[str, Any]:
    body = {"name": "bench: 32 seeds batched", "base": base_spec(epochs), "mode": "batched",
            "vary": {"path": "train.seed", "values": list(range(MEMBERS))}}
    r = client.post("/api/studies", json=body)
    r.raise_for_status()
    (job,) = wait_jobs(client, r.json()["jobs"])
    seconds = job["finished_at"] - job["created_at"]
    steps = job["summary"]["steps"] * len(job["summary"]["members"])
    return {"jobs": 1, "model_steps": steps, "seconds": round(seconds, 3),
            "training_seconds": round(job["summary"]["seconds"], 3), "model_steps_per_s": steps / seconds}


def run_separate(client: httpx.Client, epochs: int) -> dict[str, Any]:
    ids = []
    for spec in variants(epochs):
        r = client.post("/api/jobs", json=spec)
        r.raise_for_status()
        ids.append(r.json()["id"])
    jobs = wait_jobs(client, ids)
    seconds = max(j["finished_at"] for j in jobs) - min(j["created_at"] for j in jobs)
    steps = sum(j["summary"]["steps"] for j in jobs)
    return {"jobs": len(jobs), "model_steps": steps, "seconds": round(seconds, 3),
            "training_seconds": round(sum(j["summary"]["seconds"] for j in jobs), 3),
            "model_steps_per_s": steps / seconds}


def server_comparison(epochs: int, rounds: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="layerlab-bench-batched-"))
    proc, url = start_server(root / "data", root / "server.log")
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            client.post("/api/jobs", json=variants(1)[0]).raise_for_status()  # boot the forkserver and worker
            time.sleep(3)
            runs: dict[str, list[dict[str, Any]]] = {"batched": [], "separate": []}
            for i in range(rounds):
                order = ("batched", "separate") if i % 2 == 0 else ("separate", "batched")
                for kind in order:
                    fn = run_batched if kind == "batched" else run_separate
                    runs[kind].append(fn(client, epochs))
                    print(kind, json.dumps(runs[kind][-1]), flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    median = {k: statistics.median(r["model_steps_per_s"] for r in v) for k, v in runs.items()}
    return {"runs": runs, "median_model_steps_per_s": median,
            "ratio": median["batched"] / median["separate"]}


# ------------------------------------------------------------------------------------------ loops alone


def loop_comparison(epochs: int) -> dict[str, Any]:
    import torch

    from layerlab.catalogue.spec import JobSpec
    from layerlab.training.batched_loop import BatchedSummary, member_of, train_batched
    from layerlab.training.data import load_dataset
    from layerlab.training.loop import SummaryRecord, train_records

    torch.set_num_threads(1)
    specs = [JobSpec.model_validate(v) for v in variants(epochs)]
    bundle = load_dataset(specs[0].data)
    out: dict[str, Any] = {}
    for kind in ("separate", "batched"):
        wall, cpu = time.perf_counter(), time.process_time()
        if kind == "separate":
            steps = 0
            for spec in specs:
                summary = list(train_records(spec, bundle=bundle))[-1]
                assert isinstance(summary, SummaryRecord)
                steps += summary.steps
        else:
            batched = list(train_batched(specs[0], [member_of(s) for s in specs], bundle=bundle))[-1]
            assert isinstance(batched, BatchedSummary)
            steps = batched.steps * len(specs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out[kind] = {"model_steps": steps, "wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
                     "model_steps_per_s": steps / wall, "model_steps_per_cpu_s": steps / cpu}
    out["ratio_wall"] = out["batched"]["model_steps_per_s"] / out["separate"]["model_steps_per_s"]
    out["ratio_cpu"] = out["batched"]["model_steps_per_cpu_s"] / out["separate"]["model_steps_per_cpu_s"]
    return out


# ------------------------------------------------------------------------------------------- lab suite


def lab_suite(scale: str) -> dict[str, Any]:
    import torch

    from layerlab.catalogue.labs import LabParams
    from layerlab.labs.base import RecordingContext
    from layerlab.labs.registry import RUNNERS

    torch.set_num_threads(1)
    labs: dict[str, Any] = {}
    for lab_id, runner in RUNNERS.items():
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            outcome = runner(LabParams(scale=scale), RecordingContext())  # type: ignore[arg-type]
            result: dict[str, Any] = {"claim_holds": outcome.claim_holds}
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=3)}
        result.update(cpu_seconds=round(time.process_time() - cpu, 2),
                      wall_seconds=round(time.perf_counter() - wall, 2))
        labs[lab_id] = result
        print(lab_id, json.dumps(result), flush=True)
    return {"scale": scale, "threads": 1, "labs": labs,
            "total_cpu_seconds": round(sum(r["cpu_seconds"] for r in labs.values()), 1),
            "claims_held": sum(1 for r in labs.values() if r.get("claim_holds")), "labs_run": len(labs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "batched_ensemble.json")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each MLP (13 steps each)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", choices=("quick", "full"), default="full", help="lab suite scale")
    parser.add_argument("--skip-labs", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "benchmark": "batched_ensemble", "target": f"batched ÷ separate jobs, model-steps/s >= {TARGET}",
        "members": MEMBERS, "model": "2-32-32-2 tanh MLP, spiral (400 train samples), batch 32, Adam",
        "epochs": args.epochs,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]},
    }
    result["jobs"] = server_comparison(args.epochs, args.rounds)
    result["loops"] = loop_comparison(args.epochs)
    result["ratio"] = result["jobs"]["ratio"]
    result["meets_target"] = result["ratio"] >= TARGET
    if not args.skip_labs:
        result["lab_suite"] = lab_suite(args.scale)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "lab_suite"}, indent=2))


if __name__ == "__main__":
    main()
