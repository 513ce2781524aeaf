"""The worker's end of the pipe: time-batched frame writes, ordered control messages, gated stop polls.

These are the parts that keep streaming cheap for fast models (DESIGN §11.1); the batches themselves are
decoded by the local executor in every API test that trains a small model.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection

import numpy as np
import pytest

from layerlab.jobs import pipe
from layerlab.jobs.worker import FLUSH_S, MAX_BATCH_BYTES, STOP_POLL_S, _Link
from layerlab.streaming.protocol import FrameEncoder, parse_frame


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def received(conn: Connection) -> list[tuple[bytes, bytes]]:
    """Every pipe message readable now, as (tag, payload); a BATCH counts as one message."""
    out = []
    while conn.poll(0.2):
        out.append(pipe.split(conn.recv_bytes()))
    return out


def frames_in(messages: list[tuple[bytes, bytes]]) -> list[int]:
    """The seqs of the frames inside the received messages, in order (batches opened)."""
    seqs = []
    for tag, payload in messages:
        inner = [pipe.split(m) for m in pipe.unbatch(payload)] if tag == pipe.BATCH else [(tag, payload)]
        seqs += [parse_frame(p, binary=t == pipe.BINARY).seq for t, p in inner if t in (pipe.TEXT, pipe.BINARY)]
    return seqs


@pytest.fixture
def link_pair() -> tuple[_Link, Connection, FakeClock]:
    worker_end, api_end = multiprocessing.Pipe()
    clock = FakeClock()
    return _Link(worker_end, clock), api_end, clock


def test_batch_round_trip_keeps_each_message_and_rejects_truncation() -> None:
    a, b = multiprocessing.Pipe()
    enc = FrameEncoder(0)
    messages = [pipe.frame_message(enc.text("metrics", step=1)),
                pipe.frame_message(enc.tensor("activation", "h", 1, np.arange(5, dtype=np.float32))),
                pipe.frame_message(enc.text("metrics", step=2))]
    pipe.send_messages(a, messages)
    tag, payload = pipe.split(b.recv_bytes())
    assert tag == pipe.BATCH
    assert pipe.unbatch(payload) == messages
    pipe.send_messages(a, messages[:1])  # a lone message is sent as itself
    assert b.recv_bytes() == messages[0]
    with pytest.raises(ValueError, match="truncated"):
        pipe.unbatch(payload[:-3])
    with pytest.raises(ValueError, match="truncated"):
        pipe.unbatch(payload[:2])


def test_frames_made_within_flush_period_travel_as_one_write(link_pair) -> None:
    link, api, clock = link_pair
    enc = FrameEncoder(0)
    link.send_frame(enc.text("status", status="running"))  # nothing written for FLUSH_S: goes at once
    first = received(api)
    assert [t for t, _ in first] == [pipe.TEXT] and frames_in(first) == [0]
    for step in range(1, 31):
        clock.t += FLUSH_S / 100
        link.send_frame(enc.text("metrics", step=step))
    assert received(api) == []  # held: the last write is younger than FLUSH_S
    clock.t += FLUSH_S + 1e-6
    link.send_frame(enc.text("metrics", step=31))
    batch = received(api)
    assert [t for t, _ in batch] == [pipe.BATCH]
    assert frames_in(batch) == list(range(1, 32))


def test_a_waiting_batch_is_written_by_the_ticker_and_before_control_messages(link_pair) -> None:
    link, api, clock = link_pair
    enc = FrameEncoder(5)
    link.send_frame(enc.text("metrics", step=1))
    link.send_frame(enc.text("metrics", step=2))
    link.flush_if_stale()
    assert frames_in(received(api)) == [5]  # step 2 waits: the last write was just now
    clock.t += FLUSH_S + 1e-6
    link.flush_if_stale()
    assert frames_in(received(api)) == [6]
    link.send_frame(enc.text("metrics", step=3))
    link.send_control({"op": "done", "status": "succeeded"})
    got = received(api)
    assert frames_in(got[:1]) == [7]
    assert got[1][0] == pipe.CONTROL and pipe.control(got[1][1])["op"] == "done"


def test_large_frames_do_not_wait(link_pair) -> None:
    link, api, clock = link_pair
    enc = FrameEncoder(0)
    link.send_frame(enc.text("metrics", step=0))
    received(api)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(api.recv_bytes()))  # the pipe holds less than 1 MiB
    reader.start()
    big = np.zeros(MAX_BATCH_BYTES // 4, dtype=np.float32)
    link.send_frame(enc.tensor("filters", "c1", 1, big))  # over MAX_BATCH_BYTES: written at once
    reader.join(timeout=10)
    assert frames_in([pipe.split(m) for m in got]) == [1]


def test_stop_is_polled_at_most_every_stop_poll_period(link_pair) -> None:
    link, api, clock = link_pair
    assert link.should_stop() is False  # polls now: nothing there
    pipe.send_control(api, {"op": "stop"})
    assert link.should_stop() is False  # polled too recently to look again
    clock.t += STOP_POLL_S + 1e-6
    assert link.should_stop() is True
    assert link.should_stop() is True  # and stays stopped
