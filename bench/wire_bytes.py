"""Benchmark (DESIGN §11.5): bytes on the wire per tensor element ÷ 4 (float32) — target ≤ 1.05.

Real jobs (a TF-Playground MLP on spiral, a small CNN on digits, an LSTM + self-attention model on the
sentiment set) run on the real server with probes on; a raw websocket client (compression off, as
served) counts every byte of every binary frame as it arrives on the socket — websocket header, 4-byte
length, JSON header and values — and the tensor elements the headers announce. The ratio is wire bytes ÷
(elements × 4): what streaming costs against raw float32. Frames use float16 (uint8 for probabilities), so
it is below 1 when the headers are small next to the values.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stream import REPO, RawWebSocket, ThreadServer, collect, machine, tensor_header, write_result  # noqa: E402

TARGET = 1.05


def n(id_: str, type_: str, inputs: list[str] | None = None, **params: Any) -> dict[str, Any]:
    return {"id": id_, "type": type_, "params": params, "inputs": inputs or []}


JOBS: dict[str, dict[str, Any]] = {
    "playground_mlp": {
        "model": {"nodes": [n("x", "input", shape=[2]), n("h1", "dense", ["x"], units=8),
                            n("a1", "activation", ["h1"], fn="tanh"), n("h2", "dense", ["a1"], units=8),
                            n("a2", "activation", ["h2"], fn="tanh"), n("out", "dense", ["a2"], units=2)]},
        "data": {"dataset": "spiral"}, "train": {"epochs": 40, "batch_size": 10},
    },
    "cnn_digits": {
        "model": {"nodes": [n("x", "input", shape=[1, 8, 8]), n("c1", "conv2d", ["x"], filters=8, kernel_size=3,
                                                                padding=1),
                            n("r1", "activation", ["c1"], fn="relu"), n("p1", "maxpool2d", ["r1"], kernel_size=2),
                            n("f", "flatten", ["p1"]), n("out", "dense", ["f"], units=10)]},
        "data": {"dataset": "digits"}, "train": {"epochs": 8, "batch_size": 32},
    },
    "lstm_attention": {
        "model": {"nodes": [n("x", "input", shape=[13], dtype="long"),
                            n("emb", "embedding", ["x"], num_embeddings=65, embedding_dim=16),
                            n("lstm", "lstm", ["emb"], hidden_size=16, return_sequences=True),
                            n("att", "multihead_self_attention", ["lstm"], num_heads=2),
                            n("last", "gru", ["att"], hidden_size=16, return_sequences=False),
                            n("out", "dense", ["last"], units=2)]},
        "data": {"dataset": "sentiment"}, "train": {"epochs": 4, "batch_size": 32},
    },
}


def measure(server: ThreadServer, spec: dict[str, Any]) -> dict[str, Any]:
    job = httpx.post(f"http://127.0.0.1:{server.port}/api/jobs", json=spec, timeout=60).json()["id"]
    client = RawWebSocket(server.port, f"/api/jobs/{job}/stream", timestamps=False)
    totals: dict[str, Any] = {"frames": 0, "wire_bytes": 0, "elements": 0, "by_dtype": {}}

    def on_message(index: int, opcode: int, payload: bytes, arrived: float, used: int) -> None:
        if opcode != 2:
            return
        header = tensor_header(payload)
        elements = math.prod(header["shape"])
        totals["frames"] += 1
        totals["wire_bytes"] += used  # the whole websocket frame as it came off the socket
        totals["elements"] += elements
        d = totals["by_dtype"].setdefault(header["dtype"], {"frames": 0, "elements": 0})
        d["frames"] += 1
        d["elements"] += elements

    collect([client], on_message, time.monotonic() + 600)
    client.close()
    totals["ratio"] = totals["wire_bytes"] / (4 * totals["elements"])
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/wire_bytes.json")
    args = parser.parse_args()
    server = ThreadServer.start()
    try:
        jobs = {name: measure(server, spec) for name, spec in JOBS.items()}
    finally:
        server.stop()
    wire = sum(j["wire_bytes"] for j in jobs.values())
    elements = sum(j["elements"] for j in jobs.values())
    ratio = wire / (4 * elements)
    write_result(args.out, {
        "benchmark": "wire_bytes", "metric": "websocket bytes of tensor frames per element / 4 (float32)",
        "ratio": ratio, "target": TARGET, "meets_target": ratio <= TARGET,
        "worst_job_ratio": max(j["ratio"] for j in jobs.values()), "jobs": jobs, "machine": machine(),
    })


if __name__ == "__main__":
    main()
