"""The SQLite job store: conditional transitions, immutable terminal states, batched idempotent events,
idempotency keys, listing, and start-up reconciliation."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerlab.jobs.events import EventRouter, EventWriter
from layerlab.jobs.model import JobStatus, Reason
from layerlab.jobs.store import EventRow, IdempotencyConflict, JobStore, sqlite_path
from layerlab.streaming.protocol import encode_text

SPEC = {"model": {"nodes": [{"id": "x", "type": "input"}]}, "data": {"dataset": "xor"}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    s = JobStore(tmp_path / "db" / "jobs.sqlite3")
    yield s
    s.close()


def _new(store: JobStore, job_id: str, owner: str = "u1", **kw: object) -> None:
    store.create_job(job_id=job_id, owner=owner, name=None, spec=SPEC, **kw)


def test_database_url_only_sqlite() -> None:
    assert sqlite_path("sqlite:////tmp/a.db") == Path("/tmp/a.db")
    for bad in ("postgresql://x/y", "sqlite://", "sqlite:///", "mysql:///db"):
        with pytest.raises(ValueError, match="sqlite"):
            sqlite_path(bad)


def test_wal_mode_and_pragmas(store: JobStore) -> None:
    db = store._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_create_assigns_queue_order_and_defaults(store: JobStore) -> None:
    _new(store, "a" * 32)
    _new(store, "b" * 32)
    a, b = store.get("a" * 32), store.get("b" * 32)
    assert a is not None and b is not None
    assert a.status is JobStatus.QUEUED and a.spec == SPEC and a.attempt == 0 and a.last_seq == -1
    assert b.queue_order == a.queue_order + 1
    assert [j.id for j in store.queued()] == ["a" * 32, "b" * 32]


def test_transitions_are_conditional_and_terminal_states_immutable(store: JobStore) -> None:
    _new(store, "j1")
    assert not store.transition("j1", JobStatus.SUCCEEDED)  # queued -> succeeded is not allowed
    assert store.transition("j1", JobStatus.RUNNING, device="cpu")
    assert not store.transition("j1", JobStatus.RUNNING)  # second start refused
    rec = store.get("j1")
    assert rec is not None and rec.status is JobStatus.RUNNING and rec.attempt == 1 and rec.started_at
    assert store.transition("j1", JobStatus.FAILED, reason=Reason.OOM, summary={"steps": 3})
    for later in (JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.INTERRUPTED, JobStatus.RUNNING):
        assert not store.transition("j1", later, reason="late")
    rec = store.get("j1")
    assert rec is not None and rec.status is JobStatus.FAILED and rec.reason == "oom"
    assert rec.summary == {"steps": 3} and rec.finished_at is not None


def test_queued_job_can_be_cancelled_directly(store: JobStore) -> None:
    _new(store, "j1")
    assert store.transition("j1", JobStatus.CANCELLED)
    assert store.queued() == []


def test_events_batch_idempotent_and_ordered(store: JobStore) -> None:
    _new(store, "j1")
    rows = [EventRow("j1", s, "metrics", f'{{"seq":{s}}}') for s in (2, 0, 1)]
    store.insert_events(rows)
    store.insert_events(rows[:2])  # a retried batch changes nothing
    got = store.events("j1")
    assert [r.seq for r in got] == [0, 1, 2]
    assert [r.seq for r in store.events("j1", after_seq=0)] == [1, 2]
    rec = store.get("j1")
    assert rec is not None and rec.last_seq == 2
    with pytest.raises(sqlite3.IntegrityError):
        store._db.execute("INSERT INTO events VALUES ('j1', 1, 'log', '{}')")


def test_idempotency_key_returns_the_same_job_or_conflicts(store: JobStore) -> None:
    first, created = store.create_job(job_id="j1", owner="u1", name=None, spec=SPEC, idempotency_key="k",
                                      request_hash="h1")
    again, created_again = store.create_job(job_id="j2", owner="u1", name=None, spec=SPEC, idempotency_key="k",
                                            request_hash="h1")
    assert created and not created_again and again.id == "j1"
    assert store.get("j2") is None
    with pytest.raises(IdempotencyConflict):
        store.create_job(job_id="j3", owner="u1", name=None, spec=SPEC, idempotency_key="k", request_hash="h2")
    other, created_other = store.create_job(job_id="j4", owner="u2", name=None, spec=SPEC, idempotency_key="k",
                                            request_hash="h1")
    assert created_other and other.id == "j4"  # keys are per owner


def test_listing_filters_paginates_and_omits_specs(store: JobStore) -> None:
    for i in range(5):
        _new(store, f"j{i}", owner="u1" if i < 4 else "u2")
    store.transition("j1", JobStatus.RUNNING)
    page, total = store.list_jobs(owner="u1", limit=2, offset=0)
    assert total == 4 and [j.id for j in page] == ["j3", "j2"] and page[0].spec is None
    page2, _ = store.list_jobs(owner="u1", limit=2, offset=2)
    assert [j.id for j in page2] == ["j1", "j0"]
    running, total_running = store.list_jobs(owner="u1", statuses=[JobStatus.RUNNING])
    assert total_running == 1 and running[0].id == "j1"
    assert store.count(status=JobStatus.QUEUED) == 4 and store.count(status=JobStatus.QUEUED, owner="u2") == 1


def test_reconcile_interrupts_running_keeps_queued(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    s = JobStore(path)
    for j in ("r1", "q1", "q2", "d1"):
        _new(s, j)
    s.transition("r1", JobStatus.RUNNING)
    s.transition("d1", JobStatus.RUNNING)
    s.transition("d1", JobStatus.SUCCEEDED)
    s.insert_events([EventRow("r1", 0, "status", "{}"), EventRow("r1", 7, "metrics", "{}")])
    s.close()  # as if the process died here
    s = JobStore(path)
    assert s.reconcile(Reason.API_RESTART) == [("r1", 8)]
    r1 = s.get("r1")
    assert r1 is not None and r1.status is JobStatus.INTERRUPTED and r1.reason == "api_restart"
    assert [j.id for j in s.queued()] == ["q1", "q2"]
    d1 = s.get("d1")
    assert d1 is not None and d1.status is JobStatus.SUCCEEDED
    assert s.reconcile(Reason.API_RESTART) == []
    assert s.integrity_ok()
    s.close()


def test_writer_batches_by_size_and_time_and_shows_pending(store: JobStore) -> None:
    async def scenario() -> None:
        _new(store, "j1")
        writer = EventWriter(store, max_batch=50, max_delay=0.2)
        router = EventRouter(writer)
        seen: list[int] = []
        unsubscribe = router.subscribe(lambda job, frame: seen.append(frame.seq), "j1")
        for seq in range(49):
            router.publish("j1", encode_text(seq, "metrics", {"step": seq}))
        assert store.events("j1") == []  # nothing written yet: no transaction per event
        assert [r.seq for r in writer.pending("j1", 40)] == list(range(41, 49))
        router.publish("j1", encode_text(49, "metrics", {"step": 49}))
        assert len(store.events("j1")) == 50  # the 50th frame flushed the batch
        router.publish("j1", encode_text(50, "log", {"message": "x"}))
        await asyncio.sleep(0.35)
        assert [r.seq for r in store.events("j1", after_seq=49)] == [50]  # flushed by the timer
        assert seen == list(range(51))
        assert router.next_seq("j1", -1) == 51
        unsubscribe()
        router.publish("j1", encode_text(51, "log", {}))
        assert seen[-1] == 50

    asyncio.run(scenario())
