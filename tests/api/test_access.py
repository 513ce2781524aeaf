"""Access control and the static frontend: tokens, Origin allowlist, loopback Host names, CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from layerlab.api.static import CSP

TOKEN = "classroom-token-0123456789"
MODEL = {"model": {"nodes": [{"id": "x", "type": "input", "params": {"shape": [2]}}]}}


@pytest.fixture
def secured(make_client: Any) -> TestClient:
    return make_client(auth_tokens=TOKEN, allowed_origins="https://lab.example.edu")


def test_without_tokens_everything_is_open_on_loopback(client: TestClient) -> None:
    assert client.get("/api/catalogue").status_code == 200
    assert client.post("/api/validate", json=MODEL).status_code == 200


def test_tokens_guard_the_api_but_not_health(secured: TestClient) -> None:
    assert secured.get("/api/health").status_code == 200
    r = secured.get("/api/catalogue")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    assert secured.get("/api/catalogue", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert secured.get("/api/catalogue", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert secured.post("/api/validate", json=MODEL, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_token_in_the_page_url_becomes_a_cookie(secured: TestClient) -> None:
    r = secured.get("/docs", params={"token": TOKEN, "lang": "ja"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/docs?lang=ja"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert secured.get("/api/catalogue").status_code == 200  # the client kept the cookie
    secured.cookies.clear()
    assert secured.get("/api/catalogue").status_code == 401
    wrong = secured.get("/docs", params={"token": "nope"}, follow_redirects=False)
    assert wrong.status_code == 200 and "set-cookie" not in wrong.headers


def test_foreign_origins_cannot_change_state(secured: TestClient, client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    evil = secured.post("/api/validate", json=MODEL, headers={**auth, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"] == "origin_not_allowed"
    listed = secured.post("/api/validate", json=MODEL, headers={**auth, "Origin": "https://lab.example.edu"})
    assert listed.status_code == 200
    same = secured.post("/api/validate", json=MODEL, headers={**auth, "Origin": "http://127.0.0.1"})
    assert same.status_code == 200
    # Loopback mode too: a web page elsewhere must not drive a local server.
    assert client.post("/api/validate", json=MODEL, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.get("/api/catalogue", headers={"Origin": "https://evil.example"}).status_code == 200


def test_loopback_mode_refuses_foreign_host_names(client: TestClient) -> None:
    """DNS rebinding: a page on attacker.example resolving to 127.0.0.1 still sends its own Host."""
    r = client.get("/api/catalogue", headers={"Host": "attacker.example:8000"})
    assert r.status_code == 403 and r.json()["error"] == "host_not_allowed"
    assert client.get("/api/health", headers={"Host": "localhost:8000"}).status_code == 200


def test_websocket_from_a_foreign_origin_is_closed(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/api/jobs/x/stream", headers={"Origin": "https://evil.example"}):
            pass
    assert info.value.code == 1008


@pytest.fixture
def frontend(tmp_path: Path) -> Path:
    root = tmp_path / "frontend"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>LayerLab</title><script type=module src=js/app.js>")
    (root / "js" / "app.js").write_text("export const ok = true;\n")
    return root


def test_frontend_is_served_with_a_strict_csp(make_client: Any, frontend: Path) -> None:
    client = make_client(frontend_dir=frontend)
    page = client.get("/")
    assert page.status_code == 200 and "LayerLab" in page.text
    assert page.headers["content-security-policy"] == CSP and "default-src 'self'" in CSP
    script = client.get("/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in script.headers
    missing = client.get("/js/nope.js")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.get("/api/health").status_code == 200  # API routes are not shadowed by the mount


def test_without_a_frontend_root_is_a_json_404(make_client: Any, tmp_path: Path) -> None:
    r = make_client(frontend_dir=tmp_path / "absent").get("/")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
