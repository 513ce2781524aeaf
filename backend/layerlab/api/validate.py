"""POST /api/validate: check a whole job spec, or `{"model": ...}` alone, without training anything.

Answers 200 with per-node output shapes, parameters and FLOPs, or 422 with the error body naming the
node, field or cap (see api/errors.py). The checking itself is `catalogue.validate.validate_request`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool

from ..catalogue.spec import JobSpec, ModelSpec
from ..catalogue.validate import validate_request
from .body import read_json_object
from .errors import ERROR_RESPONSES

router = APIRouter(tags=["validate"])


class ModelOnly(BaseModel):
    """A model alone: checked for topology, params, shapes and caps, without data or training settings."""

    model_config = ConfigDict(extra="forbid")
    model: ModelSpec


class NodeReport(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    type: str
    output_shape: list[int]
    params: int
    flops: int


class ValidationReport(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool
    nodes: list[NodeReport]
    params: int
    flops: int


SPEC_BODY_SCHEMA = {
    "anyOf": [{"$ref": "#/components/schemas/JobSpec"}, {"$ref": "#/components/schemas/ModelOnly"}],
}


def openapi_components() -> dict[str, Any]:
    """Schemas that SPEC_BODY_SCHEMA refers to, for the app's OpenAPI document (also used by api/jobs)."""
    _, top = models_json_schema(
        [(JobSpec, "validation"), (ModelOnly, "validation")], ref_template="#/components/schemas/{model}"
    )
    return top.get("$defs", {})


@router.post(
    "/api/validate",
    summary="Check a job spec or a model: shapes, parameters, FLOPs, caps",
    responses={200: {"model": ValidationReport, "description": "the spec is valid"}, **ERROR_RESPONSES},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": SPEC_BODY_SCHEMA}}}},
)
async def validate(request: Request) -> dict[str, Any]:
    limits = request.app.state.settings.limits
    raw = await read_json_object(request, max_depth=limits.max_json_depth)
    report = await run_in_threadpool(validate_request, raw, limits)
    return report.to_json()
