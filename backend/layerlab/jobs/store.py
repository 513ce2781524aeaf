"""The job store: SQLite (stdlib) in WAL mode, the single source of truth for jobs and their scalar events.

Only the API process opens it (one connection, used from the event loop). Every state change is one
conditional UPDATE; text frames are appended in batches by `jobs.events.EventWriter`.
Only SQLite is supported for now (`LAYERLAB_DATABASE_URL=sqlite:///path`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Iterable, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import ALLOWED, JobRecord, JobStatus

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    device TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    queue_order INTEGER NOT NULL,
    summary TEXT,
    last_seq INTEGER NOT NULL DEFAULT -1,
    idempotency_key TEXT,
    request_hash TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs(owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_status_order ON jobs(status, queue_order);
CREATE INDEX IF NOT EXISTS jobs_owner_order ON jobs(owner, queue_order);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (job_id, seq)
);
"""

_LIST_COLUMNS = ("id, owner, name, NULL AS spec, status, reason, created_at, started_at, finished_at, device, "
                 "attempt, queue_order, summary, last_seq")


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request body."""


@dataclass(frozen=True)
class EventRow:
    job_id: str
    seq: int
    type: str
    body: str


def sqlite_path(database_url: str) -> Path:
    """`sqlite:///abs/path` or `sqlite:///rel/path` -> Path; any other scheme is refused clearly."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or len(database_url) == len(prefix):
        raise ValueError(f"only sqlite:///path database URLs are supported, got {database_url!r}")
    return Path(database_url[len(prefix):])


class JobStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- jobs ---------------------------------------------------------------------------------------------

    def create_job(
        self,
        *,
        job_id: str,
        owner: str,
        name: str | None,
        spec: dict[str, Any],
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        now: float | None = None,
    ) -> tuple[JobRecord, bool]:
        """Insert a queued job at the back of the queue; (record, created). With an idempotency key already
        used by this owner, the earlier job is returned (created=False) or IdempotencyConflict is raised."""
        try:
            self._db.execute(
                "INSERT INTO jobs (id, owner, name, spec, status, created_at, queue_order, idempotency_key,"
                " request_hash) VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(queue_order), 0) + 1 FROM jobs),"
                " ?, ?)",
                (job_id, owner, name, json.dumps(spec, separators=(",", ":")), JobStatus.QUEUED.value,
                 time.time() if now is None else now, idempotency_key, request_hash),
            )
        except sqlite3.IntegrityError:
            earlier = self.find_idempotent(owner, idempotency_key, request_hash) if idempotency_key else None
            if earlier is None:
                raise
            return earlier, False
        record = self.get(job_id)
        assert record is not None
        return record, True

    def find_idempotent(self, owner: str, idempotency_key: str, request_hash: str | None) -> JobRecord | None:
        """The job an earlier request with this key created, or None; a different body is a conflict."""
        row = self._db.execute(
            "SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?", (owner, idempotency_key)
        ).fetchone()
        if row is None:
            return None
        if row["request_hash"] != request_hash:
            raise IdempotencyConflict(idempotency_key)
        return JobRecord.from_row(row)

    def get(self, job_id: str) -> JobRecord | None:
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobRecord.from_row(row) if row else None

    def transition(
        self,
        job_id: str,
        new: JobStatus,
        *,
        reason: str | None = None,
        device: str | None = None,
        summary: dict[str, Any] | None = None,
        last_seq: int | None = None,
        now: float | None = None,
    ) -> bool:
        """Move a job to `new` if it is in one of the allowed previous states; False if it was not."""
        now = time.time() if now is None else now
        sets = ["status = ?", "reason = COALESCE(?, reason)", "device = COALESCE(?, device)",
                "summary = COALESCE(?, summary)", "last_seq = MAX(last_seq, COALESCE(?, last_seq))"]
        args: list[Any] = [new.value, reason, device,
                           json.dumps(summary, separators=(",", ":")) if summary is not None else None, last_seq]
        if new is JobStatus.RUNNING:
            sets += ["started_at = ?", "attempt = attempt + 1"]
            args.append(now)
        elif new.terminal:
            sets.append("finished_at = ?")
            args.append(now)
        expected = sorted(s.value for s in ALLOWED[new])
        marks = ", ".join("?" for _ in expected)
        cur = self._db.execute(
            f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND status IN ({marks})",
            (*args, job_id, *expected),
        )
        return cur.rowcount == 1

    def list_jobs(
        self, *, owner: str | Set[str] | None, statuses: Sequence[JobStatus] = (), limit: int = 50, offset: int = 0
    ) -> tuple[list[JobRecord], int]:
        """Newest first, without specs; (page, total matching). `owner`: one owner or a set of them."""
        where, args = self._filters(owner, statuses)
        total = self._db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
        rows = self._db.execute(
            f"SELECT {_LIST_COLUMNS} FROM jobs {where} ORDER BY queue_order DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()
        return [JobRecord.from_row(r) for r in rows], total

    def queued(self) -> list[JobRecord]:
        """The persistent FIFO: queued jobs in submission order (specs included; the queue is capped)."""
        rows = self._db.execute(
            "SELECT * FROM jobs WHERE status = ? ORDER BY queue_order", (JobStatus.QUEUED.value,)
        ).fetchall()
        return [JobRecord.from_row(r) for r in rows]

    def count(self, *, status: JobStatus, owner: str | None = None) -> int:
        where, args = self._filters(owner, (status,))
        return self._db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]

    @staticmethod
    def _filters(owner: str | Set[str] | None, statuses: Sequence[JobStatus]) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if isinstance(owner, str):
            clauses.append("owner = ?")
            args.append(owner)
        elif owner is not None:
            clauses.append(f"owner IN ({', '.join('?' for _ in owner)})" if owner else "0")
            args.extend(sorted(owner))
        if statuses:
            clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
            args.extend(s.value for s in statuses)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    def reconcile(self, reason: str, now: float | None = None, keep: Collection[str] = ()) -> list[tuple[str, int]]:
        """Start-up: every job left running by a previous process becomes interrupted (resume is out of scope),
        except those in `keep` (an executor whose jobs outlive the API, Ray, still runs them).

        Returns (job id, next free seq) for each so the caller can record the terminal status event."""
        now = time.time() if now is None else now
        rows = self._db.execute(
            "SELECT j.id, MAX(j.last_seq, COALESCE((SELECT MAX(seq) FROM events e WHERE e.job_id = j.id), -1))"
            " FROM jobs j WHERE j.status = ?", (JobStatus.RUNNING.value,)
        ).fetchall()
        out = []
        for job_id, last in rows:
            if job_id not in keep and self.transition(job_id, JobStatus.INTERRUPTED, reason=reason, now=now):
                out.append((job_id, last + 1))
        return out

    # -- events -------------------------------------------------------------------------------------------

    def insert_events(self, rows: Iterable[EventRow]) -> None:
        """One transaction for a batch; re-inserting a (job, seq) is a no-op so retries are idempotent."""
        rows = list(rows)
        if not rows:
            return
        last: dict[str, int] = {}
        for r in rows:
            last[r.job_id] = max(last.get(r.job_id, -1), r.seq)
        with self._tx():
            self._db.executemany(
                "INSERT OR IGNORE INTO events (job_id, seq, type, body) VALUES (?, ?, ?, ?)",
                [(r.job_id, r.seq, r.type, r.body) for r in rows],
            )
            self._db.executemany(
                "UPDATE jobs SET last_seq = MAX(last_seq, ?) WHERE id = ?", [(s, j) for j, s in last.items()]
            )

    def events(
        self, job_id: str, *, after_seq: int = -1, types: Sequence[str] = (), limit: int = 10_000
    ) -> list[EventRow]:
        sql = "SELECT job_id, seq, type, body FROM events WHERE job_id = ? AND seq > ?"
        args: list[Any] = [job_id, after_seq]
        if types:
            sql += f" AND type IN ({', '.join('?' for _ in types)})"
            args.extend(types)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        return [EventRow(*r) for r in self._db.execute(sql, args).fetchall()]

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
