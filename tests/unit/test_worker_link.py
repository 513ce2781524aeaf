"""The worker's end of the pipe: time-batched frame writes, ordered control messages, gated stop polls.

These are the parts that keep streaming cheap for fast models (DESIGN §11.1); the batches themselves are
decoded by the local executor in every API test that trains a small model.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from multiprocessing.connection import Connection

import numpy as np
import pytest

from layerlab.jobs import pipe
from layerlab.jobs.worker import FLUSH_S, MAX_BATCH_BYTES, STOP_POLL_S, _Link, _writer
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
    link.send_frame(enc.text("status", status="running"))
    assert received(api) == []  # the training thread only queues: the writer writes
    link.write_due()  # nothing written for FLUSH_S: due at once
    first = received(api)
    assert [t for t, _ in first] == [pipe.TEXT] and frames_in(first) == [0]
    for step in range(1, 31):
        clock.t += FLUSH_S / 100
        link.send_frame(enc.text("metrics", step=step))
        link.write_due()
    assert received(api) == []  # held: the last write is younger than FLUSH_S
    clock.t += FLUSH_S + 1e-6
    link.write_due()
    batch = received(api)
    assert [t for t, _ in batch] == [pipe.BATCH]
    assert frames_in(batch) == list(range(1, 31))


def test_queued_frames_go_out_before_control_messages(link_pair) -> None:
    link, api, clock = link_pair
    enc = FrameEncoder(5)
    link.send_frame(enc.text("metrics", step=1))
    link.write_due()
    link.send_frame(enc.text("metrics", step=2))
    link.send_frame(enc.text("metrics", step=3))
    link.send_control({"op": "done", "status": "succeeded"})
    got = received(api)
    assert frames_in(got[:2]) == [5, 6, 7]
    assert got[2][0] == pipe.CONTROL and pipe.control(got[2][1])["op"] == "done"


def test_large_frames_do_not_wait(link_pair) -> None:
    link, api, clock = link_pair
    enc = FrameEncoder(0)
    link.send_frame(enc.text("metrics", step=0))
    link.write_due()
    received(api)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(api.recv_bytes()))  # the pipe holds less than 1 MiB
    reader.start()
    big = np.zeros(MAX_BATCH_BYTES // 4, dtype=np.float32)
    link.send_frame(enc.tensor("filters", "c1", 1, big))
    link.write_due()  # over MAX_BATCH_BYTES: written although the last write was just now
    reader.join(timeout=10)
    assert frames_in([pipe.split(m) for m in got]) == [1]


def test_a_full_pipe_blocks_the_writer_not_training() -> None:
    """The API not reading (busy) must not stall the training thread: it keeps queueing, in order."""
    worker_end, api = multiprocessing.Pipe()
    link = _Link(worker_end)
    done = threading.Event()
    writer = threading.Thread(target=_writer, args=(link, done), daemon=True)
    writer.start()
    enc = FrameEncoder(0)
    chunk = np.zeros(64 << 10, dtype=np.uint8)  # four of these overfill the pipe
    started = time.monotonic()
    for step in range(40):
        link.send_frame(enc.tensor("feature_maps", "c1", step, chunk, "uint8"))
        link.send_frame(enc.text("metrics", step=step))
    queued_in = time.monotonic() - started
    assert queued_in < 2.0, "the training thread waited for the pipe"
    time.sleep(FLUSH_S * 3)
    seqs: list[int] = []
    while len(seqs) < 80:
        seqs += frames_in([pipe.split(api.recv_bytes())])
    done.set()
    link.flush()
    assert seqs == list(range(80))


def test_stop_is_polled_at_most_every_stop_poll_period(link_pair) -> None:
    link, api, clock = link_pair
    assert link.should_stop() is False  # polls now: nothing there
    pipe.send_control(api, {"op": "stop"})
    assert link.should_stop() is False  # polled too recently to look again
    clock.t += STOP_POLL_S + 1e-6
    assert link.should_stop() is True
    assert link.should_stop() is True  # and stays stopped
