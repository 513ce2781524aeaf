"""POST /api/datasets/preview: the data-set picker's signature and samples."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from layerlab.catalogue.datasets import DATASETS


@pytest.mark.parametrize("name", ["spiral", "digits", "reverse", "sentiment", "iris"])
def test_preview_has_signature_and_bounded_samples(client: TestClient, name: str) -> None:
    r = client.post("/api/datasets/preview", json={"dataset": name})
    assert r.status_code == 200, r.text
    body = r.json()
    sig, preview = body["signature"], body["preview"]
    assert sig["fields"] and all("shape" in f and "dtype" in f for f in sig["fields"].values())
    assert preview["dataset"] == name
    kind = preview["kind"]
    samples = {"points": "points", "images": "images", "pairs": "pairs", "texts": "texts", "table": "rows"}[kind]
    assert 0 < len(preview[samples]) <= 300


def test_preview_of_two_d_set_is_points_in_its_domain(client: TestClient) -> None:
    body = client.post("/api/datasets/preview", json={"dataset": "circle", "noise": 0.1}).json()
    assert body["signature"]["fields"]["x"]["shape"] == [2]
    x0, x1, y0, y1 = body["preview"]["domain"]
    for x, y, label in body["preview"]["points"]:
        assert label in (0, 1)
        assert x0 - 1 <= x <= x1 + 1 and y0 - 1 <= y <= y1 + 1


def test_every_catalogue_data_set_previews(client: TestClient) -> None:
    for name in DATASETS:
        assert client.post("/api/datasets/preview", json={"dataset": name}).status_code == 200, name


@pytest.mark.parametrize("body", [{"dataset": "nope"}, {"dataset": "spiral", "noise": "x"}, {"bogus": 1}, []])
def test_bad_preview_requests_are_422(client: TestClient, body: object) -> None:
    r = client.post("/api/datasets/preview", json=body)
    assert r.status_code == 422
    assert r.json()["message"]
