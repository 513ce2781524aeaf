"""Benchmark (DESIGN §11.4): with one stalled subscriber, the longest gap a healthy subscriber sees between
consecutive frames ÷ the event period (target ≤ 2).

The real app serves on 127.0.0.1 (thread of this process); a job publishes one metrics frame every PERIOD
and, at the 10 Hz heavy-frame cap, a 256 KiB tensor frame (the per-frame cap) into its real event router.
HEALTHY raw websocket clients in another process time the kernel arrival of every metrics frame
(SO_TIMESTAMPNS) and its latency from publish. One more subscriber completes the handshake with a 4 KiB
receive buffer and never reads, so backpressure reaches the server (≥ 20 MiB is pushed) until the hub
closes it. The same run without the stalled subscriber is the control: on a shared machine part of any gap
is the producer's own scheduling, which the control shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stream import REPO, RawWebSocket, ThreadServer, collect, machine, write_result  # noqa: E402

TARGET = 2.0
PERIOD = 0.02
DURATION = 12.0
HEALTHY = 5
HEAVY = (256, 512)  # float16: 256 KiB per tensor frame
HEAVY_EVERY = 5  # 10 Hz at PERIOD 0.02


async def produce(router, job: str, duration: float, period: float, hub, stats: dict) -> None:
    from layerlab.streaming.protocol import FrameEncoder

    enc = FrameEncoder(0)
    heavy = np.random.default_rng(0).standard_normal(HEAVY).astype(np.float32)
    loop = asyncio.get_running_loop()
    start = due = loop.time()
    evicted = hub.evicted
    step = 0
    while loop.time() - start < duration:
        router.publish(job, enc.text("metrics", step=step, loss=0.5, split="train", t=time.time()))
        if step % HEAVY_EVERY == 0:
            frame = enc.tensor("attention", f"n{step % 4}", step, heavy, "float16")
            stats["pushed_bytes"] += len(frame.data)
            router.publish(job, frame)
        if stats.get("evicted_after_s") is None and hub.evicted > evicted:
            stats["evicted_after_s"] = loop.time() - start
        step += 1
        due += period
        await asyncio.sleep(max(0.0, due - loop.time()))
    router.publish(job, enc.text("status", status="succeeded"))


def run_clients(port: int, job: str, n: int, out: Path) -> None:
    """Client process: n healthy subscribers; per subscriber (arrival, publish time) of its metrics frames."""
    clients = [RawWebSocket(port, f"/api/jobs/{job}/stream", timestamps=True) for _ in range(n)]
    print("connected", flush=True)
    arrivals: list[list[tuple[float, float]]] = [[] for _ in clients]

    def on_message(index: int, opcode: int, payload: bytes, arrived: float, used: int) -> None:
        if opcode == 1:
            frame = json.loads(payload)
            if frame.get("type") == "metrics":
                arrivals[index].append((arrived, frame["t"]))

    collect(clients, on_message, time.monotonic() + 300)
    out.write_text(json.dumps(arrivals))


def one_run(server: ThreadServer, stalled: bool) -> dict:
    job = server.fake_running_job()
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "arrivals.json"
        proc = subprocess.Popen([sys.executable, __file__, "--client", str(server.port), job, str(HEALTHY),
                                 str(result)], cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        blocker = RawWebSocket(server.port, f"/api/jobs/{job}/stream", rcvbuf=4096) if stalled else None
        want = HEALTHY + (1 if stalled else 0)
        deadline = time.monotonic() + 60
        while server.hub.subscribers(job) < want and time.monotonic() < deadline:
            time.sleep(0.05)
        stats: dict = {"pushed_bytes": 0, "evicted_after_s": None}
        server.run(produce(server.router, job, DURATION, PERIOD, server.hub, stats))
        proc.wait(timeout=120)
        if blocker is not None:
            blocker.close()
        arrivals = json.loads(result.read_text())
    arr = [np.asarray(a) for a in arrivals if len(a) > 1]
    gaps = [float(np.max(np.diff(a[:, 0]))) for a in arr]
    publish_gap = max(float(np.max(np.diff(a[:, 1]))) for a in arr)
    latency = np.concatenate([a[:, 0] - a[:, 1] for a in arr]) * 1000
    return {"longest_gap_s": max(gaps), "longest_gap_per_subscriber_s": gaps,
            "longest_publish_gap_s": publish_gap, "latency_p50_ms": float(np.percentile(latency, 50)),
            "latency_p99_ms": float(np.percentile(latency, 99)), "latency_max_ms": float(latency.max()),
            "frames_per_subscriber": [len(a) for a in arrivals], "pushed_mib": stats["pushed_bytes"] / 2**20,
            "stalled_closed_after_s": stats["evicted_after_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/stalled_subscriber.json")
    parser.add_argument("--client", nargs=4, metavar=("PORT", "JOB", "N", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        port, job, n, out = args.client
        run_clients(int(port), job, int(n), Path(out))
        return
    server = ThreadServer.start()
    try:
        control = one_run(server, stalled=False)
        with_stall = one_run(server, stalled=True)
    finally:
        server.stop()
    ratio = with_stall["longest_gap_s"] / PERIOD
    write_result(args.out, {
        "benchmark": "stalled_subscriber", "metric": "longest gap at a healthy subscriber / event period",
        "ratio": ratio, "target": TARGET, "meets_target": ratio <= TARGET, "period_s": PERIOD,
        # The same gap over the producer's own longest gap between two publishes: what the hub added.
        "ratio_to_publish_gap": with_stall["longest_gap_s"] / with_stall["longest_publish_gap_s"],
        "healthy_subscribers": HEALTHY, "with_stalled_subscriber": with_stall,
        "control_without_stall": {**control, "ratio": control["longest_gap_s"] / PERIOD},
        "stalled_subscriber_closed": with_stall["stalled_closed_after_s"] is not None, "machine": machine(),
    })


if __name__ == "__main__":
    main()
