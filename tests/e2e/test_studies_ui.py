"""The playground's sweep in a real browser against a real server: the spiral preset swept over two learning
rates from the training settings, both members' loss curves overlaid with the values as the legend, then the
summary plot of the final metric against the learning rate; a bad value is refused in the form, naming it.
The page fixture fails the test if the page logged a console error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from e2e_helpers import shot

from serverkit import start_server

pytestmark = pytest.mark.e2e

Page = Any


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's own server, one torch thread per job (as the labs tests), so the sweep takes seconds."""
    data = tmp_path_factory.mktemp("e2e-studies")
    server = start_server(data, data / "server.log", env={"LAYERLAB_JOBS__THREADS_PER_JOB": "1"})
    yield server.url
    server.stop()


def spiral_preset(server_url: str) -> str:
    presets = httpx.get(f"{server_url}/api/catalogue", timeout=30).json()["presets"]
    return next(p["id"] for p in presets if p["spec"]["data"].get("dataset") == "spiral")


def test_sweep_learning_rate_draws_curves_and_summary(page_factory: Callable[..., Page], server_url: str) -> None:
    page = page_factory(width=1280, height=800)
    page.get_by_test_id("preset-select").select_option(spiral_preset(server_url))
    page.wait_for_selector("#editor-status[data-state=ok] .ok", timeout=30_000)
    page.click("#tab-train")
    page.locator("input[name='epochs']").fill("3")
    page.locator("input[name='epochs']").blur()

    page.get_by_test_id("study-button").click()
    page.get_by_test_id("study-setting").select_option("train.optimizer.lr")
    # a value the form cannot use is named there, and nothing is submitted
    page.get_by_test_id("study-values").fill("0.01, fast")
    page.get_by_test_id("study-submit").click()
    assert "fast" in page.get_by_test_id("study-error").inner_text()
    assert not page.get_by_test_id("study-panel").is_visible()

    page.get_by_test_id("study-values").fill("0.003, 0.03")
    page.get_by_test_id("study-submit").click()
    panel = page.get_by_test_id("study-panel")
    panel.wait_for(state="visible")
    legend = page.get_by_test_id("study-legend")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=study-legend] .legend-item').length === 2",
                           timeout=60_000)
    assert legend.locator(".legend-item").all_inner_texts() == ["0.003", "0.03"]
    # two curves drawn on the overlay chart, one colour each
    page.wait_for_function("() => document.querySelector('[data-testid=study-panel]').dataset.curves === '2'")
    assert page.locator("[data-testid=study-curves] canvas").count() == 1
    colours = legend.locator(".legend-item i").evaluate_all("els => els.map((e) => e.style.background)")
    assert len(set(colours)) == 2
    page.wait_for_function("() => document.querySelector('[data-testid=study-panel]').dataset.status === 'succeeded'"
                           " && document.querySelector('[data-testid=study-panel]').dataset.summary === '2'",
                           timeout=120_000)
    summary = page.get_by_test_id("study-summary")
    assert summary.is_visible()
    assert summary.locator("canvas").count() == 1
    box = panel.bounding_box()
    assert box and box["x"] + box["width"] <= 1281 and box["y"] + box["height"] <= 801
    study = httpx.get(f"{server_url}/api/studies", timeout=30).json()["studies"][0]
    assert [m["values"]["train.optimizer.lr"] for m in study["members"]] == [0.003, 0.03]
    assert all(p["y"] is not None for p in study["summary_plot"]["points"])
    shot(page, "study-lr-sweep")
