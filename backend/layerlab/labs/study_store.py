"""Studies in the job store's SQLite database (own connection, same file, WAL — like jobs/users.py).

A study row keeps who made it, how it runs (one batched job, or separate jobs) and its plan (axes and the
values each member was given); study_jobs links it to its job ids in member order. The jobs themselves,
their states and summaries stay in the jobs table, the one source of truth.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT,
    mode TEXT NOT NULL CHECK (mode IN ('batched', 'jobs')),
    plan TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS studies_owner ON studies(owner, created_at);
CREATE TABLE IF NOT EXISTS study_jobs (
    study_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (study_id, position)
);
"""


@dataclass(frozen=True)
class StudyRecord:
    id: str
    owner: str
    name: str | None
    mode: str
    plan: dict[str, Any]  # {"axes": [...], "members": [{index, label, values}], "why_not_batched": ...}
    created_at: float
    job_ids: list[str]


class StudyStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def create(self, *, study_id: str, owner: str, name: str | None, mode: str, plan: dict[str, Any],
               job_ids: list[str]) -> StudyRecord:
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT INTO studies (id, owner, name, mode, plan, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                             (study_id, owner, name, mode, json.dumps(plan, separators=(",", ":")), now))
            self._db.executemany("INSERT INTO study_jobs (study_id, position, job_id) VALUES (?, ?, ?)",
                                 [(study_id, i, j) for i, j in enumerate(job_ids)])
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return StudyRecord(study_id, owner, name, mode, plan, now, list(job_ids))

    def get(self, study_id: str) -> StudyRecord | None:
        row = self._db.execute("SELECT * FROM studies WHERE id = ?", (study_id,)).fetchone()
        return self._record(row) if row else None

    def list(self, owners: Set[str], limit: int, offset: int) -> tuple[list[StudyRecord], int]:
        """Newest first."""
        marks = ", ".join("?" for _ in owners)
        total = self._db.execute(f"SELECT COUNT(*) FROM studies WHERE owner IN ({marks})", tuple(owners)).fetchone()[0]
        rows = self._db.execute(
            f"SELECT * FROM studies WHERE owner IN ({marks}) ORDER BY created_at DESC LIMIT ? OFFSET ?",
            (*owners, limit, offset)).fetchall()
        return [self._record(r) for r in rows], total

    def _record(self, row: sqlite3.Row) -> StudyRecord:
        jobs = [r[0] for r in self._db.execute(
            "SELECT job_id FROM study_jobs WHERE study_id = ? ORDER BY position", (row["id"],)).fetchall()]
        return StudyRecord(row["id"], row["owner"], row["name"], row["mode"], json.loads(row["plan"]),
                           row["created_at"], jobs)
