"""API-side event routing: every frame a job produces is persisted (text frames, in batches) and fanned out.

Frames arrive already encoded (from the worker, or the API's own queued/terminal status frames) and are
passed on as the same bytes. Subscribers (the websocket hub) are plain callbacks that must not block:
they get (job_id, frame) on the event loop, in seq order per job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..streaming.protocol import Frame, encode_text
from .store import EventRow, JobStore

log = logging.getLogger(__name__)

Subscriber = Callable[[str, Frame], None]


class EventWriter:
    """Appends text frames to the store at most `max_delay` seconds or `max_batch` frames late.

    One transaction per batch, never one per event; `pending` lets readers see frames not yet flushed.
    """

    def __init__(self, store: JobStore, *, max_batch: int = 50, max_delay: float = 1.0) -> None:
        self._store = store
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._buffer: list[EventRow] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, job_id: str, frame: Frame) -> None:
        self._buffer.append(EventRow(job_id, frame.seq, frame.type, frame.data.decode()))
        if len(self._buffer) >= self._max_batch:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_delay, self.flush)

    def pending(self, job_id: str, after_seq: int, types: tuple[str, ...] = ()) -> list[EventRow]:
        return [r for r in self._buffer if r.job_id == job_id and r.seq > after_seq and (not types or r.type in types)]

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        try:
            self._store.insert_events(batch)
        except Exception:
            # Keep the frames for the next attempt rather than lose scalars; the store insert is idempotent.
            log.exception("event batch of %d frames not written; retrying later", len(batch))
            self._buffer = batch + self._buffer
            self._timer = asyncio.get_running_loop().call_later(self._max_delay, self.flush)


class EventRouter:
    """Persist + fan out, and remember each job's highest seq (the API numbers the terminal frame after it)."""

    def __init__(self, writer: EventWriter) -> None:
        self.writer = writer
        self._subscribers: dict[str | None, list[Subscriber]] = {}
        self._last_seq: dict[str, int] = {}

    def subscribe(self, callback: Subscriber, job_id: str | None = None) -> Callable[[], None]:
        """Receive frames of one job (or of every job with job_id=None); returns the unsubscribe function."""
        self._subscribers.setdefault(job_id, []).append(callback)

        def unsubscribe() -> None:
            subs = self._subscribers.get(job_id, [])
            if callback in subs:
                subs.remove(callback)
            if not subs:
                self._subscribers.pop(job_id, None)

        return unsubscribe

    def publish(self, job_id: str, frame: Frame) -> None:
        if frame.seq > self._last_seq.get(job_id, -1):
            self._last_seq[job_id] = frame.seq
        if not frame.binary:
            self.writer.add(job_id, frame)
        for callback in (*self._subscribers.get(job_id, ()), *self._subscribers.get(None, ())):
            try:
                callback(job_id, frame)
            except Exception:
                log.exception("event subscriber failed for job %s", job_id)

    def status(self, job_id: str, seq: int, **fields: Any) -> Frame:
        """Encode and publish a status frame made by the API itself (queued, or the terminal one)."""
        frame = encode_text(seq, "status", fields)
        self.publish(job_id, frame)
        return frame

    def next_seq(self, job_id: str, stored_last_seq: int) -> int:
        return max(self._last_seq.get(job_id, -1), stored_last_seq) + 1

    def forget(self, job_id: str) -> None:
        self._last_seq.pop(job_id, None)
