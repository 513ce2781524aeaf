"""Probe settings: what a job streams besides its scalar metrics, and how often."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProbeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    metrics_every: int = Field(default=1, ge=1, le=1000, description="emit train metrics every N steps")
    eval_every: int = Field(default=0, ge=0, le=100_000, description="test-set evaluation every N steps (0: per epoch)")
    heavy_hz: float = Field(default=10.0, gt=0, le=10.0, description="max heavy frames per second per job")
    nodes: list[str] = Field(default_factory=list, max_length=16, description="node ids to snapshot (default: auto)")
