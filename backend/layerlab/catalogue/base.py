"""The layer registry: each layer kind is declared once, here, and used by the API, builder and UI.

A layer kind couples
  * a pydantic params model (closed: `extra="forbid"`, bounded fields),
  * a shape rule   (params, input shapes) -> output shape, raising ShapeMismatch,
  * a construct rule (params, input shapes) -> Construct (module class + kwargs), which both
    `training/build.py` (to instantiate) and `training/export_py.py` (to print model.py) use,
  * a cost rule (params, input shapes, output shape) -> Cost (closed-form parameters and FLOPs),
  * en/ja title and description, the chapter section it teaches and its palette group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from .shapes import TensorShape


class LayerParams(BaseModel):
    """Base of every layer's params: unknown keys are refused, nothing is coerced from strings."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


P = TypeVar("P", bound=LayerParams)


@dataclass(frozen=True)
class Construct:
    """How to instantiate a node's module: a class (torch.nn or training/modules.py) and kwargs.

    Kwargs hold only JSON-like literals (int, float, bool, str, lists/tuples of them) so that
    model.py export can print them with repr().
    """

    factory: type
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cost:
    """Closed-form cost of one node per sample: trainable parameters and forward FLOPs."""

    params: int
    flops: int


@dataclass(frozen=True)
class Text:
    en: str
    ja: str

    def to_json(self) -> dict[str, str]:
        return {"en": self.en, "ja": self.ja}


@dataclass(frozen=True)
class LayerKind(Generic[P]):
    type: str
    params_model: type[P]
    title: Text
    description: Text
    section: str
    group: str
    shape: Callable[[P, list[TensorShape]], TensorShape]
    construct: Callable[[P, list[TensorShape]], Construct | None]
    cost: Callable[[P, list[TensorShape], TensorShape], Cost]
    min_inputs: int = 1
    max_inputs: int | None = 1
    # Example upstream shapes used by the contract test and the palette preview.
    example_inputs: tuple[TensorShape, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title.to_json(),
            "description": self.description.to_json(),
            "section": self.section,
            "group": self.group,
            "min_inputs": self.min_inputs,
            "max_inputs": self.max_inputs,
            "params_schema": self.params_model.model_json_schema(),
            "defaults": self.params_model().model_dump(mode="json") if _has_defaults(self.params_model) else None,
        }


def _has_defaults(model: type[BaseModel]) -> bool:
    return all(not f.is_required() for f in model.model_fields.values())


LAYERS: dict[str, LayerKind[Any]] = {}


def register_layer(kind: LayerKind[Any]) -> LayerKind[Any]:
    """Add a layer kind to the catalogue; a duplicate wire name is a programming error."""
    if kind.type in LAYERS:
        raise ValueError(f"layer type {kind.type!r} registered twice")
    LAYERS[kind.type] = kind
    return kind
