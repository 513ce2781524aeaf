"""GET /api/health and GET /api/catalogue: what the frontend and scripts build on."""

from __future__ import annotations

import re
import signal
from typing import Any, get_args

import pytest
import torch
from fastapi.testclient import TestClient

from layerlab.catalogue import layers as _layers  # noqa: F401
from layerlab.catalogue.base import LAYERS, LayerKind
from layerlab.catalogue.datasets import DatasetName
from layerlab.catalogue.limits import Limits
from layerlab.catalogue.training import InitScheme, LossName, OptimizerName, ScheduleName

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_health_reports_executor_and_devices(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["executor"] == "local"
    cpu = body["devices"][0]
    assert cpu["kind"] == "cpu" and cpu["cores"] >= 1 and cpu["memory_bytes"] > 0
    cuda = [d for d in body["devices"] if d["kind"] == "cuda"]
    assert len(cuda) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    for d in cuda:
        assert d["name"] and d["memory_bytes"] > 0


def test_health_names_the_configured_executor(make_client: Any) -> None:
    assert make_client(executor="ray").get("/api/health").json()["executor"] == "ray"


@pytest.fixture
def catalogue(client: TestClient) -> dict[str, Any]:
    r = client.get("/api/catalogue")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def test_catalogue_has_every_section(catalogue: dict[str, Any]) -> None:
    for key in ("version", "layers", "datasets", "optimizers", "losses", "schedules", "init_schemes", "presets",
                "labs", "limits"):
        assert key in catalogue, key


def test_catalogue_lists_every_registered_layer_once(catalogue: dict[str, Any]) -> None:
    served = [layer["type"] for layer in catalogue["layers"]]
    assert sorted(served) == sorted(LAYERS) and len(set(served)) == len(served)
    # DESIGN §3: these wire names must exist and hold.
    for required in ("input", "dense", "activation", "dropout", "flatten", "reshape", "conv1d", "conv2d",
                     "fixed_filter2d", "maxpool2d", "avgpool2d", "batchnorm", "layernorm", "add", "concat"):
        assert required in served, required


@pytest.mark.parametrize("layer_type", sorted(LAYERS))
def test_each_layer_has_schema_defaults_and_bilingual_text(catalogue: dict[str, Any], layer_type: str) -> None:
    layer = next(item for item in catalogue["layers"] if item["type"] == layer_type)
    kind: LayerKind[Any] = LAYERS[layer_type]
    schema = layer["params_schema"]
    assert schema["type"] == "object" and schema.get("additionalProperties") is False
    assert set(schema.get("properties", {})) == set(kind.params_model.model_fields)
    assert isinstance(layer["defaults"], dict), f"{layer_type} needs defaults so the palette can drop it in"
    assert kind.params_model.model_validate(layer["defaults"]).model_dump(mode="json") == layer["defaults"]
    for field in ("title", "description"):
        assert layer[field]["en"].strip(), f"{layer_type} {field}.en"
        assert JAPANESE.search(layer[field]["ja"]) or layer[field]["ja"] == layer[field]["en"], f"{layer_type} ja"
    assert JAPANESE.search(layer["description"]["ja"]), f"{layer_type} description.ja is not Japanese"
    assert layer["section"].startswith("9") and layer["group"]
    assert layer["min_inputs"] >= 0
    assert layer["max_inputs"] is None or layer["max_inputs"] >= layer["min_inputs"]


def default_spec(kind: LayerKind[Any]) -> dict[str, Any]:
    """The layer with its defaults, fed by input nodes of its declared example shapes."""
    if kind.max_inputs == 0:
        return {"model": {"nodes": [{"id": "node", "type": kind.type, "params": {}}]}}
    assert kind.example_inputs, f"{kind.type} declares no example_inputs"
    nodes: list[dict[str, Any]] = [
        {"id": f"in{i}", "type": "input", "params": {"shape": list(shape.dims), "dtype": shape.dtype}}
        for i, shape in enumerate(kind.example_inputs)
    ]
    nodes.append({"id": "node", "type": kind.type, "params": {}, "inputs": [n["id"] for n in nodes]})
    return {"model": {"nodes": nodes}}


@pytest.mark.parametrize("layer_type", sorted(LAYERS))
def test_each_layer_validates_with_its_defaults(client: TestClient, layer_type: str) -> None:
    kind = LAYERS[layer_type]
    r = client.post("/api/validate", json=default_spec(kind))
    assert r.status_code == 200, r.text
    node = next(n for n in r.json()["nodes"] if n["id"] == "node")
    params = kind.params_model()
    expected = kind.shape(params, list(kind.example_inputs))
    assert node["output_shape"] == list(expected.dims)
    assert node["type"] == layer_type


def test_training_choices_match_the_spec_names(catalogue: dict[str, Any]) -> None:
    for key, literal in (("optimizers", OptimizerName), ("losses", LossName), ("schedules", ScheduleName),
                         ("init_schemes", InitScheme)):
        names = [item["name"] for item in catalogue[key]]
        assert names == list(get_args(literal)), key
        for item in catalogue[key]:
            assert item["title"]["en"] and item["title"]["ja"] and JAPANESE.search(item["description"]["ja"])


def test_datasets_cover_every_name(catalogue: dict[str, Any]) -> None:
    assert sorted(d["name"] for d in catalogue["datasets"]) == sorted(get_args(DatasetName))


def test_limits_are_this_deployments(make_client: Any) -> None:
    served = make_client(limits=Limits(max_nodes=9)).get("/api/catalogue").json()["limits"]
    assert served["max_nodes"] == 9 and served["max_body_bytes"] == Limits().max_body_bytes


def test_catalogue_etag_allows_revalidation(client: TestClient) -> None:
    first = client.get("/api/catalogue")
    etag = first.headers["etag"]
    again = client.get("/api/catalogue", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/api/catalogue", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_openapi_documents_routes_bodies_and_the_error_body(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path in ("/api/health", "/api/catalogue", "/api/validate"):
        assert path in doc["paths"], path
    validate = doc["paths"]["/api/validate"]["post"]
    body_schema = validate["requestBody"]["content"]["application/json"]["schema"]
    refs = {option["$ref"].rsplit("/", 1)[1] for option in body_schema["anyOf"]}
    schemas = doc["components"]["schemas"]
    assert refs <= set(schemas) and "NodeSpec" in schemas
    assert validate["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert set(schemas["ErrorBody"]["properties"]) == {"error", "message", "node_id", "loc", "cap"}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_real_server_answers_and_stops_cleanly(live_server: Any) -> None:
    """`python -m layerlab serve` in its own session: healthy over TCP, then gone after SIGTERM."""
    with live_server.client() as http:
        assert http.get("/api/health").json()["status"] == "ok"
        assert http.post("/api/validate", json={"model": {"nodes": [{"id": "x", "type": "input"}]}}).status_code == 200
        assert http.get("/").headers.get("content-security-policy", "").startswith("default-src 'self'")
    assert live_server.data_dir.is_dir()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status still says why it stopped.
    assert live_server.stop() in (0, -signal.SIGTERM)
    log = live_server.log.read_text()
    assert "Uvicorn running on http://127.0.0.1" in log and "Finished server process" in log
    assert "Traceback" not in log
