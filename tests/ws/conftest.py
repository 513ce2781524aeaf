"""A real uvicorn server on 127.0.0.1 running the real app, in a background thread of the test process.

In-process so a test can look at the hub (evictions, backlog) and feed frames into the job service's real
event router, as the executor does, at a rate it controls; the sockets, HTTP handshake, middleware,
store and hub are all the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from layerlab.api.ws import UVICORN_WS_OPTIONS
from layerlab.app import create_app
from layerlab.jobs.model import JobStatus
from layerlab.settings import Settings
from layerlab.streaming.protocol import Frame


@dataclass
class ThreadServer:
    server: uvicorn.Server
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    port: int
    app: Any

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, job_id: str, after_seq: int | None = None) -> str:
        query = f"?after_seq={after_seq}" if after_seq is not None else ""
        return f"ws://127.0.0.1:{self.port}/api/jobs/{job_id}/stream{query}"

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn(*args) on the server's event loop and return its result."""
        done: Future[Any] = Future()

        def run() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as exc:  # handed back to the test thread
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return done.result(timeout=30)

    def publish(self, job_id: str, frame: Frame) -> None:
        self.loop.call_soon_threadsafe(self.app.state.jobs.router.publish, job_id, frame)

    def fake_running_job(self) -> str:
        """A job record that is running (so the scheduler leaves it alone) and whose frames the test makes."""
        service = self.app.state.jobs
        job_id = os.urandom(16).hex()

        def make() -> str:
            service.store.create_job(job_id=job_id, owner="local", name="fed by the test",
                                     spec={"model": {"nodes": []}, "data": {}})
            assert service.store.transition(job_id, JobStatus.RUNNING, device="test")
            return job_id

        return self.call(make)

    @property
    def hub(self) -> Any:
        return self.app.state.hub


def start_thread_server(data_dir: Path) -> ThreadServer:
    # One torch thread per job: on 2 shared cores two OpenMP threads spin-wait and tiny models run 10x slower.
    app = create_app(Settings(data_dir=data_dir, log_level="warning", jobs={"threads_per_job": 1}))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **UVICORN_WS_OPTIONS)
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return ThreadServer(server, thread, loop, port, app)


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    for name in [n for n in os.environ if n.startswith("LAYERLAB_")]:
        os.environ.pop(name)
    ts = start_thread_server(tmp_path_factory.mktemp("ws-data"))
    yield ts
    ts.server.should_exit = True
    ts.thread.join(timeout=30)


def raw_handshake(
    port: int, path: str, *, rcvbuf: int | None = None, origin: str | None = None
) -> tuple[socket.socket, int]:
    """A websocket client made of a plain socket: it completes the upgrade and then does whatever the test
    says (e.g. never reads). A small SO_RCVBUF set before connect keeps the TCP window small.
    Returns the socket and the HTTP status of the handshake answer (101 when upgraded)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append(f"Origin: {origin}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)  # byte by byte: nothing after the handshake is consumed
        if not chunk:
            break
        response += chunk
    return sock, int(response.split(b" ", 2)[1]) if response else 0
