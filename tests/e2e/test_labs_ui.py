"""The labs view in a real browser against a real server: every catalogue lab listed by chapter section, one
quick lab run end to end (claim, live curves per variant, its tensor view, the measured outcome with ✓/✗), and a
stopped run that says what to do next. The page fixture fails any test whose page logged a console error.
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
QUICK_LAB = "optimizer_race"  # about 3 s of training at quick scale: curves, a landscape and paths
LONG_LAB = "dropout"  # about 20 s at quick scale: long enough to stop halfway


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's own server: lab jobs with one torch thread each, so that a lab's quick run takes seconds
    even when other work shares the machine's two cores (two threads contending for them ran it 10× slower)."""
    data = tmp_path_factory.mktemp("e2e-labs")
    server = start_server(data, data / "server.log", env={"LAYERLAB_JOBS__THREADS_PER_JOB": "1"})
    yield server.url
    server.stop()


def labs(server_url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{server_url}/api/catalogue", timeout=30).json()["labs"]


def open_labs(page: Page, lab_id: str | None = None) -> None:
    page.get_by_test_id("labs-button").click()
    page.get_by_test_id("lab-list").wait_for()
    if lab_id:
        page.get_by_test_id(f"lab-item-{lab_id}").click()
        page.wait_for_function("id => location.hash === `#lab=${id}`", arg=lab_id)


def test_labs_list_shows_every_catalogue_lab(page_factory: Callable[..., Page], server_url: str) -> None:
    page = page_factory()
    catalogue = labs(server_url)
    assert len(catalogue) >= 12
    open_labs(page)
    items = page.get_by_test_id("lab-list")
    for lab in catalogue:
        item = items.get_by_test_id(f"lab-item-{lab['id']}")
        assert item.count() == 1, lab["id"]
        assert item.inner_text().strip() == lab["title"]["ja"]
    assert page.locator("[data-testid^=lab-item-]").count() == len(catalogue)
    # the chapter's sections head the groups, in reading order
    headings = page.locator(".lab-group h3").all_inner_texts()
    assert headings[0].startswith("9.3")
    first_cnn = next(i for i, h in enumerate(headings) if h.startswith("9.4"))
    assert headings.index("深層学習における現実と理論のギャップ") < first_cnn
    # picking a lab shows its claim and what to look for; the language toggle switches both
    lab = catalogue[-1]
    items.get_by_test_id(f"lab-item-{lab['id']}").click()
    assert page.get_by_test_id("lab-claim").inner_text() == lab["claim"]["ja"]
    assert page.get_by_test_id("lab-look-for").inner_text() == lab["look_for"]["ja"]
    page.get_by_test_id("lang-toggle").click()
    assert page.get_by_test_id("lab-claim").inner_text() == lab["claim"]["en"]
    assert items.get_by_test_id(f"lab-item-{lab['id']}").inner_text().strip() == lab["title"]["en"]
    # the playground is one click away and comes back as it was
    page.get_by_test_id("playground-button").click()
    assert page.get_by_test_id("canvas").is_visible()
    assert not page.get_by_test_id("lab-list").is_visible()


def test_quick_lab_runs_end_to_end_with_curves_and_outcome(page_factory: Callable[..., Page], server_url: str) -> None:
    page = page_factory(f"/#lab={QUICK_LAB}")
    page.get_by_test_id("lab-claim").wait_for()
    assert page.get_by_test_id(f"lab-item-{QUICK_LAB}").get_attribute("class").split().count("current") == 1
    assert page.get_by_test_id("lab-outcome").get_attribute("data-state") == "idle"
    page.get_by_test_id("lab-run").click()
    status = page.get_by_test_id("lab-status")
    page.wait_for_function(
        "() => ['queued', 'running', 'succeeded'].includes("
        "document.querySelector('[data-testid=lab-status]').dataset.state)",
        timeout=15_000,
    )
    job_id = status.get_attribute("data-job")
    assert job_id
    # live curves: the loss chart draws while the job still runs or right after it, one legend entry per optimizer
    page.wait_for_selector("[data-testid=lab-view-loss][data-ready='1'] canvas", timeout=60_000)
    page.wait_for_selector("[data-testid=lab-outcome][data-state=done]", timeout=90_000)
    record = httpx.get(f"{server_url}/api/jobs/{job_id}", timeout=30).json()
    assert record["status"] == "succeeded"
    legend = page.get_by_test_id("lab-view-loss").locator(".legend-item").all_inner_texts()
    assert legend == ["SGD", "モーメンタム", "AdaGrad", "RMSProp", "Adam"]
    # the Rosenbrock landscape with the optimizers' paths
    landscape = page.get_by_test_id("lab-view-landscape")
    assert landscape.get_attribute("data-ready") == "1"
    assert landscape.locator("canvas.landscape-marks").count() == 1
    # the outcome: a clear mark and the verdict the server measured, in Japanese
    outcome = page.get_by_test_id("lab-outcome")
    holds = outcome.get_attribute("data-holds")
    assert holds in ("true", "false")
    assert page.get_by_test_id("lab-mark").inner_text() == ("✓" if holds == "true" else "✗")
    verdict = page.get_by_test_id("lab-verdict").inner_text()
    assert "SGD" in verdict and "Rosenbrock" in verdict
    assert page.get_by_test_id("lab-view-measurements").locator("table").count() >= 1
    mark = page.get_by_test_id(f"lab-item-{QUICK_LAB}").get_attribute("data-mark")
    assert mark == ("holds" if holds == "true" else "fails")
    assert page.get_by_test_id("lab-status").get_attribute("data-state") == "succeeded"
    shot(page, f"lab-{QUICK_LAB}")


def test_stopping_a_lab_says_what_to_do(page_factory: Callable[..., Page], server_url: str) -> None:
    page = page_factory(f"/#lab={LONG_LAB}")
    page.get_by_test_id("lab-run").click()
    page.wait_for_selector("[data-testid=lab-view-loss][data-ready='1']", timeout=60_000)
    page.get_by_test_id("lab-stop").click()
    page.wait_for_selector("[data-testid=lab-outcome][data-state=error]", timeout=30_000)
    assert page.get_by_test_id("lab-status").get_attribute("data-state") == "cancelled"
    assert "「実行」で最初からやり直せます" in page.get_by_test_id("lab-outcome").inner_text()
    assert page.get_by_test_id("lab-run").is_enabled()
