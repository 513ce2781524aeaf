"""Helpers for the streaming benchmarks: the real app under uvicorn in a thread, and a lean raw websocket client.

The server runs in-process (a background thread with its own event loop) so a benchmark can feed frames
into the job service's real event router at a controlled rate, exactly where the executor would.
Clients run in another process and read with recvmsg + SO_TIMESTAMPNS: the kernel's arrival time of the
bytes, so a measured latency is the server's (fan-out, socket writes, TCP), not the client's Python.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import platform
import selectors
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux value; Python does not export it
_TIMESPEC = struct.Struct("@qq")


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "load_avg_1m": os.getloadavg()[0]}


def write_result(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


@dataclass
class ThreadServer:
    """`create_app` served by uvicorn on 127.0.0.1 (port 0) in a daemon thread."""

    server: Any
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    port: int
    app: Any

    @classmethod
    def start(cls, **settings: Any) -> ThreadServer:
        import uvicorn

        from layerlab.api.ws import UVICORN_WS_OPTIONS
        from layerlab.app import create_app
        from layerlab.settings import Settings

        for name in [n for n in os.environ if n.startswith("LAYERLAB_")]:
            os.environ.pop(name)
        data_dir = Path(tempfile.mkdtemp(prefix="layerlab-bench-"))
        settings = {"log_level": "warning", "jobs": {"threads_per_job": 1, "cpu_slots": 1}, **settings}
        app = create_app(Settings(data_dir=data_dir, **settings))
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **UVICORN_WS_OPTIONS)
        server = uvicorn.Server(config)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return cls(server, thread, loop, server.servers[0].sockets[0].getsockname()[1], app)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        done: Future[Any] = Future()

        def run() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as exc:
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return done.result(timeout=60)

    def run(self, coro: Any, timeout: float = 600) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def fake_running_job(self) -> str:
        """A running job record whose frames the benchmark produces (the scheduler leaves it alone)."""
        from layerlab.jobs.model import JobStatus

        service = self.app.state.jobs
        job_id = os.urandom(16).hex()

        def make() -> str:
            service.store.create_job(job_id=job_id, owner="local", name="bench", spec={"model": {}, "data": {}})
            service.store.transition(job_id, JobStatus.RUNNING, device="bench")
            return job_id

        return self.call(make)

    @property
    def router(self) -> Any:
        return self.app.state.jobs.router

    @property
    def hub(self) -> Any:
        return self.app.state.hub


class RawWebSocket:
    """A websocket client on a plain non-blocking socket: manual upgrade, frame parsing, kernel timestamps."""

    def __init__(self, port: int, path: str, *, rcvbuf: int | None = None, timestamps: bool = True) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if timestamps:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
        sock.setblocking(False)
        self.sock = sock
        self.buf = bytearray()
        self.frame_ts: float | None = None  # arrival time of the first byte of the frame being parsed
        self.wire_bytes = 0
        self.closed = False
        self.close_code: int | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> list[tuple[int, bytes, float, int]]:
        """Whatever complete messages are readable now: (opcode, payload, arrival time, wire bytes)."""
        try:
            data, ancillary, _, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(_TIMESPEC.size))
        except BlockingIOError:
            return []
        except ConnectionError:
            data, ancillary = b"", []
        if not data:
            self.closed = True
            return []
        arrived = time.time()
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(raw)
                arrived = sec + nsec * 1e-9
        if not self.buf:
            self.frame_ts = arrived
        self.buf += data
        self.wire_bytes += len(data)
        out = []
        while True:
            parsed = _parse_frame(self.buf)
            if parsed is None:
                break
            opcode, payload, used = parsed
            out.append((opcode, payload, self.frame_ts or arrived, used))
            del self.buf[:used]
            self.frame_ts = arrived
            if opcode == 8:
                self.closed = True
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        return out

    def close(self) -> None:
        self.sock.close()


def _parse_frame(buf: bytearray) -> tuple[int, bytes, int] | None:
    """One unmasked server frame at the start of buf: (opcode, payload, bytes used), or None if incomplete."""
    if len(buf) < 2:
        return None
    opcode, length, pos = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, pos = struct.unpack_from("!H", buf, 2)[0], 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, pos = struct.unpack_from("!Q", buf, 2)[0], 10
    if len(buf) < pos + length:
        return None
    return opcode, bytes(buf[pos:pos + length]), pos + length


def tensor_header(payload: bytes) -> dict[str, Any]:
    (n,) = struct.unpack_from("<I", payload)
    return json.loads(payload[4:4 + n])


def collect(clients: list[RawWebSocket], on_message: Callable[[int, int, bytes, float, int], None],
            deadline: float) -> None:
    """Read every client until all are closed or the deadline passes; on_message(client, opcode, payload, t, n)."""
    selector = selectors.DefaultSelector()
    for index, client in enumerate(clients):
        selector.register(client.sock, selectors.EVENT_READ, index)
    open_clients = len(clients)
    while open_clients and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            client = clients[key.data]
            for opcode, payload, arrived, used in client.read():
                on_message(key.data, opcode, payload, arrived, used)
            if client.closed:
                selector.unregister(client.sock)
                open_clients -= 1
    selector.close()


def python() -> str:
    return sys.executable
