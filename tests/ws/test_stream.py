"""WS /api/jobs/{id}/stream against a real server on 127.0.0.1: ordering, replay, backpressure, access."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from layerlab.streaming.protocol import FrameEncoder, decode_tensor

from .conftest import ThreadServer, raw_handshake

pytestmark = pytest.mark.timeout(120)


def seq_of(message: str | bytes) -> int:
    if isinstance(message, bytes):
        return decode_tensor(message)[0]["seq"]
    return json.loads(message)["seq"]


async def read_all(ws, stop_after_texts: int | None = None) -> tuple[list[str | bytes], int | None]:
    """Messages until the server closes (or `stop_after_texts` text frames); (messages, close code)."""
    got: list[str | bytes] = []
    texts = 0
    try:
        while stop_after_texts is None or texts < stop_after_texts:
            message = await ws.recv()
            got.append(message)
            texts += isinstance(message, str)
    except ConnectionClosed as closed:
        return got, closed.rcvd.code if closed.rcvd else None
    return got, None


def eventually(condition, timeout: float = 5.0) -> bool:
    """The server finishes its side of a close a moment after the client has seen it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_reconnect_with_after_seq_gives_every_text_frame_once_in_order(ws_server: ThreadServer) -> None:
    job = ws_server.fake_running_job()
    enc = FrameEncoder(0)
    texts: list[int] = []

    async def produce(n: int) -> None:
        for step in range(n):
            frame = enc.text("metrics", step=step, loss=1 / (step + 1))
            texts.append(frame.seq)
            ws_server.publish(job, frame)
            if step % 4 == 0:
                ws_server.publish(job, enc.tensor("activations", "h1", step, np.ones((8, 16)), "float16"))
            await asyncio.sleep(0.002)

    async def main() -> None:
        first_task = asyncio.ensure_future(produce(300))
        async with connect(ws_server.ws_url(job)) as ws:
            first, _ = await read_all(ws, stop_after_texts=80)
        await first_task  # more frames while the client is away (flushed or still in the writer's buffer)
        cut = seq_of(first[-1])
        async with connect(ws_server.ws_url(job, cut)) as ws:
            more = asyncio.ensure_future(produce(150))
            reader = asyncio.ensure_future(read_all(ws))
            await more
            final = enc.text("status", status="succeeded")
            texts.append(final.seq)
            ws_server.publish(job, final)
            second, code = await asyncio.wait_for(reader, 30)
        assert code == 1000, "the stream ends normally after the terminal status"
        seqs_a, seqs_b = [seq_of(m) for m in first], [seq_of(m) for m in second]
        assert seqs_a == sorted(set(seqs_a)) and seqs_b == sorted(set(seqs_b)), "each stream: increasing, no dups"
        assert seqs_b[0] > cut
        received_texts = [seq_of(m) for m in first + second if isinstance(m, str)]
        assert received_texts == texts, "no gap, no duplicate across the reconnect"
        assert json.loads(second[-1])["status"] == "succeeded"

    asyncio.run(main())


def test_one_page_watches_several_jobs_each_on_its_own_socket(ws_server: ThreadServer) -> None:
    jobs = [ws_server.fake_running_job() for _ in range(3)]
    encoders = {job: FrameEncoder(0) for job in jobs}

    async def main() -> dict[str, list[dict]]:
        sockets = {job: await connect(ws_server.ws_url(job)) for job in jobs}
        readers = {job: asyncio.ensure_future(read_all(ws)) for job, ws in sockets.items()}
        for step in range(60):
            for job in jobs:  # interleaved, as concurrent jobs are
                ws_server.publish(job, encoders[job].text("metrics", step=step, job=job))
            await asyncio.sleep(0.001)
        for job in jobs:
            ws_server.publish(job, encoders[job].text("status", status="succeeded"))
        got = {}
        for job, reader in readers.items():
            messages, code = await asyncio.wait_for(reader, 30)
            assert code == 1000
            got[job] = [json.loads(m) for m in messages]
        return got

    for job, frames in asyncio.run(main()).items():
        assert [f["seq"] for f in frames] == list(range(61))
        assert all(f.get("job", job) == job for f in frames), "each socket carries only its own job"


def test_a_stalled_subscriber_is_closed_without_delaying_healthy_ones(ws_server: ThreadServer) -> None:
    job = ws_server.fake_running_job()
    enc = FrameEncoder(0)
    hub = ws_server.hub
    evicted_before = hub.evicted
    stalled, status = raw_handshake(ws_server.port, f"/api/jobs/{job}/stream", rcvbuf=4096)
    assert status == 101
    period = 0.01
    heavy = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)  # 128 KiB as float16

    async def healthy(ws, arrivals: list[tuple[float, int]]) -> int | None:
        try:
            while True:
                message = await ws.recv()
                if isinstance(message, str):
                    arrivals.append((time.monotonic(), json.loads(message)["seq"]))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    async def main() -> tuple[list[list[tuple[float, int]]], list[int], float, int]:
        arrivals: list[list[tuple[float, int]]] = [[], []]
        clients = [await connect(ws_server.ws_url(job), max_size=2**24) for _ in arrivals]
        readers = [asyncio.ensure_future(healthy(ws, a)) for ws, a in zip(clients, arrivals, strict=True)]
        texts: list[int] = []
        pushed = 0
        started = time.monotonic()
        evicted_at = None
        step = 0
        while time.monotonic() - started < 12:
            frame = enc.text("metrics", step=step, loss=1.0)
            texts.append(frame.seq)
            ws_server.publish(job, frame)
            tensor = enc.tensor("attention", f"n{step % 4}", step, heavy, "float16")
            pushed += len(tensor.data)
            ws_server.publish(job, tensor)
            step += 1
            await asyncio.sleep(period)
            if evicted_at is None and hub.evicted > evicted_before:
                evicted_at = time.monotonic() - started
            if evicted_at is not None and pushed > 20 << 20 and time.monotonic() - started > evicted_at + 1:
                break
        final = enc.text("status", status="succeeded")
        texts.append(final.seq)
        ws_server.publish(job, final)
        codes = await asyncio.wait_for(asyncio.gather(*readers), 30)
        assert codes == [1000, 1000]
        return arrivals, texts, evicted_at if evicted_at is not None else -1.0, pushed

    arrivals, texts, evicted_at, pushed = asyncio.run(main())
    assert pushed >= 20 << 20, "enough data pushed that backpressure really reached the server"
    assert evicted_at > 0, "the stalled subscriber WAS closed"
    assert hub.evicted == evicted_before + 1
    for got in arrivals:
        assert [s for _, s in got] == texts, "healthy subscribers received every scalar frame in order"
        gaps = [b - a for (a, _), (b, _) in zip(got, got[1:], strict=False)]
        assert max(gaps) < 0.5, f"a healthy subscriber waited {max(gaps):.2f}s (the stall lasted seconds)"
        assert statistics.median(gaps) < 3 * period
    # The server gave the stalled socket up: once it reads, it gets what was buffered and then EOF.
    stalled.settimeout(10)
    received = 0
    try:
        while chunk := stalled.recv(1 << 16):
            received += len(chunk)
    except (TimeoutError, ConnectionResetError) as exc:
        assert isinstance(exc, ConnectionResetError), "the server never closed the stalled socket"
    finally:
        stalled.close()
    assert received < pushed / 2, "the stalled client was not sent everything: it was cut off"
    assert hub.stats()["backlog_bytes"] == 0, "nothing is left queued for anybody"


def test_foreign_origin_and_unknown_jobs_are_refused_before_any_data(ws_server: ThreadServer) -> None:
    job = ws_server.fake_running_job()
    ws_server.publish(job, FrameEncoder(0).text("metrics", step=1, loss=0.5, secret="job data"))
    path = f"/api/jobs/{job}/stream"
    for origin, expected in (("http://evil.example", 403), ("null", 403), (f"http://127.0.0.1:{ws_server.port + 1}",
                             403), (f"http://127.0.0.1:{ws_server.port}", 101), (None, 101)):
        sock, status = raw_handshake(ws_server.port, path, origin=origin)
        try:
            assert status == expected, origin
            if expected != 101:
                sock.settimeout(5)
                rest = b""
                while chunk := sock.recv(4096):
                    rest += chunk
                assert b"job data" not in rest
        finally:
            sock.close()

    async def unknown() -> int:
        try:
            async with connect(ws_server.ws_url("0" * 32)):
                return 101
        except InvalidStatus as exc:
            assert b"no job" in exc.response.body
            return exc.response.status_code

    assert asyncio.run(unknown()) == 404


def test_inbound_messages_over_64_kib_or_too_many_close_the_socket(ws_server: ThreadServer) -> None:
    job = ws_server.fake_running_job()

    async def close_code(messages: list[str]) -> int | None:
        async with connect(ws_server.ws_url(job), max_size=2**20) as ws:
            try:
                for m in messages:
                    await ws.send(m)
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None

    assert asyncio.run(close_code(["x" * (64 * 1024 + 1)])) == 1009
    assert asyncio.run(close_code(["{}"] * 40)) == 1008
    assert eventually(lambda: ws_server.hub.subscribers(job) == 0)


SPIRAL_JOB = {
    "name": "ws e2e",
    "model": {"nodes": [
        {"id": "x", "type": "input", "params": {"shape": [2]}},
        {"id": "h1", "type": "dense", "params": {"units": 8}, "inputs": ["x"]},
        {"id": "a1", "type": "activation", "params": {"fn": "relu"}, "inputs": ["h1"]},
        {"id": "out", "type": "dense", "params": {"units": 2}, "inputs": ["a1"]},
    ]},
    "data": {"dataset": "spiral"},
    "train": {"epochs": 30, "batch_size": 16},
    "probes": {"heavy_hz": 10, "stats_hz": 10},
}


def test_a_real_job_streams_every_frame_then_replays_for_a_late_joiner(ws_server: ThreadServer) -> None:
    async def main() -> None:
        async with httpx.AsyncClient(base_url=ws_server.url, timeout=30) as http:
            response = await http.post("/api/jobs", json=SPIRAL_JOB)
            assert response.status_code == 201, response.text
            job = response.json()["id"]
        async with connect(ws_server.ws_url(job), max_size=2**24) as ws:
            live, code = await asyncio.wait_for(read_all(ws), 100)
        assert code == 1000
        seqs = [seq_of(m) for m in live]
        assert seqs == list(range(len(seqs))), "a reader that keeps up gets every frame, text and tensor, in order"
        texts = [json.loads(m) for m in live if isinstance(m, str)]
        assert texts[0]["status"] == "queued" and texts[-1]["status"] == "succeeded"
        assert any(t.get("kind") == "layers" and t["grad_norms"] for t in texts), "per-layer gradient norms"
        kinds = {decode_tensor(m)[0]["kind"] for m in live if isinstance(m, bytes)}
        assert {"decision_boundary", "neuron_maps"} <= kinds
        # A late joiner after the end: the stored text frames after its seq and the latest heavy frames.
        cut = seqs[len(seqs) // 2]
        async with connect(ws_server.ws_url(job, cut), max_size=2**24) as ws:
            late, code = await asyncio.wait_for(read_all(ws), 30)
        assert code == 1000
        late_texts = [seq_of(m) for m in late if isinstance(m, str)]
        assert late_texts == [seq_of(m) for m in live if isinstance(m, str) and seq_of(m) > cut]
        late_heavy = {(h["kind"], h["node"]): h["seq"] for h in (decode_tensor(m)[0] for m in late
                                                                 if isinstance(m, bytes))}
        last_heavy: dict[tuple[str, str], int] = {}
        for m in live:
            if isinstance(m, bytes):
                h = decode_tensor(m)[0]
                last_heavy[(h["kind"], h["node"])] = h["seq"]
        assert late_heavy == {k: s for k, s in last_heavy.items() if s > cut}

    asyncio.run(main())


def test_no_socket_left_behind(ws_server: ThreadServer) -> None:
    """After the tests above every subscriber is gone: the hub holds no backlog and no subscribers."""
    assert eventually(lambda: ws_server.hub.stats()["subscribers"] == 0)
    assert ws_server.hub.stats()["backlog_bytes"] == 0
