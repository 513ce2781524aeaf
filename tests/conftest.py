"""Shared fixtures: a temp data dir, settings and an in-process client on create_app, and a real server.

Tests that train stay on one thread (2 shared cores); the real server is started as its own session, stopped
by its pid, and whatever it leaves behind is ended by its process-group id, never by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from layerlab.settings import Settings

torch.set_num_threads(1)
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
os.environ.update(ONE_THREAD_ENV)

REPO = Path(__file__).resolve().parents[1]
BASE_URL = "http://127.0.0.1"


@pytest.fixture(autouse=True)
def _no_layerlab_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read LAYERLAB_* variables; a developer's shell must not change what tests see."""
    for name in list(os.environ):
        if name.startswith("LAYERLAB_"):
            monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    from layerlab.settings import Settings

    return Settings(data_dir=data_dir)


@pytest.fixture
def make_client(data_dir: Path) -> Iterator[Callable[..., TestClient]]:
    """Build a TestClient on create_app(Settings(data_dir=..., **overrides)); lifespan runs, then shuts down."""
    # Imported here so that a broken app module fails the API tests, not every test's collection.
    from layerlab.app import create_app
    from layerlab.settings import Settings

    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        client = TestClient(create_app(Settings(data_dir=data_dir, **overrides)), base_url=BASE_URL)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


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


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start one or more real servers (optionally with extra env); every one is stopped at the end."""
    started: list[LiveServer] = []

    def start(env: dict[str, str] | None = None, data_dir: Path | None = None) -> LiveServer:
        n = len(started)
        directory = data_dir or tmp_path / f"server{n}-data"
        directory.mkdir(parents=True, exist_ok=True)
        server = start_server(directory, tmp_path / f"server{n}.log", env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    return server_factory()
