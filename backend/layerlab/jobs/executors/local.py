"""The embedded executor: one OS process per running job, started by a forkserver that preloaded torch.

* A pre-warmed idle worker waits on its pipe, so a job starts without paying the torch import.
* Pipes and process sentinels are watched with `loop.add_reader` on the event loop: no reader threads.
* Any message from a worker counts as a heartbeat; a worker silent for `heartbeat_timeout_s` is SIGKILLed
  and reported as `lost_heartbeat`.
* stop = a `stop` control message (seen between steps), SIGTERM after 1 s, SIGKILL after 2 s.
* Never a plain fork: the forkserver is a clean process that never touched CUDA.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TypeVar

from ...streaming.protocol import parse_frame
from .. import pipe
from ..config import JobSettings
from ..model import Reason
from ..worker import worker_main
from .base import Executor, ExecutorEvents, JobExit, JobLaunch

log = logging.getLogger(__name__)

TERM_AFTER_S = 1.0
KILL_AFTER_S = 2.0
WATCHDOG_PERIOD_S = 1.0
READ_BURST = 256
PRELOAD = ["layerlab.jobs.preload"]
T = TypeVar("T")


class _Worker:
    """One worker process and its pipe, idle or bound to a job."""

    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.job_id: str | None = None
        self.last_message = time.monotonic()
        self.reported: str | None = None
        self.reason: str | None = None
        self.killed_for: str | None = None
        self.stopping = False
        self.exited = False
        self.timers: list[asyncio.TimerHandle] = []

    def signal(self, signum: int) -> None:
        """Signal the process unless it has already been seen to exit (its pid may be reused then)."""
        if self.exited or self.process.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signum)


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, settings: JobSettings) -> None:
        self._settings = settings
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(PRELOAD)
        self._events: ExecutorEvents | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: _Worker | None = None
        self._spawning: asyncio.Future[None] | None = None
        self._busy: dict[str, _Worker] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def start(self, events: ExecutorEvents) -> None:
        self._events = events
        self._loop = asyncio.get_running_loop()
        self._watchdog = asyncio.create_task(self._watch_heartbeats())
        if self._settings.prewarm:
            self._ensure_idle()

    async def close(self) -> None:
        self._closing = True
        for job_id in list(self._busy):
            self.stop(job_id)
        deadline = time.monotonic() + TERM_AFTER_S + KILL_AFTER_S + 1.0
        while self._busy and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # A worker still being spawned is not waited for: it finds the executor closed and is let go.
        if self._idle is not None:
            idle, self._idle = self._idle, None
            self._detach(idle)
            idle.conn.close()  # the idle worker sees EOF and exits
            await self._in_thread(idle.process.join, 2.0)
            if idle.process.exitcode is None:
                idle.signal(signal.SIGKILL)
        if self._watchdog is not None:
            self._watchdog.cancel()

    # -- workers ------------------------------------------------------------------------------------------

    def _spawn_blocking(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=worker_main, args=(child,), name="layerlab-worker", daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    async def _spawn_idle(self) -> None:
        try:
            worker = await self._in_thread(self._spawn_blocking)
            if self._closing:
                worker.conn.close()  # it exits on EOF
                return
            self._watch(worker)
            self._idle = worker
        finally:
            self._spawning = None

    def _in_thread(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """Run a blocking call (a process start may wait seconds for the forkserver to boot) on a daemon
        thread, so neither the event loop nor interpreter shutdown ever waits for it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: T | None, error: BaseException | None) -> None:
            if future.cancelled():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def work() -> None:
            result: T | None = None
            error: BaseException | None = None
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: B036 - handed to the awaiting coroutine
                error = exc
            try:
                loop.call_soon_threadsafe(settle, result, error)
            except RuntimeError:  # the loop is gone (shut down meanwhile): release what was made
                if isinstance(result, _Worker):
                    result.conn.close()

        threading.Thread(target=work, name="layerlab-spawn", daemon=True).start()
        return future

    def _ensure_idle(self) -> None:
        if self._idle is None and self._spawning is None and not self._closing:
            self._spawning = asyncio.ensure_future(self._spawn_idle())
            self._spawning.add_done_callback(_log_spawn_failure)

    async def _take_idle(self) -> _Worker:
        while True:
            if self._closing:
                raise RuntimeError("the executor is shutting down")
            worker = self._idle
            if worker is not None and not worker.exited:
                self._idle = None
                return worker
            self._idle = None
            self._ensure_idle()
            assert self._spawning is not None
            await asyncio.shield(self._spawning)

    def _watch(self, worker: _Worker) -> None:
        assert self._loop is not None
        self._loop.add_reader(worker.conn.fileno(), self._on_readable, worker)
        self._loop.add_reader(worker.process.sentinel, self._on_exit, worker)

    def _detach(self, worker: _Worker) -> None:
        assert self._loop is not None
        with contextlib.suppress(Exception):
            self._loop.remove_reader(worker.conn.fileno())
        with contextlib.suppress(Exception):
            self._loop.remove_reader(worker.process.sentinel)
        for timer in worker.timers:
            timer.cancel()

    # -- jobs ---------------------------------------------------------------------------------------------

    async def launch(self, job: JobLaunch) -> None:
        worker = await self._take_idle()
        worker.job_id = job.job_id
        worker.last_message = time.monotonic()
        self._busy[job.job_id] = worker
        message = {
            "op": "job",
            "job_id": job.job_id,
            "spec": job.spec,
            "seq_start": job.seq_start,
            "artifact_dir": job.artifact_dir,
            "threads": job.allocation.threads,
            "visible_devices": job.allocation.visible_devices,
            "address_space_mb": self._settings.worker_address_space_mb,
        }
        try:
            pipe.send_control(worker.conn, message)
        except OSError:
            log.warning("worker for job %s died before it got the job", job.job_id)  # its exit reports it
        if self._settings.prewarm:
            self._ensure_idle()

    def stop(self, job_id: str) -> None:
        worker = self._busy.get(job_id)
        if worker is None or worker.stopping:
            return
        worker.stopping = True
        with contextlib.suppress(OSError):
            pipe.send_control(worker.conn, {"op": "stop"})
        assert self._loop is not None
        worker.timers.append(self._loop.call_later(TERM_AFTER_S, worker.signal, signal.SIGTERM))
        worker.timers.append(self._loop.call_later(KILL_AFTER_S, worker.signal, signal.SIGKILL))

    def running(self) -> set[str]:
        return set(self._busy)

    def worker_pid(self, job_id: str) -> int | None:
        worker = self._busy.get(job_id)
        return worker.process.pid if worker else None

    # -- event-loop callbacks -----------------------------------------------------------------------------

    def _on_readable(self, worker: _Worker) -> None:
        for _ in range(READ_BURST):
            if not self._read_one(worker):
                return

    def _read_one(self, worker: _Worker) -> bool:
        """Handle one pending message; False when nothing (more) is to be read now."""
        try:
            if worker.conn.closed or not worker.conn.poll():
                return False
            message = worker.conn.recv_bytes()
        except (EOFError, OSError):
            assert self._loop is not None
            with contextlib.suppress(Exception):
                self._loop.remove_reader(worker.conn.fileno())
            return False
        worker.last_message = time.monotonic()
        try:
            tag, payload = pipe.split(message)
            messages = [pipe.split(m) for m in pipe.unbatch(payload)] if tag == pipe.BATCH else [(tag, payload)]
        except ValueError:
            log.exception("malformed message from the worker of job %s", worker.job_id)
            return True
        for tag, payload in messages:
            try:
                self._handle(worker, tag, payload)
            except ValueError:
                log.exception("malformed message from the worker of job %s", worker.job_id)
        return True

    def _handle(self, worker: _Worker, tag: bytes, payload: bytes) -> None:
        if tag == pipe.TEXT or tag == pipe.BINARY:
            if worker.job_id is not None and self._events is not None:
                self._events.on_frame(worker.job_id, parse_frame(payload, binary=tag == pipe.BINARY))
        elif tag == pipe.CONTROL:
            done = pipe.control(payload)
            if done["op"] == "done":
                worker.reported = str(done.get("status"))
                worker.reason = done.get("reason")

    def _on_exit(self, worker: _Worker) -> None:
        """The process ended: read what it still had in the pipe, then report how it ended."""
        while self._read_one(worker):
            pass
        worker.exited = True
        self._detach(worker)
        exitcode = worker.process.exitcode
        worker.conn.close()
        with contextlib.suppress(ValueError):
            worker.process.close()
        if worker is self._idle:
            self._idle = None
        if worker.job_id is None:
            if self._settings.prewarm and not self._closing:
                log.warning("idle worker exited with %s; starting another", exitcode)
                self._ensure_idle()
            return
        self._busy.pop(worker.job_id, None)
        reason = worker.reason or worker.killed_for
        if worker.reported is None and reason is None:
            reason = Reason.worker_died(exitcode)
        if self._events is not None:
            self._events.on_exit(JobExit(worker.job_id, worker.reported, reason, exitcode))

    async def _watch_heartbeats(self) -> None:
        timeout = self._settings.heartbeat_timeout_s
        while True:
            await asyncio.sleep(WATCHDOG_PERIOD_S)
            now = time.monotonic()
            for worker in list(self._busy.values()):
                if worker.killed_for is None and now - worker.last_message > timeout:
                    log.warning("worker of job %s silent for %.1f s: killing it", worker.job_id, timeout)
                    worker.killed_for = Reason.LOST_HEARTBEAT
                    worker.signal(signal.SIGKILL)


def _log_spawn_failure(future: asyncio.Future[None]) -> None:
    """A failed pre-warm is only logged here; a launch waiting on it gets the error and fails its job."""
    if not future.cancelled() and future.exception() is not None:
        log.warning("could not start a worker process: %r", future.exception())
