"""The hub: fans each job's frames out to its websocket subscribers and replays history to late joiners.

It plugs into `jobs.events.EventRouter` as a plain callback (`hub.publish(job_id, frame)`), called on the
event loop in seq order per job. Frames stay the bytes the worker encoded (text frames are decoded to str
once, for ASGI); the hub never re-encodes them per subscriber.

Replay without gaps or duplicates: `subscribe` registers the subscriber first (live frames queue up from
that instant), then its sender sends history after `after_seq` — text frames from the store (rows already
flushed plus the writer's unflushed buffer, read in one synchronous step per page) merged with the latest
heavy frame per (kind, node), which only this hub keeps — and then the live backlog. Sequence numbers
make the seam exact: history stops at the last seq seen before registration, live starts after it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from .protocol import Frame
from .subscriber import (
    CLOSE_GOING_AWAY,
    CLOSE_TOO_SLOW,
    HeavyKey,
    Outgoing,
    QueueLimits,
    Sink,
    Subscriber,
    merge_by_seq,
)

log = logging.getLogger(__name__)

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
_HEADER_LEN = struct.Struct("<I")


class History(Protocol):
    """Stored text frames of a job: (seq, type, body) with seq > after_seq, ascending, at most `limit`.

    It must include frames not yet flushed to disk (see `streaming.history.StoreHistory`)."""

    def text_after(self, job_id: str, after_seq: int, limit: int) -> list[tuple[int, str, str]]: ...


@dataclass(frozen=True)
class HubLimits:
    queue: QueueLimits = field(default_factory=QueueLimits)
    replay_page: int = 500
    finished_jobs_kept: int = 32
    finished_bytes_kept: int = 64 << 20


@dataclass
class _Channel:
    """What the hub knows of one job: its subscribers, last seq and latest heavy frame per (kind, node)."""

    subscribers: set[Subscriber] = field(default_factory=set)
    last_seq: int = -1
    heavy: dict[HeavyKey, Outgoing] = field(default_factory=dict)
    heavy_bytes: int = 0
    finished: bool = False


def to_outgoing(frame: Frame) -> Outgoing:
    """Routing facts of an encoded frame: (kind, node) of a tensor, whether a status frame is terminal."""
    if frame.binary:
        (n,) = _HEADER_LEN.unpack_from(frame.data)
        header = json.loads(frame.data[_HEADER_LEN.size:_HEADER_LEN.size + n])
        return Outgoing.of(frame.seq, frame.data, True, key=(str(header.get("kind")), str(header.get("node"))))
    terminal = frame.type == "status" and json.loads(frame.data).get("status") in TERMINAL_STATUSES
    return Outgoing.of(frame.seq, frame.data, False, terminal=terminal)


class Hub:
    def __init__(
        self,
        history: History | None = None,
        limits: HubLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.history = history
        self.limits = limits or HubLimits()
        self._clock = clock
        self._channels: dict[str, _Channel] = {}
        self._finished: OrderedDict[str, int] = OrderedDict()  # job id -> heavy bytes kept, oldest first
        self.evicted = 0
        self.published = 0

    # -- producer side -----------------------------------------------------------------------------------

    def publish(self, job_id: str, frame: Frame) -> None:
        """EventRouter callback: route one frame (in seq order per job; older or repeated seqs are ignored)."""
        channel = self._channels.get(job_id)
        if channel is None:
            channel = self._channels[job_id] = _Channel()
        if frame.seq <= channel.last_seq:
            return
        item = to_outgoing(frame)
        channel.last_seq = item.seq
        self.published += 1
        if item.key is not None:
            old = channel.heavy.get(item.key)
            channel.heavy_bytes += item.size - (old.size if old is not None else 0)
            channel.heavy[item.key] = item
        for sub in tuple(channel.subscribers):
            sub.offer(item)
        if item.terminal:
            channel.finished = True
            self._retire(job_id, channel)

    # -- consumer side -----------------------------------------------------------------------------------

    def subscribe(self, job_id: str, after_seq: int, sink: Sink, *, job_finished: bool = False) -> Subscriber:
        """Start streaming a job to `sink`: history after `after_seq`, then live frames.

        `job_finished` (the store says the job is terminal): send everything stored and close normally,
        even when no terminal frame is stored (e.g. a job interrupted by a crash).
        """
        channel = self._channels.get(job_id)
        if channel is None:
            channel = self._channels[job_id] = _Channel()
        self._finished.pop(job_id, None)  # watched again: not a candidate for eviction meanwhile
        sub = Subscriber(job_id, sink, after_seq, self.limits.queue, self._clock)
        channel.subscribers.add(sub)
        sub.done.add_done_callback(lambda _: self._unsubscribe(job_id, sub))
        # History up to the last seq this hub routed; if it has routed none (e.g. a job queued before an API
        # restart), to the end of the store: a frame read there and also queued live is sent once (by seq).
        upto = None if job_finished or channel.last_seq < 0 else channel.last_seq
        heavy = sorted((h for h in channel.heavy.values() if h.seq > after_seq), key=lambda h: h.seq)

        def replay(after: int) -> Iterator[Outgoing]:
            return merge_by_seq(self._stored(job_id, after, upto), iter(heavy))

        sub.start(replay, end_after_replay=job_finished)
        return sub

    def _stored(self, job_id: str, after: int, upto: int | None) -> Iterator[Outgoing]:
        """Text frames from the store in (after, upto] (to the end when upto is None), page by page."""
        if self.history is None:
            return
        cursor = after
        while upto is None or cursor < upto:
            rows = self.history.text_after(job_id, cursor, self.limits.replay_page)
            for seq, type_, body in rows:
                if upto is not None and seq > upto:
                    return
                cursor = seq
                terminal = type_ == "status" and json.loads(body).get("status") in TERMINAL_STATUSES
                yield Outgoing.of(seq, body.encode(), False, terminal=terminal)
            if len(rows) < self.limits.replay_page:
                return

    def _unsubscribe(self, job_id: str, sub: Subscriber) -> None:
        if sub.close_code == CLOSE_TOO_SLOW:
            self.evicted += 1
        channel = self._channels.get(job_id)
        if channel is None:
            return
        channel.subscribers.discard(sub)
        if not channel.subscribers:
            if channel.last_seq < 0:
                del self._channels[job_id]  # nothing was ever published: nothing worth keeping
            elif channel.finished:
                self._retire(job_id, channel)

    def _retire(self, job_id: str, channel: _Channel) -> None:
        """An unwatched finished job: keep its heavy frames for late joiners, within a bounded LRU."""
        if channel.subscribers:
            return
        self._finished[job_id] = channel.heavy_bytes
        self._finished.move_to_end(job_id)
        while self._finished and (
            len(self._finished) > self.limits.finished_jobs_kept
            or sum(self._finished.values()) > self.limits.finished_bytes_kept
        ):
            old, _ = self._finished.popitem(last=False)
            self._channels.pop(old, None)

    # -- lifecycle / introspection -----------------------------------------------------------------------

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down") -> list[asyncio.Future]:
        """Close every subscriber (shutdown: 1001); returns their `done` futures to await."""
        futures = []
        for channel in self._channels.values():
            for sub in tuple(channel.subscribers):
                sub.close(code, reason)
                futures.append(sub.done)
        return futures

    def subscribers(self, job_id: str) -> int:
        channel = self._channels.get(job_id)
        return len(channel.subscribers) if channel else 0

    def stats(self) -> dict[str, int]:
        backlog = [s.backlog for c in self._channels.values() for s in c.subscribers]
        return {
            "jobs": len(self._channels),
            "subscribers": len(backlog),
            "published": self.published,
            "evicted": self.evicted,
            "backlog_messages": sum(m for m, _ in backlog),
            "backlog_bytes": sum(b for _, b in backlog),
            "heavy_bytes": sum(c.heavy_bytes for c in self._channels.values()),
        }
