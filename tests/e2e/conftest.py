"""Browser-test fixtures: one real LayerLab server and one Debian Chromium for the module, a fresh page per test.

Every page records console errors and uncaught exceptions; a test fails at teardown if any appeared (a 422
from live validation of a deliberately broken network is the API doing its job, not a page error).
Screenshots go to tests/artifacts/ (git-ignored) so a person can look at what the tests saw.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_helpers import PageErrors, open_page, shot

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m layerlab serve` on a free loopback port, in its own session, ended by its group id."""
    data = tmp_path_factory.mktemp("e2e-data")
    log = (data / "server.log").open("wb")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "layerlab", "serve", "--port", str(port), "--data-dir", str(data)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        raise RuntimeError(f"server did not start: {(data / 'server.log').read_text(errors='replace')[-3000:]}")
    yield url
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(10)
            break
        except subprocess.TimeoutExpired:
            continue
    log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # Module scope, not session: while Playwright's sync API is open its event loop counts as running in
    # this thread, so every later test that calls asyncio.run() (store, hub, ...) would fail.
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page_factory(browser: object, server_url: str, request: pytest.FixtureRequest) -> Iterator[object]:
    """Open pages (each in its own context); at the end save how each looked (tests/artifacts/last-*.png, to
    read a failure) and assert none of them logged an error."""
    opened: list[tuple[object, PageErrors]] = []

    def make(path: str = "/", **kw: object):
        page, errors = open_page(browser, server_url + path, **kw)  # type: ignore[arg-type]
        opened.append((page, errors))
        return page

    yield make
    problems = [e for _, errors in opened for e in errors]
    for i, (page, _) in enumerate(opened):
        shot(page, f"last-{request.node.name}-{i}")
        page.context.close()  # type: ignore[attr-defined]
    assert not problems, "errors in the browser console:\n" + "\n".join(problems)
