"""Checks on the raw JSON value before pydantic sees it: nesting depth, non-finite numbers, URLs.

Specs carry data, never code or addresses: a URL anywhere (http://, file://, ...) is refused so that no
field can ever become an outbound fetch, and NaN/Infinity (which Python's json module accepts) are refused
so that no bound check can be bypassed by a NaN comparison.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import SpecError
from .pydantic_errors import dotted

URL = re.compile(r"[a-z][a-z0-9+.\-]*://|^\s*(?:file|javascript):\S", re.IGNORECASE)

# (value, depth, parent entry, key in parent): the path is rebuilt only when an error is reported.
_Entry = tuple[Any, int, "_Entry | None", "str | int | None"]


def check_raw(raw: Any, max_depth: int) -> None:
    """Walk the JSON value iteratively (no recursion, so absurd nesting cannot overflow the stack)."""
    if not isinstance(raw, dict):
        raise SpecError(f"a spec must be a JSON object, got {_json_kind(raw)}", loc=[])
    stack: list[_Entry] = [(raw, 1, None, None)]
    while stack:
        entry = stack.pop()
        value, depth = entry[0], entry[1]
        if isinstance(value, dict):
            if depth > max_depth:
                _too_deep(entry, max_depth)
            for key, item in value.items():
                if isinstance(key, str) and ":" in key:
                    _check_string(key, (item, depth + 1, entry, key), is_key=True)
                stack.append((item, depth + 1, entry, key))
        elif isinstance(value, list):
            if depth > max_depth:
                _too_deep(entry, max_depth)
            stack.extend((item, depth + 1, entry, i) for i, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            loc = _path(entry)
            raise SpecError(f"{dotted(loc) or 'value'}: {value} is not a finite number", loc=loc)
        elif isinstance(value, str) and ":" in value:
            _check_string(value, entry, is_key=False)


def check_node_count(raw: dict, max_nodes: int) -> None:
    """Refuse a node-list bomb before parsing it (normal-sized specs reach the ordered node-count check)."""
    model = raw.get("model")
    nodes = model.get("nodes") if isinstance(model, dict) else None
    if isinstance(nodes, list) and len(nodes) > 4 * max_nodes:
        raise SpecError(f"the model has {len(nodes)} nodes; max_nodes is {max_nodes}", loc=["model", "nodes"],
                        cap="max_nodes")


def _path(entry: _Entry) -> list[str | int]:
    loc: list[str | int] = []
    node: _Entry | None = entry
    while node is not None and node[2] is not None:
        loc.append(node[3])  # type: ignore[arg-type]
        node = node[2]
    return loc[::-1]


def _too_deep(entry: _Entry, max_depth: int) -> None:
    loc = _path(entry)
    raise SpecError(
        f"the spec is nested deeper than max_json_depth={max_depth} (at {dotted(loc) or 'top level'})",
        loc=loc,
        cap="max_json_depth",
    )


def _check_string(text: str, entry: _Entry, *, is_key: bool) -> None:
    if URL.search(text):
        loc = _path(entry)
        what = "key" if is_key else "value"
        raise SpecError(
            f"{dotted(loc) or 'spec'}: a URL-like {what} is not allowed in a spec (specs never fetch anything)",
            loc=loc,
        )


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
