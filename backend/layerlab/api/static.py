"""The browser app: frontend/ served at / with a strict Content-Security-Policy on its HTML.

The frontend is static ES modules (no bundler); its pinned libraries are copied into frontend/vendor/ by
the set-up step. The CSP allows only this origin, so no inline script and no third-party host can run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"


class SecurityHeaders:
    """Add CSP to HTML answers and nosniff/no-cache to every static answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Cache-Control"] = "no-cache"
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = CSP
                    headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class FrontendMount(Mount):
    """A mount at / that never claims /api/*: unknown API paths stay JSON 404s and wrong methods 405s."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("path", "").startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


def frontend_available(frontend_dir: Path) -> bool:
    return (frontend_dir / "index.html").is_file()


def mount_frontend(app: FastAPI, frontend_dir: Path) -> bool:
    """Mount frontend/ at / (after every API route, so /api/* is never shadowed); False if absent."""
    if not frontend_available(frontend_dir):
        return False
    app.router.routes.append(
        FrontendMount("/", app=SecurityHeaders(StaticFiles(directory=frontend_dir, html=True)), name="frontend")
    )
    return True
