"""Replay source for the hub: the job store's text frames plus those the writer has not flushed yet.

Both are read in one synchronous step (no await in between), so a concurrent flush cannot make a frame
appear in neither place.
"""

from __future__ import annotations

from ..jobs.events import EventWriter
from ..jobs.store import JobStore


class StoreHistory:
    def __init__(self, store: JobStore, writer: EventWriter) -> None:
        self.store = store
        self.writer = writer

    def text_after(self, job_id: str, after_seq: int, limit: int) -> list[tuple[int, str, str]]:
        rows = self.store.events(job_id, after_seq=after_seq, limit=limit)
        if len(rows) < limit:
            last = rows[-1].seq if rows else after_seq
            rows += sorted(self.writer.pending(job_id, last), key=lambda r: r.seq)[: limit - len(rows)]
        return [(r.seq, r.type, r.body) for r in rows]
