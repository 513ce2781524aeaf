"""Shared fixtures: a temp data dir, settings and an in-process client on create_app, and a real server.

Tests that train stay on one thread (2 shared cores). The real-server helpers live in tests/serverkit.py:
import them with `from serverkit import LiveServer, start_server` (never `from conftest import ...`: with
several conftest.py files that name is ambiguous).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch
from fastapi.testclient import TestClient

from serverkit import ONE_THREAD_ENV, LiveServer, start_server

if TYPE_CHECKING:
    from layerlab.settings import Settings

torch.set_num_threads(1)
os.environ.update(ONE_THREAD_ENV)

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
        # In-process clients keep no idle job worker warm (a job still gets one when it starts).
        overrides.setdefault("jobs", {"prewarm": False})
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
