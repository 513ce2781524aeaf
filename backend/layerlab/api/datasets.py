"""POST /api/datasets/preview: a data set's signature and a few samples, for the browser's data-set picker.

The playground draws the samples (points for 2-D sets, thumbnails for images, pairs for sequences) and uses
the signature to size the network's input layers when the user switches data sets. Previews are small and
deterministic per spec, so the last few are cached.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from ..catalogue.datasets import DataSpec, signature
from ..training.data_preview import preview
from .errors import ERROR_RESPONSES, ApiError

router = APIRouter(tags=["datasets"])


@lru_cache(maxsize=32)
def _preview_json(spec_json: str) -> dict[str, Any]:
    spec = DataSpec.model_validate_json(spec_json)
    return {"signature": signature(spec).to_json(), "preview": preview(spec)}


@router.post(
    "/api/datasets/preview",
    summary="A data set's signature (field shapes, task, classes) and a few samples to draw",
    responses=ERROR_RESPONSES,
)
async def dataset_preview(spec: DataSpec) -> dict[str, Any]:
    key = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
    try:
        return await run_in_threadpool(_preview_json, key)
    except ValueError as exc:  # a knob combination the generator refuses, worded for the user
        raise ApiError(422, "invalid_data", str(exc), loc=["data"]) from exc
