"""The worker process: waits (pre-warmed, torch already imported) for one job, runs it, reports, exits.

It speaks to the API only through `jobs/pipe.py` messages: frames as they are produced by
`training.run.job_events`, a heartbeat every second from a small thread (so a long step still shows the
process is alive), and a final `done` control message. A `stop` control message from the API is noticed
between steps. One job per process: when it ends, the process exits and everything it held is released.

Streaming must not slow training (DESIGN §11.1: streamed ≥ 0.95 × bare steps/s), and a small MLP makes a
step every few hundred microseconds, so sending a frame costs the training thread an append to a list.
A writer thread does the pipe writes: what was queued since its last write goes out as one write, at
most every FLUSH_S while frames come fast (a slow model's frames still go out as soon as they are made),
so a frame waits at most ~FLUSH_S, and a write that blocks because the API is busy reading (a pipe holds
64 KiB; a neuron-map frame alone is 64 KiB) blocks that thread, not training. The pipe is polled for
`stop` at most every STOP_POLL_S, not per step. If the API falls far behind, MAX_PENDING_BYTES bounds
what waits here: training then waits for the writer.
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
MAX_BATCH_BYTES = 1 << 20  # queued this much: wake the writer now
MAX_PENDING_BYTES = 64 << 20  # queued this much: training waits for the writer
EXIT_API_GONE = 70


class _Link:
    """The worker's end of the pipe: the training thread queues frames, the writer thread writes them."""

    def __init__(self, conn: Connection, clock: Callable[[], float] = time.monotonic) -> None:
        self.conn = conn
        self.clock = clock
        self.stop_requested = False
        self._queue_lock = threading.Condition()  # guards the queue; notified when the writer drained it
        self._write_lock = threading.Lock()  # one write at a time, in queue order
        self._wake = threading.Event()  # something is due: the writer should write now
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._last_write = -FLUSH_S
        self._next_poll = 0.0

    # -- the training thread ----------------------------------------------------------------------------

    def send_frame(self, frame: Frame) -> None:
        """Queue a frame; wake the writer if the last write is FLUSH_S old or much is queued."""
        message = pipe.frame_message(frame)
        with self._queue_lock:
            while self._pending_bytes >= MAX_PENDING_BYTES:
                self._wake.set()
                self._queue_lock.wait(1.0)
            self._pending.append(message)
            self._pending_bytes += len(message)
            due = self._pending_bytes >= MAX_BATCH_BYTES or self.clock() - self._last_write >= FLUSH_S
        if due:
            self._wake.set()

    def flush(self) -> None:
        """Write everything queued now (the job's end)."""
        with self._write_lock:
            self._write_queued()

    def send_control(self, message: dict[str, Any]) -> None:
        with self._write_lock:
            self._write_queued()  # frames before the `done` that follows them
            pipe.send_control(self.conn, message)

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

    # -- the writer thread -------------------------------------------------------------------------------

    def write_due(self) -> None:
        """Write what is queued if it is due: woken for it, or left waiting FLUSH_S."""
        self._wake.clear()
        with self._write_lock:
            with self._queue_lock:
                stale = self._pending and self.clock() - self._last_write >= FLUSH_S
                big = self._pending_bytes >= MAX_BATCH_BYTES
            if stale or big:
                self._write_queued()

    def heartbeat(self) -> None:
        with self._write_lock:
            pipe.send_heartbeat(self.conn)

    def wait_for_work(self, timeout: float) -> None:
        self._wake.wait(timeout)

    def _write_queued(self) -> None:
        """Take the queue and write it (the caller holds the write lock, so writes keep queue order)."""
        with self._queue_lock:
            pending, self._pending, self._pending_bytes = self._pending, [], 0
            self._last_write = self.clock()
            self._queue_lock.notify_all()
        pipe.send_messages(self.conn, pending)


def _writer(link: _Link, done: threading.Event) -> None:
    """Write queued frames when due (woken, or every FLUSH_S); a heartbeat every HEARTBEAT_S."""
    next_beat = time.monotonic() + HEARTBEAT_S
    while not done.is_set():
        link.wait_for_work(FLUSH_S)
        try:
            link.write_due()
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
    threading.Thread(target=_writer, args=(link, done), daemon=True, name="writer").start()
    started = time.monotonic()
    outcome = run_job(link, job)
    outcome["seconds"] = round(time.monotonic() - started, 3)
    done.set()
    try:
        link.send_control(outcome)
    except OSError:
        os._exit(EXIT_API_GONE)
    conn.close()
