"""Job states, the transitions between them, and the machine-readable failure reasons.

queued -> running -> succeeded | failed | cancelled | interrupted, and queued -> cancelled.
Terminal states are immutable: the store applies every transition as one conditional UPDATE
(`WHERE status = <expected>`), so a late or duplicate transition simply does not happen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED})

# Which state a transition may start from; anything else is refused by the store.
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.RUNNING: frozenset({JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset({JobStatus.RUNNING}),
    JobStatus.FAILED: frozenset({JobStatus.RUNNING}),
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED, JobStatus.RUNNING}),
    JobStatus.INTERRUPTED: frozenset({JobStatus.RUNNING}),
}


class Reason:
    """The fixed failure / interruption reasons (plus the parametrised ones built below)."""

    OOM = "oom"
    NAN_LOSS = "nan_loss"
    TIMEOUT = "timeout"
    LOST_HEARTBEAT = "lost_heartbeat"
    SHUTDOWN = "shutdown"
    API_RESTART = "api_restart"
    CANCELLED = "cancelled_by_user"

    @staticmethod
    def exception(type_name: str, message: str) -> str:
        first_line = (message.strip().splitlines() or [""])[0]
        return f"exception:{type_name}: {first_line[:300]}"

    @staticmethod
    def worker_died(exitcode: int | None) -> str:
        """`worker_died:signal_9` for a signal (negative exit code), `worker_died:exit_3` otherwise."""
        if exitcode is None:
            return "worker_died:unknown"
        if exitcode < 0:
            return f"worker_died:signal_{-exitcode}"
        return f"worker_died:exit_{exitcode}"


@dataclass(frozen=True)
class JobRecord:
    """One row of the jobs table, as the API and scheduler see it."""

    id: str
    owner: str
    name: str | None
    spec: dict[str, Any] | None  # None in listings, which leave specs out
    status: JobStatus
    reason: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    device: str | None
    attempt: int
    queue_order: int
    summary: dict[str, Any] | None
    last_seq: int

    @classmethod
    def from_row(cls, row: Any) -> JobRecord:
        return cls(
            id=row["id"],
            owner=row["owner"],
            name=row["name"],
            spec=json.loads(row["spec"]) if row["spec"] is not None else None,
            status=JobStatus(row["status"]),
            reason=row["reason"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            device=row["device"],
            attempt=row["attempt"],
            queue_order=row["queue_order"],
            summary=json.loads(row["summary"]) if row["summary"] else None,
            last_seq=row["last_seq"],
        )
