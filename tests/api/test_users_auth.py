"""User accounts on a real server: tokens guard every /api route but health, a user's jobs are invisible
(404, like a missing job) to other users on every per-job route including the websocket, a teacher sees
their class, accounts change on a running server, and the ?token= page login works with a user's token.
Anonymous loopback use without accounts, and its end when the first account appears, run in-process."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from jobkit import long_job, mlp, submit, wait_for
from serverkit import LiveServer, start_server

SHARED_TOKEN = "shared-classroom-token-0123"
ARTIFACT_NAMES = ["spec.json", "weights.safetensors", "model.onnx", "model.py"]


def cli(*argv: str) -> tuple[int, str]:
    """Run `layerlab ...` in-process; (exit code, stdout)."""
    from layerlab.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv))
    return code, out.getvalue()


def add_user(data_dir: Path, name: str, *extra: str) -> str:
    code, out = cli("users", "add", name, *extra, "--data-dir", str(data_dir))
    assert code == 0
    return out.strip()


@dataclass
class Classroom:
    server: LiveServer
    tokens: dict[str, str]
    jobs: dict[str, str]  # owner name -> a finished job of theirs

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.server.client(headers=headers)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    """alice, bob: students of class A; carol teaches A; dave teaches B; plus a shared LAYERLAB_AUTH_TOKENS."""
    root = tmp_path_factory.mktemp("users")
    data = root / "data"
    tokens = {"alice": add_user(data, "alice", "--class", "A"), "bob": add_user(data, "bob", "--class", "A"),
              "carol": add_user(data, "carol", "--teacher", "--class", "A"),
              "dave": add_user(data, "dave", "--teacher", "--class", "B"), "shared": SHARED_TOKEN}
    server = start_server(data, root / "server.log", {"LAYERLAB_AUTH_TOKENS": SHARED_TOKEN,
                                                      "LAYERLAB_JOBS__PREWARM": "false"})
    room = Classroom(server, tokens, {})
    try:
        for who in ("alice", "bob"):
            with room.client(who) as c:
                spec = mlp(n_samples=100, epochs=1)
                spec["name"] = f"{who}'s secret run"
                room.jobs[who] = submit(c, spec)["id"]
        for who, job_id in room.jobs.items():
            with room.client(who) as c:
                wait_for(c, job_id, {"succeeded"}, timeout=120)
        yield room
    finally:
        server.stop()


def routes(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in openapi["paths"].items() for method in ops
            if method in ("get", "post", "put", "patch", "delete")]


def concrete(path: str, job_id: str) -> str:
    return path.replace("{job_id}", job_id).replace("{name}", "spec.json")


def test_every_api_route_but_health_needs_a_valid_token(room: Classroom) -> None:
    with room.client("alice") as c:
        openapi = c.get("/openapi.json").json()
    job = room.jobs["alice"]
    checked = 0
    bad_headers = [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YWxpY2U6eA=="},
                   {"Authorization": "Bearer " + room.tokens["alice"][:-1]}, {"Cookie": "layerlab_token=nope"}]
    with room.server.client() as c:
        for method, path in routes(openapi):
            if not path.startswith("/api/"):
                continue
            for headers in bad_headers:
                r = c.request(method, concrete(path, job), headers=headers, json={} if method == "POST" else None)
                if path == "/api/health":
                    assert r.status_code == 200
                else:
                    assert r.status_code == 401, (method, path, headers, r.text)
                    assert r.json()["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
                    assert "secret run" not in r.text
                checked += 1
    assert checked >= 5 * 9, "the OpenAPI document lists the job routes"
    with pytest.raises(InvalidStatus) as info:
        with connect(f"ws://127.0.0.1:{room.server.port}/api/jobs/{job}/stream", open_timeout=10):
            pass
    assert info.value.response.status_code in (401, 403)


def test_another_users_job_is_as_absent_as_a_missing_one(room: Classroom) -> None:
    job, missing = room.jobs["alice"], "0" * 32
    for who in ("bob", "dave", "shared"):
        with room.client(who) as c:
            for method, path in [("GET", "/api/jobs/{}"), ("POST", "/api/jobs/{}/cancel"),
                                 ("GET", "/api/jobs/{}/metrics"),
                                 *[("GET", "/api/jobs/{}/artifacts/" + n) for n in ARTIFACT_NAMES]]:
                theirs = c.request(method, path.format(job))
                absent = c.request(method, path.format(missing))
                assert theirs.status_code == absent.status_code == 404, (who, method, path, theirs.text)
                assert theirs.json()["error"] == absent.json()["error"] == "not_found"
                assert "secret run" not in theirs.text and "loss" not in theirs.text
            listed = c.get("/api/jobs").json()
            assert job not in {j["id"] for j in listed["jobs"]}
        for job_id in (job, missing):
            with pytest.raises(InvalidStatus) as info:
                with connect(f"ws://127.0.0.1:{room.server.port}/api/jobs/{job_id}/stream",
                             additional_headers={"Authorization": f"Bearer {room.tokens[who]}"}, open_timeout=10):
                    pass
            assert info.value.response.status_code == 404
    with room.client("alice") as c:  # the owner still has it all
        assert c.get(f"/api/jobs/{job}").json()["name"] == "alice's secret run"
        assert c.get(f"/api/jobs/{job}/artifacts/weights.safetensors").status_code == 200
        assert [j["id"] for j in c.get("/api/jobs").json()["jobs"]] == [job]


def test_a_teacher_sees_the_jobs_of_their_class(room: Classroom) -> None:
    with room.client("carol") as c:
        listed = {j["id"] for j in c.get("/api/jobs").json()["jobs"]}
        assert {room.jobs["alice"], room.jobs["bob"]} <= listed
        for who in ("alice", "bob"):
            job = room.jobs[who]
            assert c.get(f"/api/jobs/{job}").json()["name"] == f"{who}'s secret run"
            assert c.get(f"/api/jobs/{job}/metrics").json()["events"]
            assert c.get(f"/api/jobs/{job}/artifacts/spec.json").status_code == 200
        headers = {"Authorization": f"Bearer {room.tokens['carol']}"}
        with connect(f"ws://127.0.0.1:{room.server.port}/api/jobs/{room.jobs['alice']}/stream",
                     additional_headers=headers, open_timeout=10) as ws:
            frames = [json.loads(m) for m in ws if isinstance(m, str)]
        assert frames[-1]["type"] == "status" and frames[-1]["status"] == "succeeded"
    with room.client("dave") as c:  # a teacher of another class sees none of it
        assert c.get("/api/jobs").json()["jobs"] == []
    with room.client("alice") as c:  # students see only their own
        assert {j["id"] for j in c.get("/api/jobs").json()["jobs"]} == {room.jobs["alice"]}


def test_a_teacher_can_stop_a_students_job_and_the_job_stays_the_students(room: Classroom) -> None:
    with room.client("bob") as c:
        job = submit(c, long_job())["id"]
    with room.client("carol") as c:
        assert c.post(f"/api/jobs/{job}/cancel").status_code == 202
        wait_for(c, job, {"cancelled"}, timeout=60)
    with room.client("bob") as c:
        assert c.get(f"/api/jobs/{job}").json()["status"] == "cancelled"
    with room.client("dave") as c:
        assert c.post(f"/api/jobs/{job}/cancel").status_code == 404


def test_accounts_change_on_a_running_server(room: Classroom) -> None:
    data = room.server.data_dir
    erin = add_user(data, "erin")
    with room.server.client(headers={"Authorization": f"Bearer {erin}"}) as c:
        assert c.get("/api/jobs").status_code == 200
    code, new = cli("users", "token", "erin", "--data-dir", str(data))
    assert code == 0 and new.strip() != erin
    with room.server.client() as c:
        assert c.get("/api/jobs", headers={"Authorization": f"Bearer {erin}"}).status_code == 401
        assert c.get("/api/jobs", headers={"Authorization": f"Bearer {new.strip()}"}).status_code == 200
        assert cli("users", "remove", "erin", "--data-dir", str(data))[0] == 0
        assert c.get("/api/jobs", headers={"Authorization": f"Bearer {new.strip()}"}).status_code == 401


def test_the_page_login_with_a_users_token_sets_the_cookie(room: Classroom) -> None:
    with room.server.client() as c:
        r = c.get("/docs", params={"token": room.tokens["alice"]}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/docs"
        assert "HttpOnly" in r.headers["set-cookie"]
        jobs = c.get("/api/jobs").json()["jobs"]  # the client kept the cookie: it is alice now
        assert [j["id"] for j in jobs] == [room.jobs["alice"]]


def test_anonymous_loopback_use_ends_with_the_first_account(make_client: Any, data_dir: Path) -> None:
    client = make_client()
    assert client.get("/api/jobs").status_code == 200
    token = add_user(data_dir, "frank")
    r = client.get("/api/jobs")
    assert r.status_code == 401 and "token" in r.json()["message"]
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # With accounts the Host check gives way to tokens (a rebinding page has no token): any Host is served.
    assert client.get("/api/jobs", headers={"Authorization": f"Bearer {token}", "Host": "lab.example.edu"}
                      ).status_code == 200
    assert cli("users", "remove", "frank", "--data-dir", str(data_dir))[0] == 0
    assert client.get("/api/jobs").status_code == 200


def test_a_public_bind_needs_a_token_even_without_accounts(make_client: Any) -> None:
    """An app built for 0.0.0.0 (e.g. run by another ASGI server) never serves the API anonymously."""
    client = make_client(host="0.0.0.0")
    assert client.get("/api/jobs").status_code == 401
    assert client.get("/api/health").status_code == 200
