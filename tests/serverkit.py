"""A real `python -m layerlab serve` for tests: started in its own session on a free 127.0.0.1 port, stopped by
its pid, and whatever it leaves behind (job workers) ended by its process-group id, never by name.

Import from here (`from serverkit import LiveServer, start_server`); tests/conftest.py builds its fixtures on it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A `python -m layerlab serve` subprocess on 127.0.0.1; `log` collects its stdout and stderr."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the server by its pid (graceful shutdown, as `kill` or `docker stop` do), SIGKILL its
        process group if it lingers, then SIGKILL anything its session left behind (job workers)."""
        if self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        _signal_group(self.process.pid, signal.SIGKILL)
        return self.process.returncode


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def start_server(data_dir: Path, log: Path, env: dict[str, str] | None = None, timeout: float = 60.0) -> LiveServer:
    """Start a real server and wait until GET /api/health answers; raise with its log if it never does."""
    for _attempt in range(3):
        port = free_port()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
        full_env.update(ONE_THREAD_ENV)
        full_env.update(env or {})
        out = log.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "layerlab", "serve", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=REPO,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        server = LiveServer(process, port, data_dir, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{server.url}/api/health", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        server.stop()
        if "address already in use" not in log.read_text(errors="replace").lower():
            break
    raise RuntimeError(f"layerlab serve did not become healthy; log:\n{log.read_text(errors='replace')[-4000:]}")
