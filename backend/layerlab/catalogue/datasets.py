"""The data part of a job spec and the signature it yields. Generation lives in training/data.py.

`DataSpec` is closed and strict. Knobs a data set does not use are refused (naming the knob), so
a spec never silently means something else than it says; knobs left out take the set's default.
`signature(spec)` states field shapes, target, task, vocabulary and split sizes without
generating any data, so validation stays cheap.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .dataset_info import DatasetInfo, DatasetSignature, Knobs, Task
from .dataset_list import DATASETS

DatasetName = Literal[
    "circle", "xor", "gauss", "spiral", "moons", "plane",
    "digits", "mnist5k", "iris", "wine", "breast_cancer", "diabetes",
    "copy", "reverse", "sort", "addition", "date_format",
    "chars", "sentiment", "long_dependency",
]
if set(get_args(DatasetName)) != set(DATASETS):
    raise RuntimeError("DatasetName and DATASETS disagree")

KNOB_NAMES = ("n_samples", "noise", "seq_len", "min_len", "vocab_size", "digits", "label_noise", "labels_per_class",
              "image_size", "border", "flatten")
MAX_SEQUENCE_LEN = 512
# Values in one generated data set (all fields and the target, every sample): bounds its memory (≤ 256 MiB).
MAX_VALUES = 32_000_000

__all__ = ["DATASETS", "DataSpec", "DatasetInfo", "DatasetSignature", "Task", "catalogue_json", "knob_values",
           "signature", "split_sizes"]


class DataSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    dataset: DatasetName = "spiral"
    n_samples: int | None = Field(default=None, ge=20, le=60_000,
                                  description="samples before the split; default and maximum depend on the data set")
    noise: float | None = Field(default=None, ge=0, le=1, description="2-D sets: how much the points scatter")
    test_fraction: float = Field(default=0.2, gt=0, lt=0.9, description="share of samples held out for testing")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="same seed and knobs give identical tensors")
    seq_len: int | None = Field(default=None, ge=2, le=MAX_SEQUENCE_LEN, description="longest sequence, in tokens")
    min_len: int | None = Field(default=None, ge=1, le=MAX_SEQUENCE_LEN,
                                description="shortest sequence (copy, reverse, sort)")
    vocab_size: int | None = Field(default=None, ge=2, le=62,
                                   description="symbols of copy/reverse/sort; distractor tokens of long_dependency")
    digits: int | None = Field(default=None, ge=1, le=9, description="addition: most digits per operand")
    label_noise: float | None = Field(default=None, ge=0, lt=1,
                                      description="share of training labels replaced by a wrong class")
    labels_per_class: int | None = Field(default=None, ge=1, le=1000,
                                         description="keep only this many training samples per class")
    image_size: int | None = Field(default=None, ge=4, le=64, description="resize images to size×size (bilinear)")
    border: int | None = Field(default=None, ge=0, le=16,
                               description="black pixels added on each side after resizing (MNIST digits sit in a "
                                           "20×20 box inside 28×28: image_size 20 + border 4 matches them)")
    flatten: bool | None = Field(default=None, description="images as vectors [H·W] instead of [1,H,W]")

    @field_validator(*KNOB_NAMES)
    @classmethod
    def _knob_applies(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.data.get("dataset")
        if value is None or name is None:
            return value
        known = DATASETS[name].knobs
        if info.field_name not in known:
            raise ValueError(f"{info.field_name} does not apply to data set {name!r} "
                             f"(its knobs: {', '.join(known) or 'none'}, test_fraction, seed)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DataSpec:
        problem = _problem(DATASETS[self.dataset], knob_values(self))
        if problem is not None:
            raise ValueError(problem)
        return self


def knob_values(spec: DataSpec) -> dict[str, Any]:
    """Every knob the data set uses, with its default where the spec leaves it out."""
    info = DATASETS[spec.dataset]
    values: dict[str, Any] = {"test_fraction": spec.test_fraction, "seed": spec.seed}
    for name, default in info.knobs.items():
        given = getattr(spec, name)
        values[name] = default if given is None else given
    return values


def split_sizes(n: int, test_fraction: float) -> tuple[int, int]:
    """(train, test) counts: round(n·test_fraction) test samples, at least one in each split."""
    n_test = min(max(round(n * test_fraction), 1), n - 1)
    return n - n_test, n_test


def pool_size(info: DatasetInfo, knobs: Knobs) -> int:
    n = knobs.get("n_samples")
    if n is None:
        if info.available is None:
            raise ValueError(f"data set {info.name!r} declares neither a default n_samples nor a size")
        return info.available
    return n


def signature(spec: DataSpec) -> DatasetSignature:
    info = DATASETS[spec.dataset]
    knobs = knob_values(spec)
    layout = info.layout(knobs)
    n_train, n_test = split_sizes(pool_size(info, knobs), spec.test_fraction)
    if knobs.get("labels_per_class") is not None:
        n_train = knobs["labels_per_class"] * (layout.num_classes or 0)
    return DatasetSignature(layout.fields, layout.target, info.task, layout.num_classes, layout.pad_index,
                            layout.vocab, layout.class_names, n_train, n_test)


def _problem(info: DatasetInfo, k: Knobs) -> str | None:
    """The first cross-knob inconsistency, worded for the user; None when the spec is sound."""
    if k.get("min_len") is not None and k["min_len"] > k["seq_len"]:
        return f"min_len ({k['min_len']}) must not exceed seq_len ({k['seq_len']})"
    n = pool_size(info, k)
    if info.available is not None and n > info.available:
        return f"n_samples ({n}) exceeds the {info.available} samples of data set {info.name!r}"
    if info.universe is not None and n > (universe := info.universe(k)) // 2:
        return (f"n_samples ({n}) exceeds half of the {universe} distinct samples {info.name!r} can produce "
                "with these knobs (samples are unique; drawing more would take too long)")
    if info.check is not None and (message := info.check(k)) is not None:
        return message
    layout = info.layout(k)
    for name, shape in [*layout.fields.items(), ("target", layout.target)]:
        if shape.dtype == "long" and shape.dims and shape.dims[0] > MAX_SEQUENCE_LEN:
            return f"{name} would be {shape.dims[0]} tokens long; sequences are capped at {MAX_SEQUENCE_LEN}"
    values = n * sum(s.numel() for s in [*layout.fields.values(), layout.target])
    if values > MAX_VALUES:
        return (f"n_samples ({n}) × {values // n} values per sample = {values:,} values exceeds the "
                f"{MAX_VALUES:,} a data set may hold; lower n_samples or the sample size")
    per_class = k.get("labels_per_class")
    if per_class is not None:
        n_train, _ = split_sizes(n, k["test_fraction"])
        classes = layout.num_classes or 0
        if per_class * classes > n_train:
            return (f"labels_per_class ({per_class}) × {classes} classes exceeds the {n_train} training samples "
                    f"of {info.name!r}")
    return None


def catalogue_json() -> dict[str, Any]:
    """The data-set part of GET /api/catalogue: the DataSpec schema and each set with its default signature."""
    return {
        "schema": DataSpec.model_json_schema(),
        "datasets": [info.to_json() | {"signature": signature(DataSpec(dataset=name)).to_json()}
                     for name, info in DATASETS.items()],
    }
