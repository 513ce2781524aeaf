"""Helpers of the browser tests: opening a watched page, screenshots, and driving the playground's controls."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
# A 422 from live validation of a deliberately broken network is the API doing its job, not a page error.
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of 422")


class PageErrors(list):
    """Console errors and page exceptions seen by one page."""


def open_page(browser: object, url: str, width: int = 1280, height: int = 800, lang: str | None = None):
    """A fresh context and page at `url`, waited until the app is ready; returns (page, errors)."""
    ctx = browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    if lang:
        ctx.add_init_script(f"localStorage.setItem('layerlab.lang', '{lang}')")
    page = ctx.new_page()
    errors = PageErrors()
    page.on("console", lambda m: m.type == "error" and not EXPECTED_CONSOLE.search(m.text)
            and errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    return page, errors


def shot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    return path
