"""One websocket subscriber: a bounded queue with its own sender task.

Why a queue per subscriber: the hub fans a frame out with a few dict operations per subscriber and never
awaits a socket, so one slow reader cannot delay the others. Only the subscriber's sender task awaits
`sink.send`, which waits for the transport's flow control (uvicorn pauses writing when the kernel buffer
is full); while it waits, frames pile up here and these rules keep memory bounded:

* scalar (text) frames are never dropped;
* a heavy frame replaces the still-unsent heavy frame with the same (kind, node) — latest wins;
* a subscriber over its soft cap for longer than `grace_s`, or over the hard cap at any moment, is closed
  with code 4008 and a reason telling it to reconnect with `after_seq=<last seq it was sent>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_SLOW = 4008
HeavyKey = tuple[str, str]


def ws_frame_header(length: int, binary: bool) -> bytes:
    """RFC 6455 header of one unfragmented, unmasked (server-to-client) text or binary frame."""
    first = 0x82 if binary else 0x81
    if length < 126:
        return struct.pack("!BB", first, length)
    if length < 1 << 16:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A frame ready to route, framed for the websocket once for all subscribers.

    `wire` is the complete websocket frame (header + the worker's bytes), `start` where the payload
    begins; `key` is (kind, node) for tensor frames; `terminal` marks the job's final status frame.
    """

    seq: int
    wire: bytes
    start: int
    binary: bool
    key: HeavyKey | None = None
    terminal: bool = False

    @classmethod
    def of(cls, seq: int, data: bytes, binary: bool, key: HeavyKey | None = None, terminal: bool = False) -> Outgoing:
        header = ws_frame_header(len(data), binary)
        return cls(seq, header + data, len(header), binary, key, terminal)

    @property
    def size(self) -> int:
        return len(self.wire)

    @property
    def payload(self) -> str | bytes:
        """The worker's bytes (binary frames) or text (text frames), for senders without raw framing."""
        data = self.wire[self.start:]
        return data if self.binary else data.decode()


class Sink(Protocol):
    """Where a subscriber's frames go (a websocket, or a list in tests).

    `try_send_now` hands a frame over without waiting, or returns False when it would have to wait
    (then the frame is queued and the sender task sends it with `send`, which waits).
    """

    def try_send_now(self, item: Outgoing) -> bool: ...

    async def send(self, item: Outgoing) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(frozen=True)
class QueueLimits:
    """Per-subscriber backlog caps (R5: 256 messages or 4 MiB, stalled client closed within seconds)."""

    max_messages: int = 256
    max_bytes: int = 4 << 20
    grace_s: float = 2.0
    hard_factor: float = 4.0
    close_timeout_s: float = 2.0

    def over_soft(self, messages: int, nbytes: int) -> bool:
        return messages > self.max_messages or nbytes > self.max_bytes

    def over_hard(self, messages: int, nbytes: int) -> bool:
        return messages > self.max_messages * self.hard_factor or nbytes > self.max_bytes * self.hard_factor


Replay = Callable[[int], Iterator[Outgoing]]


class Subscriber:
    """Frames of one job for one client, sent in seq order without gaps or duplicates.

    Life: the hub creates it and offers live frames at once (`offer`); `start(replay)` launches the sender,
    which first sends the history (`replay(after_seq)` yields frames up to the moment of subscription,
    in seq order) and then the live backlog. `done` completes when the subscriber is closed for any reason.
    """

    def __init__(
        self,
        job_id: str,
        sink: Sink,
        after_seq: int,
        limits: QueueLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id
        self.sink = sink
        self.limits = limits
        self.last_sent = after_seq
        self.sent = 0
        self.dropped_heavy = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self._clock = clock
        self._pending: OrderedDict[int, Outgoing] = OrderedDict()
        self._heavy_seq: dict[HeavyKey, int] = {}
        self._messages = 0
        self._bytes = 0
        self._over_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._live = False  # history sent: frames may go straight to the sink
        self._busy = False  # the sender task is inside sink.send
        self._closer: asyncio.Task[None] | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- called by the hub (synchronous, never blocks) ------------------------------------------------

    @property
    def backlog(self) -> tuple[int, int]:
        """(scalar frames, bytes) waiting to be sent."""
        return self._messages, self._bytes

    @property
    def closed(self) -> bool:
        return self.close_code is not None or self.done.done()

    def offer(self, item: Outgoing) -> None:
        if self.closed or item.seq <= self.last_sent:
            return
        if self._live and not self._busy and not self._pending and self.sink.try_send_now(item):
            # The fast path: nothing waiting and the socket takes it now — no queue, no task wake-up.
            self.last_sent = item.seq
            self.sent += 1
            if item.terminal:
                self.close(CLOSE_NORMAL, "job finished")
            return
        if item.key is not None:
            old_seq = self._heavy_seq.get(item.key)
            if old_seq is not None:
                old = self._pending.pop(old_seq)
                self._bytes -= old.size
                self.dropped_heavy += 1
            self._heavy_seq[item.key] = item.seq
        else:
            self._messages += 1
        self._pending[item.seq] = item
        self._bytes += item.size
        self._wake.set()
        self._check_backlog()

    def start(self, replay: Replay | None, *, end_after_replay: bool = False) -> None:
        """Launch the sender; `end_after_replay` closes normally once the history is sent (finished job)."""
        self._task = asyncio.get_running_loop().create_task(
            self._run(replay, end_after_replay), name=f"ws-sender-{self.job_id}"
        )

    def close(self, code: int, reason: str) -> None:
        """Stop sending, drop the backlog and close the sink (bounded by close_timeout_s)."""
        if self.closed:
            return
        self.close_code, self.close_reason = code, reason
        self._clear()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._closer = asyncio.get_running_loop().create_task(self._close_sink(code, reason))

    def detach(self) -> None:
        """The client went away: stop without sending anything more."""
        if self.done.done():
            return
        if self.close_code is None:
            self.close_code, self.close_reason = CLOSE_GOING_AWAY, "client gone"
        self._clear()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        if self._closer is None:
            self.done.set_result(None)

    # -- internals ----------------------------------------------------------------------------------------

    def _clear(self) -> None:
        self._pending.clear()
        self._heavy_seq.clear()
        self._messages = self._bytes = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_backlog(self) -> None:
        if self.limits.over_hard(self._messages, self._bytes):
            self._evict()
        elif self.limits.over_soft(self._messages, self._bytes):
            if self._over_since is None:
                self._over_since = self._clock()
                self._timer = asyncio.get_running_loop().call_later(self.limits.grace_s, self._grace_expired)
        elif self._over_since is not None:
            self._over_since = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _grace_expired(self) -> None:
        self._timer = None
        if self.closed or self._over_since is None:
            return
        if self.limits.over_soft(self._messages, self._bytes):
            self._evict()
        else:
            self._over_since = None

    def _evict(self) -> None:
        log.info("closing slow subscriber of job %s at seq %d (%d frames, %d bytes waiting)",
                 self.job_id, self.last_sent, self._messages, self._bytes)
        self.close(CLOSE_TOO_SLOW, f"too slow: reconnect with after_seq={self.last_sent}")

    def _take(self) -> Outgoing:
        _, item = self._pending.popitem(last=False)
        self._bytes -= item.size
        if item.key is not None:
            del self._heavy_seq[item.key]
        else:
            self._messages -= 1
        if self._over_since is not None:
            self._check_backlog()
        return item

    async def _deliver(self, item: Outgoing) -> bool:
        """Send one frame unless already sent; True when it was the terminal frame."""
        if item.seq <= self.last_sent:
            return False
        self._busy = True
        try:
            await self.sink.send(item)
        finally:
            self._busy = False
        self.last_sent = item.seq
        self.sent += 1
        return item.terminal

    async def _run(self, replay: Replay | None, end_after_replay: bool) -> None:
        try:
            if replay is not None:
                for item in replay(self.last_sent):
                    # Live frames older than this history frame go first, so the client sees one seq order.
                    while self._pending and next(iter(self._pending)) < item.seq:
                        if await self._deliver(self._take()):
                            self.close(CLOSE_NORMAL, "job finished")
                            return
                    if await self._deliver(item):
                        self.close(CLOSE_NORMAL, "job finished")
                        return
            if end_after_replay:
                self.close(CLOSE_NORMAL, "job finished")
                return
            self._live = True
            while True:
                while not self._pending:
                    self._wake.clear()
                    await self._wake.wait()
                if await self._deliver(self._take()):
                    self.close(CLOSE_NORMAL, "job finished")
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away mid-send (ClientDisconnected, OSError, ...)
            log.debug("subscriber of job %s stopped: %r", self.job_id, exc)
            self.detach()

    async def _close_sink(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.sink.close(code, reason), self.limits.close_timeout_s)
        except (TimeoutError, Exception) as exc:  # a stalled peer cannot take the close frame; give it up
            log.debug("close of subscriber of job %s not delivered: %r", self.job_id, exc)
        finally:
            if not self.done.done():
                self.done.set_result(None)


def merge_by_seq(*streams: Iterator[Outgoing]) -> Iterator[Outgoing]:
    """Merge seq-ordered streams into one seq order, dropping repeated seqs (store rows may repeat)."""
    heads: deque[tuple[Outgoing, Iterator[Outgoing]]] = deque()
    for stream in streams:
        with contextlib.suppress(StopIteration):
            heads.append((next(stream), stream))
    last = None
    while heads:
        index = min(range(len(heads)), key=lambda i: heads[i][0].seq)
        item, stream = heads[index]
        del heads[index]
        with contextlib.suppress(StopIteration):
            heads.append((next(stream), stream))
        if last is None or item.seq > last:
            last = item.seq
            yield item
