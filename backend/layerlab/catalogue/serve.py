"""GET /api/catalogue: one JSON document assembled from the registries, so no list is written twice.

The frontend builds its palette, forms and help text from it; a snapshot test catches unnoticed drift.
Everything here is static for a process except the deployment's limits, which the route adds.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from .. import __version__
from . import layers as _layers  # noqa: F401  (registers every layer kind)
from .base import LAYERS
from .datasets import catalogue_json as datasets_catalogue_json
from .labs import labs_json
from .limits import Limits
from .presets import presets_json
from .probes import ProbeSpec
from .spec import JobSpec
from .training import training_catalogue_json


@lru_cache(maxsize=1)
def static_catalogue() -> dict[str, Any]:
    """Everything that depends only on the code: layers, data sets, training choices, presets, labs."""
    data = datasets_catalogue_json()
    return {
        "version": __version__,
        "layers": [kind.to_json() for kind in LAYERS.values()],
        "datasets": data["datasets"],
        "data_schema": data["schema"],
        **training_catalogue_json(),
        "probe_schema": ProbeSpec.model_json_schema(),
        "job_schema": JobSpec.model_json_schema(),
        "presets": presets_json(),
        "labs": labs_json(),
    }


def catalogue_document(limits: Limits) -> dict[str, Any]:
    """The served document: the static catalogue plus this deployment's limits."""
    return {**static_catalogue(), "limits": limits.model_dump(mode="json")}


def encode(document: dict[str, Any]) -> tuple[bytes, str]:
    """Canonical JSON bytes and a strong ETag, computed once per app rather than per request."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
