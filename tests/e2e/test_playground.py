"""The playground in a real browser against a real server: build, wire, validate, train, watch, stop, share.

Each test drives the page the way a person does (palette clicks and drags, port-to-port wiring, the top
bar's buttons) and waits on the data-testid hooks of DESIGN §13. Training tests stop their job as soon as
they have seen what they came for, so the suite stays within a few minutes on two cores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_helpers import shot

pytestmark = pytest.mark.e2e

Page = Any


def catalogue(server_url: str) -> dict[str, Any]:
    return httpx.get(f"{server_url}/api/catalogue", timeout=30).json()


def preset_with(server_url: str, node_type: str) -> str:
    """The id of the first preset whose network uses `node_type` (the catalogue decides, not the test)."""
    for p in catalogue(server_url)["presets"]:
        if any(n["type"] == node_type for n in p["spec"]["model"]["nodes"]):
            return p["id"]
    raise AssertionError(f"no preset uses {node_type}")


def wait_valid(page: Page) -> None:
    page.wait_for_selector("#editor-status[data-state=ok] .ok", timeout=30_000)


def start_training(page: Page) -> str:
    page.get_by_test_id("train-button").click()
    status = page.get_by_test_id("job-status")
    page.wait_for_function(
        "() => ['queued','running'].includes(document.querySelector('[data-testid=job-status]').dataset.state)",
        timeout=15_000,
    )
    return status.get_attribute("data-job") or ""


def stop_training(page: Page) -> None:
    page.get_by_test_id("stop-button").click()
    page.wait_for_function(
        "() => ['cancelled','succeeded'].includes(document.querySelector('[data-testid=job-status]').dataset.state)",
        timeout=20_000,
    )


def wait_frame_updates(page: Page, testid: str, times: int = 1, timeout: float = 60_000) -> None:
    """Wait until the view `testid` has drawn `times` different steps (its data-step attribute changes)."""
    seen: set[str] = set()
    for _ in range(times):
        page.wait_for_function(
            """([id, seen]) => { const el = document.querySelector(`[data-testid=${id}]`);
                 return el && el.dataset.step !== undefined && !seen.includes(el.dataset.step); }""",
            arg=[testid, sorted(seen)], timeout=timeout,
        )
        seen.add(page.get_by_test_id(testid).get_attribute("data-step") or "")


def test_palette_lists_every_catalogue_layer(page_factory: Callable[..., Page], server_url: str) -> None:
    page = page_factory()
    palette = page.get_by_test_id("palette")
    types = [layer["type"] for layer in catalogue(server_url)["layers"]]
    assert len(types) >= 20
    for t in types:
        assert palette.get_by_test_id(f"palette-item-{t}").count() == 1, t
    assert page.locator("[data-testid^=palette-item-]").count() == len(types)


def test_build_mlp_by_hand_train_on_spiral_watch_and_stop(page_factory: Callable[..., Page]) -> None:
    page = page_factory()
    page.click("#new-button")
    page.get_by_test_id("dataset-select").select_option("spiral")
    assert page.get_by_test_id("node-input").is_visible()
    # input -> dense(16) -> tanh -> dense(2): palette clicks append after the last layer and wire it
    page.get_by_test_id("palette-item-dense").click()
    page.get_by_test_id("palette-item-activation").click()
    page.locator("#f-fn").select_option("tanh")
    page.get_by_test_id("palette-item-dense").click()
    page.locator("#f-units").fill("2")
    wait_valid(page)
    for node, shape in (("dense1", "[16]"), ("activation1", "[16]"), ("dense2", "[2]")):
        assert shape in page.get_by_test_id(f"node-{node}").inner_text()
    page.click("#tab-train")  # the training settings tab of the strip under the editor
    page.locator("input[name='epochs']").fill("50")
    page.locator("input[name='optimizer.lr']").fill("0.03")
    # one sample per step: 20,000 steps, long enough to watch the map redraw and still stop the run (with
    # batches of 32 this net trains 650 steps in well under a second)
    page.locator("input[name='batch_size']").fill("1")
    start_training(page)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=loss-chart]').dataset.points) >= 20", timeout=60_000)
    wait_frame_updates(page, "boundary-map", times=2)
    assert page.get_by_test_id("loss-chart").locator("canvas").count() >= 1
    shot(page, "mlp-spiral-training")
    stop_training(page)
    assert page.get_by_test_id("job-status").get_attribute("data-state") == "cancelled"
    job_list = page.get_by_test_id("job-list")
    job_list.locator("[data-status=cancelled]").first.wait_for(timeout=10_000)


def test_cnn_preset_shows_feature_maps(page_factory: Callable[..., Page], server_url: str) -> None:
    page = page_factory()
    page.get_by_test_id("preset-select").select_option(preset_with(server_url, "conv2d"))
    wait_valid(page)
    start_training(page)
    wait_frame_updates(page, "activation-map")
    assert page.get_by_test_id("activation-map").locator("canvas").count() >= 1
    shot(page, "cnn-feature-maps")
    stop_training(page)


def test_attention_preset_shows_attention_map(page_factory: Callable[..., Page], server_url: str) -> None:
    page = page_factory()
    page.get_by_test_id("preset-select").select_option(preset_with(server_url, "attention"))
    wait_valid(page)
    start_training(page)
    wait_frame_updates(page, "attention-map")
    assert page.get_by_test_id("attention-map").locator("canvas").count() >= 1
    shot(page, "attention-map")
    stop_training(page)


def test_invalid_wiring_shows_the_error_on_its_node(page_factory: Callable[..., Page]) -> None:
    page = page_factory()
    page.click("#new-button")
    page.get_by_test_id("dataset-select").select_option("spiral")
    wait_valid(page)
    canvas = page.get_by_test_id("canvas")
    # drag a Conv2d onto the canvas right of the input layer, then wire the input's output port to its input port
    box, where = page.get_by_test_id("node-input").bounding_box(), canvas.bounding_box()
    drop = {"x": box["x"] - where["x"] + box["width"] + 150, "y": box["y"] - where["y"] + 120}
    page.get_by_test_id("palette-item-conv2d").drag_to(canvas, target_position=drop)
    conv = page.get_by_test_id("node-conv2d1")
    conv.wait_for()
    page.get_by_test_id("node-input").locator(".port.out").drag_to(conv.locator(".port.in").first)
    error = conv.get_by_test_id("validation-error")
    # the message names the node and what it got: the input layer's vector [2]
    page.wait_for_function("() => (document.querySelector('[data-testid=node-conv2d1] .node-error') || {})"
                           ".textContent?.includes('[2]')", timeout=10_000)
    first = error.inner_text()
    assert "conv2d1" in first
    assert "invalid" in (conv.get_attribute("class") or "")
    assert page.locator("[data-testid^=node-] [data-testid=validation-error]").count() == 1
    shot(page, "invalid-wiring")
    # clicking the link removes it: the shape error goes (the layer now has no input, a different message)
    page.locator(".link-hit").first.dispatch_event("click")
    page.wait_for_function(
        """(first) => { const e = document.querySelector('[data-testid=node-conv2d1] .node-error');
             return !e || e.textContent !== first; }""", arg=first, timeout=10_000)


def test_share_url_restores_the_same_network(page_factory: Callable[..., Page], server_url: str) -> None:
    page = page_factory()
    page.get_by_test_id("preset-select").select_option(preset_with(server_url, "dense"))
    page.get_by_test_id("palette-item-dropout").click()
    wait_valid(page)
    page.click("#tab-train")
    page.locator("input[name='optimizer.lr']").fill("0.0042")
    page.get_by_test_id("share-button").click()
    url = page.evaluate("location.href")
    assert "#state=" in url
    nodes = sorted(page.eval_on_selector_all("[data-testid^=node-]", "els => els.map(e => e.dataset.testid)"))
    dataset = page.get_by_test_id("dataset-select").input_value()
    other = page_factory(url[len(server_url):])
    wait_valid(other)
    assert sorted(other.eval_on_selector_all("[data-testid^=node-]", "els => els.map(e => e.dataset.testid)")) == nodes
    assert other.get_by_test_id("dataset-select").input_value() == dataset
    assert other.locator("input[name='optimizer.lr']").input_value() == "0.0042"
    assert other.get_by_test_id("node-dropout1").is_visible()


def test_language_toggle_switches_text_and_is_remembered(page_factory: Callable[..., Page]) -> None:
    page = page_factory()
    train = page.get_by_test_id("train-button")
    assert "学習開始" in train.inner_text()  # Japanese by default
    dense_ja = page.get_by_test_id("palette-item-dense").inner_text()
    page.get_by_test_id("lang-toggle").click()
    assert "Train" in train.inner_text()
    assert page.get_by_test_id("palette-item-dense").inner_text() != dense_ja
    assert page.evaluate("document.documentElement.lang") == "en"
    shot(page, "english")
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert "Train" in page.get_by_test_id("train-button").inner_text()
    page.get_by_test_id("lang-toggle").click()
    assert "学習開始" in page.get_by_test_id("train-button").inner_text()


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_main_loop_fits_one_screen(page_factory: Callable[..., Page], size: tuple[int, int]) -> None:
    w, h = size
    page = page_factory(width=w, height=h)
    assert page.evaluate("document.scrollingElement.scrollHeight") <= h
    assert page.evaluate("document.scrollingElement.scrollWidth") <= w
    for testid in ("preset-select", "dataset-select", "train-button", "stop-button", "job-status", "palette",
                   "canvas", "loss-chart", "job-list", "share-button", "lang-toggle"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, testid
        assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= w + 1, testid
        assert box["y"] + box["height"] <= h + 1, testid
    shot(page, f"layout-{w}x{h}")


def finished_runs(server_url: str, n: int) -> list[str]:
    """Submit `n` short spiral runs (different seeds) over REST and wait until they have succeeded."""
    spec = next(p["spec"] for p in catalogue(server_url)["presets"] if p["id"] == preset_with(server_url, "dense"))
    ids = []
    with httpx.Client(base_url=server_url, timeout=60) as c:
        for seed in range(n):
            body = {**spec, "name": f"replay run {seed}", "train": {**spec.get("train", {}), "epochs": 2, "seed": seed}}
            r = c.post("/api/jobs", json=body)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        for job_id in ids:
            for _ in range(600):
                status = c.get(f"/api/jobs/{job_id}").json()["status"]
                if status in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.2)
            assert status == "succeeded", status
    return ids


def test_replay_overlay_and_download_past_runs(page_factory: Callable[..., Page], server_url: str) -> None:
    first, second = finished_runs(server_url, 2)
    page = page_factory()
    jobs = page.get_by_test_id("job-list")
    jobs.get_by_test_id(f"run-{first}").wait_for()
    jobs.get_by_test_id(f"run-open-{first}").click()
    status = page.get_by_test_id("job-status")
    page.wait_for_function("(id) => { const s = document.querySelector('[data-testid=job-status]');"
                           " return s.dataset.job === id && s.dataset.state === 'succeeded'; }", arg=first)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=loss-chart]').dataset.points) > 0", timeout=20_000)
    assert status.get_attribute("data-state") == "succeeded"
    legend = page.get_by_test_id("loss-chart").locator(".chart-legend .legend-item")
    before = legend.count()
    jobs.get_by_test_id(f"run-{second}").get_by_role("button", name="重ねる").click()
    page.wait_for_function(
        "(n) => document.querySelectorAll('[data-testid=loss-chart] .chart-legend .legend-item').length > n",
        arg=before, timeout=20_000)
    shot(page, "replay-overlay")
    options = jobs.get_by_test_id(f"run-{first}").locator("select option").all_inner_texts()
    for name in ("spec.json", "weights.safetensors", "model.onnx", "model.py"):
        assert name in options
    for name in ("spec.json", "weights.safetensors", "model.py"):
        assert page.request.get(f"{server_url}/api/jobs/{first}/artifacts/{name}").status == 200, name


def test_export_then_import_a_json_file_restores_the_state(page_factory: Callable[..., Page], server_url: str) -> None:
    page = page_factory()
    page.get_by_test_id("preset-select").select_option(preset_with(server_url, "lstm"))
    wait_valid(page)
    page.click("#tab-train")
    page.locator("input[name='epochs']").fill("3")
    with page.expect_download() as download:
        page.click("#export-button")
    path = download.value.path()
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    assert doc["spec"]["train"]["epochs"] == 3
    nodes = sorted(page.eval_on_selector_all("[data-testid^=node-]", "els => els.map(e => e.dataset.testid)"))
    other = page_factory()
    other.locator("#import-input").set_input_files(path)
    wait_valid(other)
    assert sorted(other.eval_on_selector_all("[data-testid^=node-]", "els => els.map(e => e.dataset.testid)")) == nodes
    other.click("#tab-train")
    assert other.locator("input[name='epochs']").input_value() == "3"
    assert other.get_by_test_id("dataset-select").input_value() == doc["spec"]["data"]["dataset"]


def test_loss_chart_update_stays_fast_with_20k_points(page_factory: Callable[..., Page]) -> None:
    """The chart module as the page uses it: 20,000 batch losses plus test points, then live appends."""
    page = page_factory()
    median_ms = page.evaluate("""async () => {
        const { CurveChart } = await import('/js/views/charts.js');
        const host = document.createElement('div');
        host.style.cssText = 'position:fixed;left:0;top:0;width:420px;height:150px';
        document.body.append(host);
        const chart = new CurveChart(host, { label: 'loss' });
        const x = [], y = [], tx = [], ty = [];
        for (let i = 0; i < 20000; i++) {
          x.push(i); y.push(Math.exp(-i / 5000) + 0.1 * Math.sin(i));
          if (i % 100 === 0) { tx.push(i); ty.push(Math.exp(-i / 5000)); }
        }
        const series = () => [{ label: 'batch', color: '#b9d3ea', x, y },
                              { label: 'test', color: '#f59322', x: tx, y: ty }];
        chart.update(series());
        const times = [];
        for (let k = 0; k < 21; k++) {
          x.push(20000 + k); y.push(0.2);
          const t0 = performance.now();
          chart.update(series());
          times.push(performance.now() - t0);
        }
        host.remove();
        times.sort((a, b) => a - b);
        return times[10];
    }""")
    assert median_ms < 60, f"a chart update with 20k points took {median_ms:.1f} ms (median)"
