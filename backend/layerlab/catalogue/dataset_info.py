"""What a data set declares: its help text, knobs, and the signature it yields (no data involved)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .base import Text
from .shapes import TensorShape

Task = Literal["classification", "regression", "seq2seq", "sequence_labeling"]
Group = Literal["toy2d", "table", "image", "sequence", "text"]
Knobs = Mapping[str, Any]


@dataclass(frozen=True)
class SampleLayout:
    """What one sample looks like: input fields and target, with the vocabulary or class names."""

    fields: dict[str, TensorShape]
    target: TensorShape
    num_classes: int | None = None
    pad_index: int | None = None
    vocab: tuple[str, ...] | None = None
    class_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DatasetSignature:
    """Everything model validation needs to know about a data set, computed from the spec alone.

    `num_classes` is the class count for classification and the vocabulary size for token
    targets; `pad_index` is the padding id of token fields and the ignore index of sequence losses
    (None when nothing is padded).
    """

    fields: dict[str, TensorShape]
    target: TensorShape
    task: Task
    num_classes: int | None
    pad_index: int | None
    vocab: tuple[str, ...] | None
    class_names: tuple[str, ...] | None
    n_train: int
    n_test: int

    def to_json(self) -> dict[str, Any]:
        return {
            "fields": {name: {"shape": s.to_json(), "dtype": s.dtype} for name, s in self.fields.items()},
            "target": {"shape": self.target.to_json(), "dtype": self.target.dtype},
            "task": self.task,
            "num_classes": self.num_classes,
            "pad_index": self.pad_index,
            "vocab": list(self.vocab) if self.vocab is not None else None,
            "vocab_size": len(self.vocab) if self.vocab is not None else None,
            "class_names": list(self.class_names) if self.class_names is not None else None,
            "n_train": self.n_train,
            "n_test": self.n_test,
        }


@dataclass(frozen=True)
class DatasetInfo:
    """One data set of the catalogue.

    `knobs` maps each knob the set uses to its default (None: off); `available` is the size of a
    shipped set (None for generated ones); `universe` counts the distinct samples a generated set
    can produce (its samples are unique, so test items never repeat training items); `check`
    returns a message when a set-specific constraint on the knobs fails.
    """

    name: str
    title: Text
    description: Text
    section: str
    group: Group
    task: Task
    knobs: Mapping[str, Any]
    layout: Callable[[Knobs], SampleLayout]
    available: int | None = None
    universe: Callable[[Knobs], int] | None = None
    check: Callable[[Knobs], str | None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title.to_json(),
            "description": self.description.to_json(),
            "section": self.section,
            "group": self.group,
            "task": self.task,
            "knobs": dict(self.knobs),
            "available": self.available,
        }
