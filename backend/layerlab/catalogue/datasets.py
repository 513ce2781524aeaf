"""Data set declarations (names, knobs, the shapes they produce). Generation lives in training/data.py."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DatasetName = Literal[
    "circle", "xor", "gauss", "spiral", "moons", "plane",
    "digits", "mnist5k", "iris", "wine", "breast_cancer",
    "copy", "reverse", "sort", "addition", "date_format",
    "chars", "sentiment",
]


class DataSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    dataset: DatasetName = "spiral"
    n_samples: int | None = Field(default=None, ge=20, le=60_000, description="default depends on the data set")
    noise: float = Field(default=0.0, ge=0, le=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=0.9)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
