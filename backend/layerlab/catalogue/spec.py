"""The job spec: model DAG + data set + training settings + probe settings.

Specs carry data, never code: every field is closed (extra keys refused) and every name is an enum
or a pattern-checked id, so no user string is ever resolved to a Python object.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .datasets import DataSpec
from .probes import ProbeSpec
from .training import TrainSpec

NODE_ID_PATTERN = r"^[a-z][a-z0-9_]{0,47}$"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NodeSpec(StrictModel):
    """One node of the model DAG. `type` is checked against the catalogue by the validator so the
    error can name the node; `params` are checked by that layer kind's own params model."""

    id: str = Field(pattern=NODE_ID_PATTERN, description="stable lower snake_case id; names the module")
    type: str = Field(max_length=64, description="a layer wire name from GET /api/catalogue")
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[str] = Field(default_factory=list, max_length=16)
    ui: dict[str, float] | None = Field(default=None, description="editor position {x, y}; ignored by training")


class ModelSpec(StrictModel):
    nodes: list[NodeSpec] = Field(min_length=1)
    outputs: list[str] | None = Field(
        default=None, description="output node ids; default: the nodes nothing else consumes"
    )


class JobSpec(StrictModel):
    name: str | None = Field(default=None, max_length=200)
    model: ModelSpec
    data: DataSpec
    train: TrainSpec = Field(default_factory=TrainSpec)
    probes: ProbeSpec = Field(default_factory=ProbeSpec)
