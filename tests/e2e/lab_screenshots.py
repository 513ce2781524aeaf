"""Take the README's lab screenshots: every lab run at quick scale in a real browser against a real server.

    PYTHONPATH=tests:tests/e2e .venv/bin/python tests/e2e/lab_screenshots.py [LAB_ID ...]

Each lab is opened in the labs view (Japanese, 1280×800), run at quick scale, and photographed once its
measured outcome is shown: docs/screenshots/labs/<id>.png. With Pillow installed the PNG is reduced to a
256-colour palette (the UI has few colours; files stay well under 150 KiB). Not a test: it takes minutes.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

import httpx
from e2e_helpers import open_page

from serverkit import start_server

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "screenshots" / "labs"
CHROMIUM = "/usr/bin/chromium"
LIMIT_BYTES = 150 * 1024


def small_png(png: bytes) -> bytes:
    """The screenshot as a 256-colour PNG when Pillow is there (no dithering: flat UI colours stay flat)."""
    try:
        from PIL import Image
    except ImportError:
        return png
    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette.save(out, "PNG", optimize=True)
    return out.getvalue()


def shoot(browser: object, url: str, lab: str, timeout_s: float) -> tuple[str, int]:
    page, errors = open_page(browser, f"{url}/#lab={lab}")
    try:
        page.get_by_test_id("lab-run").click()
        ended = "[data-testid=lab-outcome][data-state=done], [data-testid=lab-outcome][data-state=error]"
        page.wait_for_selector(ended, timeout=timeout_s * 1000)
        time.sleep(1.0)  # the last frame's drawing, and the charts' resize after the outcome grew
        data = small_png(page.screenshot())
        (OUT / f"{lab}.png").write_bytes(data)
        state = page.get_by_test_id("lab-outcome").get_attribute("data-holds") or "error"
        if errors:
            raise RuntimeError(f"{lab}: browser errors: {errors}")
        return state, len(data)
    finally:
        page.context.close()


def main(labs: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="layerlab-shots-") as tmp:
        server = start_server(Path(tmp), Path(tmp) / "server.log", env={"LAYERLAB_JOBS__THREADS_PER_JOB": "1"})
        try:
            ids = labs or [lab["id"] for lab in httpx.get(f"{server.url}/api/catalogue", timeout=30).json()["labs"]]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM,
                                            args=["--headless", "--no-sandbox", "--disable-gpu"])
                failed = 0
                for lab in ids:
                    started = time.monotonic()
                    holds, size = shoot(browser, server.url, lab, timeout_s=600)
                    too_big = " (over 150 KiB!)" if size > LIMIT_BYTES else ""
                    took = time.monotonic() - started
                    print(f"{lab}: claim_holds={holds} {size // 1024} KiB{too_big} in {took:.0f} s", flush=True)
                    failed += holds == "error" or size > LIMIT_BYTES
                browser.close()
        finally:
            server.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
