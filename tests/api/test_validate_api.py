"""POST /api/validate over HTTP: good specs answer shapes and costs; every kind of bad body answers 4xx with
the one error body, never a 500. (The invalid-spec corpus lives with catalogue/validate.py's own tests.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ERROR_KEYS = {"error", "message", "node_id", "loc", "cap"}

MLP = {
    "nodes": [
        {"id": "x", "type": "input", "params": {"shape": [2]}},
        {"id": "h1", "type": "dense", "params": {"units": 16}, "inputs": ["x"]},
        {"id": "act1", "type": "activation", "params": {"fn": "relu"}, "inputs": ["h1"]},
        {"id": "out", "type": "dense", "params": {"units": 2}, "inputs": ["act1"]},
    ]
}
MLP_PARAMS = (2 * 16 + 16) + (16 * 2 + 2)


def assert_error(response: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.text
    return body


def test_model_alone_reports_shapes_params_and_flops(client: TestClient) -> None:
    r = client.post("/api/validate", json={"model": MLP})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["ok"] is True
    assert [(n["id"], n["type"], n["output_shape"]) for n in report["nodes"]] == [
        ("x", "input", [2]), ("h1", "dense", [16]), ("act1", "activation", [16]), ("out", "dense", [2])
    ]
    assert report["params"] == MLP_PARAMS == sum(n["params"] for n in report["nodes"])
    assert report["flops"] >= 2 * (2 * 16 + 16 * 2)


def test_whole_job_spec_validates(client: TestClient) -> None:
    spec = {
        "name": "spiral mlp",
        "model": MLP,
        "data": {"dataset": "spiral", "seed": 1},
        "train": {"epochs": 2, "batch_size": 16, "optimizer": {"name": "sgd", "lr": 0.1}},
    }
    r = client.post("/api/validate", json=spec)
    assert r.status_code == 200, r.text
    assert r.json()["params"] == MLP_PARAMS


def test_bad_layer_param_names_the_node(client: TestClient) -> None:
    model = json.loads(json.dumps(MLP))
    model["nodes"][1]["params"]["units"] = 0
    body = assert_error(client.post("/api/validate", json={"model": model}), 422)
    assert body["node_id"] == "h1"
    assert body["loc"][:3] == ["model", "nodes", 1]
    assert "h1" in body["message"] and "units" in body["message"]


def test_shape_mismatch_names_the_node(client: TestClient) -> None:
    model = {"nodes": [
        {"id": "x", "type": "input", "params": {"shape": [2]}},
        {"id": "h", "type": "dense", "params": {"units": 4}, "inputs": ["x"]},
        {"id": "c", "type": "conv2d", "params": {}, "inputs": ["h"]},
    ]}
    r = client.post("/api/validate", json={"model": model})
    body = assert_error(r, 422)
    assert body["node_id"] == "c" and "vector [4]" in body["message"]


def test_cap_exceeded_names_the_cap(make_client: Any) -> None:
    from layerlab.catalogue.limits import Limits

    client = make_client(limits=Limits(max_nodes=2))
    body = assert_error(client.post("/api/validate", json={"model": MLP}), 422)
    assert body["cap"] == "max_nodes"
    assert body["error"] == "cap_exceeded"


def post_raw(client: TestClient, content: bytes, content_type: str = "application/json", **kw: Any) -> Any:
    return client.post("/api/validate", content=content, headers={"content-type": content_type}, **kw)


def test_body_over_256_kib_is_413_naming_the_cap(client: TestClient) -> None:
    padding = "x" * (256 * 1024)
    body = assert_error(post_raw(client, json.dumps({"model": MLP, "name": padding}).encode()), 413)
    assert body["cap"] == "max_body_bytes" and "262144" in body["message"]


def test_chunked_body_over_the_cap_is_413(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(300):
            yield b" " * 1024

    body = assert_error(client.post("/api/validate", content=chunks()), 413)
    assert body["cap"] == "max_body_bytes"


def test_chunked_body_under_the_cap_is_read(client: TestClient) -> None:
    payload = json.dumps({"model": MLP}).encode()

    def chunks() -> Any:
        for i in range(0, len(payload), 7):
            yield payload[i : i + 7]

    assert client.post("/api/validate", content=chunks()).status_code == 200


def nested(depth: int) -> bytes:
    return b'{"model":' + b"[" * depth + b"]" * depth + b"}"


BAD_BODIES = {
    "empty": b"",
    "whitespace": b"   \n",
    "not json": b"model: [dense]",
    "truncated": b'{"model": {"nodes": [',
    "trailing garbage": b'{"model": {}} extra',
    "top-level array": b"[]",
    "top-level string": b'"spec"',
    "top-level number": b"42",
    "top-level null": b"null",
    "unknown top-level key": json.dumps({"model": MLP, "exploit": 1}).encode(),
    "model is a list": b'{"model": []}',
    "nodes is an object": b'{"model": {"nodes": {}}}',
    "node is a string": b'{"model": {"nodes": ["dense"]}}',
    "unknown node key": json.dumps({"model": {"nodes": [{"id": "x", "type": "input", "evil": True}]}}).encode(),
    "unknown layer type": json.dumps({"model": {"nodes": [{"id": "x", "type": "os.system"}]}}).encode(),
    "deep nesting 10000": nested(10_000),
    "deep nesting 100": nested(100),
    "huge int": b'{"model": {"nodes": [{"id": "x", "type": "input", "params": {"shape": [' + b"9" * 5000 + b"]}}]}}",
    "big int": json.dumps({"model": {"nodes": [{"id": "x", "type": "input", "params": {"shape": [10**30]}}]}}).encode(),
    "huge float": b'{"model": {"nodes": [{"id": "x", "type": "input", "params": {"shape": [1e999]}}]}}',
    "NaN": b'{"model": {"nodes": [{"id": "x", "type": "input", "ui": {"x": NaN}}]}}',
    "Infinity": b'{"model": {"nodes": [{"id": "x", "type": "input", "ui": {"x": Infinity}}]}}',
    "-Infinity": b'{"model": {"nodes": [{"id": "x", "type": "input", "ui": {"x": -Infinity}}]}}',
    "utf-16": json.dumps({"model": MLP}).encode("utf-16"),
    "utf-16-le no bom": json.dumps({"model": MLP}).encode("utf-16-le"),
    "invalid utf-8": b'{"name": "\xff\xfe", "model": {}}',
    "utf-8 bom": b"\xef\xbb\xbf" + json.dumps({"model": MLP}).encode(),
    "lone surrogate": b'{"name": "\\ud800", "model": {"nodes": []}}',
    "lone surrogate node id": b'{"model": {"nodes": [{"id": "\\ud800", "type": "input", "extra": 1}]}}',
    "lone surrogate key": b'{"model": {"nodes": [{"id": "x", "type": "input", "params": {"\\udfff": 1}}]}}',
    "NUL byte": b'{"model"\x00: {}}',
    "duplicate-key bomb": b"{" + b",".join(b'"k%d": 1' % i for i in range(5000)) + b"}",
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_bodies_answer_4xx_with_the_error_body(client: TestClient, name: str) -> None:
    r = post_raw(client, BAD_BODIES[name])
    assert_error(r, (400, 413, 415, 422))


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_other_content_types_are_parsed_the_same_or_refused(client: TestClient, content_type: str) -> None:
    r = post_raw(client, b"a=1&b=2", content_type)
    assert_error(r, (415, 422))


def test_errors_inside_node_fields_map_index_to_node_id(client: TestClient) -> None:
    model = json.loads(json.dumps(MLP))
    model["nodes"][3]["inputs"] = "act1"  # a string where a list belongs
    body = assert_error(client.post("/api/validate", json={"model": model}), 422)
    assert body["node_id"] == "out"
    assert body["loc"][:3] == ["model", "nodes", 3]


def test_error_bodies_survive_text_that_cannot_be_encoded() -> None:
    from layerlab.api.errors import ErrorBody, error_response

    response = error_response(422, ErrorBody(error="invalid_spec", message="node \ud800 bad", node_id="\udfff"))
    body = json.loads(response.body)
    assert body["message"].startswith("node ") and body["node_id"] == "?"


def test_wrong_method_and_unknown_route_use_the_error_body(client: TestClient) -> None:
    assert assert_error(client.get("/api/validate"), 405)["error"] == "method_not_allowed"
    assert assert_error(client.post("/api/no-such-thing", json={}), 404)["error"] == "not_found"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
NODE = st.fixed_dictionaries(
    {"id": st.sampled_from(["x", "h", "out", "Bad-Id", ""]), "type": st.sampled_from(["input", "dense", "x"])},
    optional={"params": JSON_VALUES, "inputs": JSON_VALUES, "ui": JSON_VALUES},
)
SPECS = st.fixed_dictionaries(
    {"model": st.fixed_dictionaries({"nodes": st.lists(NODE, max_size=4)}, optional={"outputs": JSON_VALUES})},
    optional={"data": JSON_VALUES, "train": JSON_VALUES, "probes": JSON_VALUES, "name": JSON_VALUES},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON_VALUES | SPECS)
def test_fuzzed_bodies_never_answer_500(client: TestClient, body: Any) -> None:
    r = client.post("/api/validate", json=body)
    if r.status_code != 200:
        assert_error(r, (400, 413, 422))
