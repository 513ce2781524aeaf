"""The hub as a unit: ordering, replay seams, coalescing, eviction of slow subscribers, bounded memory.

Frames are real encoded frames (streaming.protocol), the store is the real SQLite JobStore with the real
batching EventWriter/EventRouter; only the socket is replaced by an in-memory sink whose sending can be held.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from layerlab.jobs.events import EventRouter, EventWriter
from layerlab.jobs.store import JobStore
from layerlab.streaming.history import StoreHistory
from layerlab.streaming.hub import Hub, HubLimits
from layerlab.streaming.protocol import FrameEncoder, decode_tensor
from layerlab.streaming.subscriber import CLOSE_NORMAL, CLOSE_TOO_SLOW, Outgoing, QueueLimits


class ListSink:
    """Collects what a subscriber sends; `gate` cleared = the peer stopped reading (send blocks).

    `fast` says whether it takes frames without waiting when open (like a writable socket) or only through
    the sender task's awaited send."""

    def __init__(self, fast: bool = True) -> None:
        self.items: list[Outgoing] = []
        self.closed: tuple[int, str] | None = None
        self.gate = asyncio.Event()
        self.gate.set()
        self.fast = fast
        self.direct = 0

    def try_send_now(self, item: Outgoing) -> bool:
        if not (self.fast and self.gate.is_set()):
            return False
        self.items.append(item)
        self.direct += 1
        return True

    async def send(self, item: Outgoing) -> None:
        await self.gate.wait()
        self.items.append(item)

    async def close(self, code: int, reason: str) -> None:
        await self.gate.wait()
        self.closed = (code, reason)

    @property
    def seqs(self) -> list[int]:
        return [i.seq for i in self.items]

    def text_seqs(self) -> list[int]:
        return [i.seq for i in self.items if isinstance(i.payload, str)]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


async def settle(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def make_router(tmp_path: Path, hub_limits: HubLimits | None = None) -> tuple[EventRouter, Hub, JobStore]:
    store = JobStore(tmp_path / "db.sqlite3")
    writer = EventWriter(store, max_batch=50, max_delay=0.05)
    router = EventRouter(writer)
    hub = Hub(StoreHistory(store, writer), hub_limits)
    router.subscribe(hub.publish)
    return router, hub, store


def metrics(enc: FrameEncoder, step: int):
    return enc.text("metrics", step=step, loss=1.0 / (step + 1))


def tensor(enc: FrameEncoder, step: int, node: str = "h1", size: int = 64):
    return enc.tensor("activations", node, step, np.full((size,), step, np.float32), "float16")


@pytest.mark.parametrize("fast", [True, False])
def test_live_frames_arrive_in_order_and_the_stream_ends_after_the_terminal_status(tmp_path: Path,
                                                                                    fast: bool) -> None:
    async def main() -> None:
        router, hub, _ = make_router(tmp_path)
        enc = FrameEncoder(0)
        sink = ListSink(fast)
        sub = hub.subscribe("j", -1, sink)
        await settle()  # the (empty) history is sent: from here on frames may go straight through
        sent, sent_frames = [], []
        for step in range(200):
            frame = metrics(enc, step) if step % 3 else tensor(enc, step, node=f"n{step % 2}")
            router.publish("j", frame)
            sent.append(frame.seq)
            sent_frames.append(frame)
            await settle()
        router.publish("j", enc.text("status", status="succeeded"))
        await asyncio.wait_for(sub.done, 5)
        assert sink.seqs == sent + [sent[-1] + 1]  # a reader that keeps up gets everything, in order
        assert sink.closed == (CLOSE_NORMAL, "job finished")
        assert hub.subscribers("j") == 0
        assert (sink.direct == len(sink.items)) if fast else sink.direct == 0, "which path carried the frames"
        assert sink.items[1].wire[sink.items[1].start:] == sent_frames[1].data, "the worker's bytes, unchanged"

    run(main())


def test_reconnect_with_after_seq_resumes_without_gap_or_duplicate(tmp_path: Path) -> None:
    async def main() -> None:
        router, hub, store = make_router(tmp_path)
        enc = FrameEncoder(0)
        first = ListSink()
        sub = hub.subscribe("j", -1, first)
        for step in range(120):
            router.publish("j", metrics(enc, step))
        await settle(20)
        sub.detach()  # the client went away after seeing some frames
        cut = first.seqs[-1]
        for step in range(120, 400):  # more happen while it is away; some flushed to disk, some not yet
            router.publish("j", metrics(enc, step))
            if step == 300:
                await asyncio.sleep(0.1)
        assert store.events("j", after_seq=-1, limit=10_000), "the writer flushed some frames to the store"
        assert router.writer.pending("j", -1), "and some are still only in the writer's buffer"
        second = ListSink()
        sub2 = hub.subscribe("j", cut, second)
        for step in range(400, 450):  # live frames arrive while the history is being sent
            router.publish("j", metrics(enc, step))
            await asyncio.sleep(0)
        router.publish("j", enc.text("status", status="failed", reason="nan_loss"))
        await asyncio.wait_for(sub2.done, 5)
        assert second.seqs == list(range(cut + 1, 451))
        assert first.seqs + second.seqs == list(range(451))

    run(main())


def test_a_late_joiner_gets_text_history_and_only_the_latest_heavy_frame_per_kind_and_node(tmp_path: Path) -> None:
    async def main() -> None:
        router, hub, _ = make_router(tmp_path)
        enc = FrameEncoder(0)
        latest = {}
        for step in range(60):
            router.publish("j", metrics(enc, step))
            for node in ("a", "b"):
                frame = tensor(enc, step, node)
                router.publish("j", frame)
                latest[node] = frame.seq
        sink = ListSink()
        sub = hub.subscribe("j", -1, sink)
        await settle(50)
        heavy = [i for i in sink.items if isinstance(i.payload, bytes)]
        assert sorted(i.seq for i in heavy) == sorted(latest.values())
        assert [decode_tensor(i.payload)[0]["step"] for i in heavy] == [59, 59]
        assert len(sink.text_seqs()) == 60
        assert sink.seqs == sorted(sink.seqs)
        sub.detach()

    run(main())


def test_a_finished_job_replays_from_the_store_and_closes_normally(tmp_path: Path) -> None:
    async def main() -> None:
        router, hub, _ = make_router(tmp_path)
        enc = FrameEncoder(0)
        for step in range(30):
            router.publish("j", metrics(enc, step))
        router.publish("j", enc.text("status", status="succeeded"))
        router.writer.flush()
        fresh = Hub(hub.history)  # e.g. after an API restart: nothing in memory, all from the store
        sink = ListSink()
        sub = fresh.subscribe("j", 9, sink, job_finished=True)
        await asyncio.wait_for(sub.done, 5)
        assert sink.seqs == list(range(10, 31))
        assert sink.closed is not None and sink.closed[0] == CLOSE_NORMAL
        # A job whose terminal frame never made it to the store (crash) still ends the stream.
        other = ListSink()
        sub = fresh.subscribe("never-finished", -1, other, job_finished=True)
        await asyncio.wait_for(sub.done, 5)
        assert other.items == [] and other.closed is not None and other.closed[0] == CLOSE_NORMAL

    run(main())


def test_heavy_frames_coalesce_latest_wins_while_scalars_are_all_kept(tmp_path: Path) -> None:
    async def main() -> None:
        router, hub, _ = make_router(tmp_path, HubLimits(queue=QueueLimits(max_messages=10_000)))
        enc = FrameEncoder(0)
        sink = ListSink()
        sink.gate.clear()  # the peer stops reading
        sub = hub.subscribe("j", -1, sink)
        await settle()
        texts, last_heavy = [], {}
        for step in range(300):
            frame = metrics(enc, step)
            router.publish("j", frame)
            texts.append(frame.seq)
            for node in ("a", "b", "c"):
                heavy = tensor(enc, step, node, size=256)
                router.publish("j", heavy)
                last_heavy[node] = heavy.seq
        messages, nbytes = sub.backlog
        assert messages == 300 - 1 or messages == 300  # one may be in flight inside the blocked send
        assert sub.dropped_heavy >= 3 * 299 - 1
        sink.gate.set()
        router.publish("j", enc.text("status", status="succeeded"))
        await asyncio.wait_for(sub.done, 5)
        assert set(texts) <= set(sink.seqs), "no scalar frame was dropped"
        assert set(last_heavy.values()) <= set(sink.seqs), "the latest heavy frame of each node was delivered"
        assert sink.seqs == sorted(sink.seqs)
        assert len([i for i in sink.items if isinstance(i.payload, bytes)]) <= 3 + 3

    run(main())


@pytest.mark.parametrize("hard", [False, True])
def test_a_stalled_subscriber_is_closed_and_does_not_delay_a_healthy_one(tmp_path: Path, hard: bool) -> None:
    async def main() -> None:
        limits = QueueLimits(max_messages=50, max_bytes=1 << 20, grace_s=0.3, close_timeout_s=0.2)
        router, hub, _ = make_router(tmp_path, HubLimits(queue=limits))
        enc = FrameEncoder(0)
        stalled, healthy = ListSink(), ListSink()
        stalled.gate.clear()
        s_sub = hub.subscribe("j", -1, stalled)
        h_sub = hub.subscribe("j", -1, healthy)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        n = 400 if hard else 120  # the hard cap is 4 x 50 messages
        worst_lag = 0
        for step in range(n):
            frame = metrics(enc, step)
            router.publish("j", frame)
            await asyncio.sleep(0.001 if hard else 0.005)
            worst_lag = max(worst_lag, frame.seq - healthy.seqs[-1])
        await asyncio.sleep(0.6)
        assert s_sub.closed and s_sub.close_code == CLOSE_TOO_SLOW
        assert f"after_seq={stalled.seqs[-1] if stalled.seqs else -1}" in s_sub.close_reason
        assert s_sub.done.done(), "a peer that cannot take the close frame is given up after close_timeout_s"
        assert hub.evicted == 1 and hub.subscribers("j") == 1
        assert s_sub.backlog == (0, 0), "the evicted subscriber's backlog is released"
        assert worst_lag <= 1, "the healthy subscriber kept up with every frame"
        assert healthy.seqs == list(range(n))
        assert loop.time() - t0 < 5
        h_sub.detach()

    run(main())


def test_memory_stays_bounded_with_many_stalled_subscribers(tmp_path: Path) -> None:
    async def main() -> None:
        limits = QueueLimits(max_messages=64, max_bytes=64 << 10, grace_s=30, close_timeout_s=0.1)
        router, hub, _ = make_router(tmp_path, HubLimits(queue=limits))
        enc = FrameEncoder(0)
        sinks = [ListSink() for _ in range(20)]
        subs = []
        for sink in sinks:
            sink.gate.clear()
            subs.append(hub.subscribe("j", -1, sink))
        await settle()
        peak = 0
        for step in range(2000):
            router.publish("j", metrics(enc, step))
            router.publish("j", tensor(enc, step, node=f"n{step % 8}", size=2048))
            peak = max(peak, hub.stats()["backlog_bytes"])
        bound = 20 * limits.max_bytes * limits.hard_factor + 20 * (4096 + 200)
        assert peak <= bound
        await asyncio.sleep(0.3)
        assert all(s.close_code == CLOSE_TOO_SLOW for s in subs), "over the hard cap: closed at once"
        assert hub.stats()["backlog_bytes"] == 0
        assert hub.stats()["heavy_bytes"] <= 8 * (4096 + 200), "the hub keeps one heavy frame per (kind, node)"

    run(main())


def test_status_frames_decide_termination_and_close_all_sends_going_away(tmp_path: Path) -> None:
    async def main() -> None:
        router, hub, _ = make_router(tmp_path)
        enc = FrameEncoder(0)
        sink = ListSink()
        sub = hub.subscribe("j", -1, sink)
        router.publish("j", enc.text("status", status="running", device="cpu"))
        router.publish("j", metrics(enc, 0))
        await settle()
        assert not sub.closed, "a non-terminal status keeps the stream open"
        await asyncio.gather(*hub.close_all())
        assert sink.closed == (1001, "server shutting down")
        assert json.loads(sink.items[0].payload)["status"] == "running"

    run(main())


def test_a_job_queued_before_a_restart_replays_its_stored_frames_then_goes_live(tmp_path: Path) -> None:
    async def main() -> None:
        router, hub, _ = make_router(tmp_path)
        enc = FrameEncoder(0)
        router.publish("j", enc.text("status", status="queued", queue_position=1))
        router.writer.flush()
        restarted = Hub(hub.history)  # knows nothing of the job; only the store does
        router.subscribe(restarted.publish)
        sink = ListSink()
        sub = restarted.subscribe("j", -1, sink)
        router.publish("j", enc.text("status", status="running"))  # live while the history is being read
        await settle()
        router.publish("j", metrics(enc, 1))
        router.publish("j", enc.text("status", status="succeeded"))
        await asyncio.wait_for(sub.done, 5)
        assert sink.seqs == [0, 1, 2, 3]
        assert json.loads(sink.items[0].payload)["status"] == "queued"

    run(main())
