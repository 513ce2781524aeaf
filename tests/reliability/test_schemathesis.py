"""Schemathesis against the OpenAPI document of a real server (reliability plan R10): for every operation,
up to 50 generated requests (valid and invalid bodies, parameters, headers), with a user's token; none
may answer 5xx. The server runs with tiny training caps so a generated spec that is valid trains for a
moment at most. Afterwards the server is healthy and every job it accepted has finished."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from jobkit import TERMINAL, mlp, submit, wait_for
from serverkit import LiveServer, start_server

LOW_CAPS = {
    "LAYERLAB_LIMITS__MAX_EPOCHS": "2",
    "LAYERLAB_LIMITS__MAX_TOTAL_STEPS": "40",
    "LAYERLAB_LIMITS__MAX_PARAMS": "50000",
    "LAYERLAB_LIMITS__MAX_FLOPS_PER_JOB": "1e9",
    "LAYERLAB_LIMITS__MAX_WALL_SECONDS": "20",
    "LAYERLAB_LIMITS__QUEUE_CAP": "6",
    "LAYERLAB_JOBS__CPU_SLOTS": "1",
    "LAYERLAB_JOBS__PREWARM": "false",
}
EXAMPLES_PER_OPERATION = 50


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    from layerlab.jobs.users import UserStore

    root = tmp_path_factory.mktemp("schemathesis")
    with UserStore(root / "data" / "layerlab.sqlite3") as users:
        _, token = users.add("fuzzer")
    server = start_server(root / "data", root / "server.log", LOW_CAPS)
    yield server, token
    server.stop()


def finished_job(server: LiveServer, token: str) -> str:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        job_id = submit(c, mlp(n_samples=64, epochs=1))["id"]
        wait_for(c, job_id, {"succeeded"}, timeout=120)
    return job_id


def test_no_server_errors(fuzzed_server: tuple[LiveServer, str]) -> None:
    """Each operation gets up to 50 cases, valid and invalid (derandomized: the same cases every run)."""
    server, token = fuzzed_server
    job_id = finished_job(server, token)
    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    answers: defaultdict[str, Counter[int]] = defaultdict(Counter)
    operations = 0
    started = time.monotonic()
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1
        kinds = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
        if "{job_id}" in operation.path:  # also the user's real, finished job (else every answer is a 404)
            kinds.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"job_id": job_id}))
        if (operation.method.upper(), operation.path) in (("POST", "/api/jobs"), ("POST", "/api/validate")):
            kinds.append(operation.as_strategy(GenerationMode.POSITIVE, body=mlp(n_samples=64, epochs=1)))
        cases = st.one_of(*kinds)

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)
            answers[case.operation.label][response.status_code] += 1

        try:
            fuzz()
        except Exception as exc:  # the operation's (shrunk) failing case; every operation is still fuzzed
            failures.append(f"{operation.label}: {exc}")
    elapsed = time.monotonic() - started
    assert operations >= 9, "the OpenAPI document lists every route"
    assert not failures, "\n\n".join(failures)
    # Not vacuous: the token worked everywhere, and valid requests reached the job service.
    assert not [label for label, codes in answers.items() if 401 in codes or 403 in codes], answers
    for label in ("POST /api/jobs", "GET /api/jobs", "GET /api/jobs/{job_id}", "GET /api/jobs/{job_id}/metrics"):
        assert any(200 <= code < 300 for code in answers[label]), (label, answers[label])
    assert 422 in answers["POST /api/jobs"] and 404 in answers["GET /api/jobs/{job_id}"]
    assert elapsed < 120, f"fuzzing took {elapsed:.0f} s"


def test_the_server_is_healthy_and_every_accepted_job_finishes(fuzzed_server: tuple[LiveServer, str]) -> None:
    server, token = fuzzed_server
    assert server.process.poll() is None, "the server died under fuzzing"
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        assert c.get("/api/health").status_code == 200
        deadline = time.monotonic() + 60
        while True:
            jobs = c.get("/api/jobs", params={"limit": 200}).json()["jobs"]
            if all(j["status"] in TERMINAL for j in jobs) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert all(j["status"] in TERMINAL for j in jobs), [(j["id"], j["status"]) for j in jobs]
    assert not [j for j in jobs if j["status"] == "failed" and "worker_died" in (j["reason"] or "")]
    assert "Traceback" not in server.log.read_text(errors="replace")
