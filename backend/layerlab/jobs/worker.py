"""The worker process: waits (pre-warmed, torch already imported) for one job, runs it, reports, exits.

It speaks to the API only through `jobs/pipe.py` messages: frames as they are produced by
`training.run.job_events`, a heartbeat every second from a small thread (so a long step still shows the
process is alive), and a final `done` control message. A `stop` control message from the API is noticed
between steps. One job per process: when it ends, the process exits and everything it held is released.

Streaming must not slow training (DESIGN §11.1: streamed ≥ 0.95 × bare steps/s), and a small MLP makes a
step every few hundred microseconds, so the per-step cost here is kept to an append: frames produced
within FLUSH_S of the last write are packed into one pipe write (a slow model's frames still go out one
by one, as soon as they are made); the same small thread writes out a batch left waiting, so no frame
waits more than ~2 × FLUSH_S; and the pipe is polled for `stop` at most every STOP_POLL_S, not per step.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import torch

from ..streaming.protocol import Frame
from ..training import run
from . import pipe

HEARTBEAT_S = 1.0
FLUSH_S = 0.02  # 50 writes/s at most while frames come faster: far above what a browser draws
STOP_POLL_S = 0.02
MAX_BATCH_BYTES = 1 << 20
EXIT_API_GONE = 70


class _Link:
    """The worker's end of the pipe: frames batched by time, writes serialised (the ticker thread shares it)."""

    def __init__(self, conn: Connection, clock: Callable[[], float] = time.monotonic) -> None:
        self.conn = conn
        self.clock = clock
        self.lock = threading.Lock()
        self.stop_requested = False
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._last_write = -FLUSH_S
        self._next_poll = 0.0

    def send_frame(self, frame: Frame) -> None:
        """Queue a frame; write the queue now if the last write is FLUSH_S old (or the queue is large)."""
        message = pipe.frame_message(frame)
        with self.lock:
            self._pending.append(message)
            self._pending_bytes += len(message)
            if self._pending_bytes >= MAX_BATCH_BYTES or self.clock() - self._last_write >= FLUSH_S:
                self._write_pending()

    def flush_if_stale(self) -> None:
        """Ticker: write frames that have waited FLUSH_S (the main thread is inside a long step)."""
        with self.lock:
            if self._pending and self.clock() - self._last_write >= FLUSH_S:
                self._write_pending()

    def flush(self) -> None:
        with self.lock:
            self._write_pending()

    def send_control(self, message: dict[str, Any]) -> None:
        with self.lock:
            self._write_pending()  # frames before the `done` that follows them
            pipe.send_control(self.conn, message)

    def heartbeat(self) -> None:
        with self.lock:
            pipe.send_heartbeat(self.conn)

    def _write_pending(self) -> None:
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        self._last_write = self.clock()
        pipe.send_messages(self.conn, pending)

    def should_stop(self) -> bool:
        """Between steps: every STOP_POLL_S, drain pending control messages; a `stop` ends the run here."""
        if self.stop_requested:
            return True
        now = self.clock()
        if now < self._next_poll:
            return False
        self._next_poll = now + STOP_POLL_S
        while not self.stop_requested and self.conn.poll():
            tag, payload = pipe.split(self.conn.recv_bytes())
            if tag == pipe.CONTROL and pipe.control(payload)["op"] == "stop":
                self.stop_requested = True
        return self.stop_requested


def _ticker(link: _Link, done: threading.Event) -> None:
    """Every FLUSH_S: write a batch left waiting; every HEARTBEAT_S: a heartbeat."""
    next_beat = time.monotonic() + HEARTBEAT_S
    while not done.wait(FLUSH_S):
        try:
            link.flush_if_stale()
            now = time.monotonic()
            if now >= next_beat:
                link.heartbeat()
                next_beat = now + HEARTBEAT_S
        except OSError:
            # The API is gone (killed): nobody will read our frames, so leave instead of training on.
            os._exit(EXIT_API_GONE)


def _limit_address_space(extra_mb: int) -> None:
    """Test-only: allow this process its current size plus `extra_mb` of address space (RLIMIT_AS)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    limit = pages * os.sysconf("SC_PAGE_SIZE") + extra_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _prepare(job: dict[str, Any]) -> None:
    # Before anything touches CUDA: a CPU job sees no GPU, a GPU job only its own.
    os.environ["CUDA_VISIBLE_DEVICES"] = job["visible_devices"]
    torch.set_num_threads(int(job["threads"]))
    if job.get("address_space_mb"):
        _limit_address_space(int(job["address_space_mb"]))


def warm_up() -> None:
    """One tiny forward/backward/Adam step on one thread: first-call costs are paid before a job arrives."""
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = torch.nn.functional.cross_entropy(model(torch.zeros(4, 4)), torch.zeros(4, dtype=torch.long))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def run_job(link: _Link, job: dict[str, Any]) -> dict[str, Any]:
    """Stream one job's frames to the API; the `done` message says how it ended (the API decides the state)."""
    try:
        _prepare(job)
        frames = run.job_events(
            job["spec"],
            seq_start=int(job["seq_start"]),
            should_stop=link.should_stop,
            artifact_dir=job["artifact_dir"],
        )
        for frame in frames:
            link.send_frame(frame)
        link.flush()
    except OSError as exc:
        if isinstance(exc, BrokenPipeError | ConnectionResetError):
            os._exit(EXIT_API_GONE)
        return {"op": "done", "status": "failed", "reason": run.failure_reason(exc)}
    except BaseException as exc:  # noqa: B036 - MemoryError, KeyboardInterrupt: all become a reason
        return {"op": "done", "status": "failed", "reason": run.failure_reason(exc)}
    return {"op": "done", "status": "stopped" if link.stop_requested else "succeeded"}


def worker_main(conn: Connection) -> None:
    """Process entry point (forkserver/spawn target). Exits 0 after reporting, or quietly if the API left."""
    warm_up()
    try:
        tag, payload = pipe.split(conn.recv_bytes())
    except (EOFError, OSError):
        return
    if tag != pipe.CONTROL:
        return
    job = pipe.control(payload)
    if job.get("op") != "job":
        return
    link = _Link(conn)
    done = threading.Event()
    threading.Thread(target=_ticker, args=(link, done), daemon=True, name="ticker").start()
    started = time.monotonic()
    outcome = run_job(link, job)
    outcome["seconds"] = round(time.monotonic() - started, 3)
    done.set()
    try:
        link.send_control(outcome)
    except OSError:
        os._exit(EXIT_API_GONE)
    conn.close()
