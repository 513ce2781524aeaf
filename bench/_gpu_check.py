"""GPU check (run by bench/gpu_check.sh on a machine with an NVIDIA GPU): one short run, JSON out.

1. One CUDA job end to end through a real server: the job record's device, the run's device, artifacts.
2. Steps/s of that job streamed to a websocket client ÷ the bare `training/loop.py` loop on the same GPU
   (same spec, one torch thread; steps/s over the training steps only, as bench/stream_throughput.py).
3. Packing: five small jobs asking for 0.25 GPU each — four run together on the one GPU, the fifth waits
   in the queue; their summed steps/s against one job alone.

With `--executor ray` the server joins an existing Ray cluster (`--ray-address`, token in RAY_AUTH_TOKEN)
instead of using the local executor. `--allow-cpu` runs the same plumbing without a GPU (device cpu,
CPU slots instead of GPU shares) to check the script itself.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}
SHARE = 0.25
PACKED = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mlp(inputs: list[dict[str, Any]], widths: list[int], classes: int, fn: str = "relu") -> list[dict[str, Any]]:
    nodes, prev = list(inputs), inputs[-1]["id"]
    for i, width in enumerate(widths, 1):
        nodes += [{"id": f"h{i}", "type": "dense", "params": {"units": width}, "inputs": [prev]},
                  {"id": f"a{i}", "type": "activation", "params": {"fn": fn}, "inputs": [f"h{i}"]}]
        prev = f"a{i}"
    return nodes + [{"id": "out", "type": "dense", "params": {"units": classes}, "inputs": [prev]}]


def mnist_job(device: str) -> dict[str, Any]:
    image = [{"id": "x", "type": "input", "params": {"shape": [1, 28, 28]}}, {"id": "f", "type": "flatten",
                                                                           "inputs": ["x"]}]
    return {"name": "gpu check: MNIST MLP", "model": {"nodes": mlp(image, [512, 256], 10)},
            "data": {"dataset": "mnist5k"},
            "train": {"epochs": 6, "batch_size": 64, "device": device, "seed": 1,
                      "optimizer": {"name": "adam", "lr": 0.001}}}


def small_job(device: str, seed: int) -> dict[str, Any]:
    point = [{"id": "x", "type": "input", "params": {"shape": [2]}}]
    return {"name": f"gpu check: packed {seed}", "model": {"nodes": mlp(point, [64, 64], 2, "tanh")},
            "data": {"dataset": "spiral", "n_samples": 2000},
            "train": {"epochs": 20, "batch_size": 16, "device": device, "seed": seed},
            "probes": {"enabled": False}}


def start_server(data_dir: Path, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
    full.update(env)
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "layerlab", "serve", "--port", str(port), "--data-dir",
                                 str(data_dir)], cwd=REPO, env=full, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            devices = httpx.get(f"{url}/api/health", timeout=2).json()["devices"]
            if env.get("LAYERLAB_EXECUTOR") != "ray" or devices[0]["name"] == "Ray cluster CPUs":
                return proc, url
        except (httpx.TransportError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("server did not become ready:\n" + log.read_text(errors="replace")[-3000:])


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


def bare(spec: dict[str, Any]) -> float:
    """The bare loop in this process on the same device: steps/s over its training steps."""
    from layerlab.catalogue.spec import JobSpec
    from layerlab.training.loop import StepRecord, train_records

    times = [time.perf_counter() for r in train_records(JobSpec.model_validate(spec)) if isinstance(r, StepRecord)]
    return rate(times)


def submit(c: httpx.Client, spec: dict[str, Any]) -> str:
    r = c.post("/api/jobs", json=spec)
    r.raise_for_status()
    return str(r.json()["id"])


def streamed(c: httpx.Client, url: str, spec: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Submit, read the websocket until the terminal status, steps/s from step frames' arrival times."""
    from websockets.sync.client import connect

    job_id = submit(c, spec)
    times: list[float] = []
    ws_url = url.replace("http://", "ws://") + f"/api/jobs/{job_id}/stream?after_seq=-1"
    with connect(ws_url, origin=url, open_timeout=30, max_size=None) as ws:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            message = ws.recv(timeout=max(1.0, deadline - time.monotonic()))
            if isinstance(message, bytes):
                continue
            frame = json.loads(message)
            if frame.get("type") == "metrics" and frame.get("kind") == "step":
                times.append(time.perf_counter())
            if frame.get("type") == "status" and frame.get("status") in TERMINAL:
                break
    return rate(times), wait(c, job_id, 30)


def wait(c: httpx.Client, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["status"] in TERMINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def packing(c: httpx.Client, device: str) -> dict[str, Any]:
    """PACKED+1 small jobs at once: how many ran together, did the last wait, summed steps/s."""
    ids = [submit(c, small_job(device, seed)) for seed in range(PACKED + 1)]
    most_running, last_waited, min_free = 0, False, None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = [c.get(f"/api/jobs/{i}").json() for i in ids]
        running = [j for j in jobs if j["status"] == "running"]
        most_running = max(most_running, len(running))
        if len(running) == PACKED and jobs[-1]["status"] == "queued":
            last_waited = True
            gpus = [d for d in c.get("/api/health").json()["devices"] if d["kind"] == "cuda"]
            if gpus:
                min_free = min(g["share_free"] for g in gpus)
        if all(j["status"] in TERMINAL for j in jobs):
            break
        time.sleep(0.1)
    jobs = [wait(c, i, 5) for i in ids]
    first = jobs[:PACKED]
    span = max(j["finished_at"] for j in first) - min(j["started_at"] for j in first)
    steps = sum((j.get("summary") or {}).get("steps", 0) for j in first)
    return {"jobs": len(ids), "most_running_at_once": most_running, "fifth_waited_in_queue": last_waited,
            "gpu_share_free_while_packed": min_free, "statuses": [j["status"] for j in jobs],
            "devices": sorted({j["device"] for j in jobs if j["device"]}),
            "packed_steps_per_s": steps / span if span > 0 else 0.0,
            "packed_wall_s": span}


def gpu_info() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
                            "torch_cuda": torch.version.cuda}
    if torch.cuda.is_available():
        info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        info["nvidia_smi"] = smi.stdout.strip().splitlines()
    except (OSError, subprocess.TimeoutExpired):
        info["nvidia_smi"] = None
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/gpu_check.json")
    parser.add_argument("--allow-cpu", action="store_true", help="run the plumbing without a GPU (device cpu)")
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--ray-address", default="auto")
    args = parser.parse_args()
    started = time.monotonic()
    import torch

    torch.set_num_threads(1)
    info = gpu_info()
    result: dict[str, Any] = {"benchmark": "gpu_check", "executor": args.executor, "gpu": info,
                              "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}
    if not info["cuda_available"] and not args.allow_cpu:
        result.update(ok=False, error="no CUDA device visible to torch (use --allow-cpu to check the plumbing)")
        print(json.dumps(result, indent=2))
        return 2
    device = "cuda" if info["cuda_available"] else "cpu"
    env = {"LAYERLAB_JOBS__GPU_SHARE": str(SHARE), "LAYERLAB_JOBS__THREADS_PER_JOB": "1",
           "LAYERLAB_JOBS__CPU_SLOTS": str(PACKED) if device == "cpu" else "1",
           "LAYERLAB_LIMITS__MAX_RUNNING": "0", "LAYERLAB_LIMITS__MAX_QUEUED": "20",
           "LAYERLAB_LOG_LEVEL": "warning", "OMP_NUM_THREADS": "1", "LAYERLAB_EXECUTOR": args.executor}
    if args.executor == "ray":
        env["LAYERLAB_RAY_ADDRESS"] = args.ray_address
    work = Path(tempfile.mkdtemp(prefix="layerlab-gpu-check-"))
    spec = mnist_job(device)
    bare({**spec, "train": {**spec["train"], "epochs": 1}})  # warm CUDA and the kernels in this process
    bare_rates = [bare(spec) for _ in range(2)]
    proc, url = start_server(work / "data", work / "server.log", env)
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            streamed(c, url, {**spec, "train": {**spec["train"], "epochs": 1}})  # warm the worker
            stream_rate, job = streamed(c, url, spec)
            weights = c.get(f"/api/jobs/{job['id']}/artifacts/weights.safetensors")
            single_rate, single = streamed(c, url, small_job(device, 99))
            packed = packing(c, device)
    finally:
        stop_server(proc)
    bare_rate = statistics.median(bare_rates)
    packed["single_job_steps_per_s"] = single_rate
    packed["packed_over_single"] = packed["packed_steps_per_s"] / single_rate if single_rate else None
    end_to_end = {"status": job["status"], "reason": job["reason"], "record_device": job["device"],
                  "run_device": (job.get("summary") or {}).get("device"),
                  "weights_bytes": len(weights.content) if weights.status_code == 200 else None,
                  "onnx": ((job.get("summary") or {}).get("artifacts") or {}).get("model.onnx")}
    ok = (job["status"] == "succeeded" and end_to_end["run_device"] == device and bool(end_to_end["weights_bytes"])
          and single["status"] == "succeeded" and packed["most_running_at_once"] == PACKED
          and packed["fifth_waited_in_queue"] and all(s == "succeeded" for s in packed["statuses"]))
    result.update({
        "ok": ok, "device": device, "end_to_end": end_to_end,
        "steps_per_s": {"bare_loop": bare_rate, "bare_runs": bare_rates, "streamed_job": stream_rate,
                        "ratio": stream_rate / bare_rate if bare_rate else None},
        "packing": packed, "seconds": round(time.monotonic() - started, 1),
    })
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
