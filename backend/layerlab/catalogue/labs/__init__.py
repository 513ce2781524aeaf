"""Lab declarations: one ready experiment per claim of the chapter (DESIGN §12).

A lab is declared here once (id, chapter section, en/ja title, the claim, what to look for, the views
the playground draws) and implemented by a runner in `layerlab.labs` registered under the same id.
Declarations live in sibling modules by chapter part; importing this package registers them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..base import Text

LabView = Literal[
    "curves", "summary_plot", "grad_norms", "landscape", "paths", "alignment", "attention_heads",
    "reconstructions", "latent_map", "filters", "feature_maps", "table", "function_fit",
]


class LabParams(BaseModel):
    """What a learner may change when launching a lab: its size and its seed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    scale: Literal["quick", "full"] = Field(default="full", description="'quick' is the reduced size used by tests")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    text: str | None = Field(default=None, max_length=300, description="a sentence, for labs that read one")


@dataclass(frozen=True)
class LabDecl:
    id: str
    section: str
    title: Text
    claim: Text
    look_for: Text
    views: tuple[LabView, ...]
    varies: str = ""  # the setting the lab's variants differ in, e.g. "activation"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "section": self.section, "title": self.title.to_json(), "claim": self.claim.to_json(),
            "look_for": self.look_for.to_json(), "views": list(self.views), "varies": self.varies,
            "params_schema": LabParams.model_json_schema(), **self.extra,
        }


LABS: dict[str, LabDecl] = {}


def register_lab(decl: LabDecl) -> LabDecl:
    if decl.id in LABS:
        raise ValueError(f"lab {decl.id!r} declared twice")
    LABS[decl.id] = decl
    return decl


def labs_json() -> list[dict[str, Any]]:
    return [decl.to_json() for decl in LABS.values()]


# Declarations by chapter part; imported last because they use register_lab above.
from . import theory as _theory  # noqa: E402, F401  (9.3 and the theory/practice gap)
from . import vision_language as _vision_language  # noqa: E402, F401  (9.4 and 9.5)
