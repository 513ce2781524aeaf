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


def check_raw(raw: Any, max_depth: int) -> None:
    """Walk the JSON value iteratively (no recursion, so absurd nesting cannot overflow the stack)."""
    if not isinstance(raw, dict):
        raise SpecError(f"a spec must be a JSON object, got {_json_kind(raw)}", loc=[])
    stack: list[tuple[Any, list[str | int], int]] = [(raw, [], 1)]
    while stack:
        value, loc, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise SpecError(
                    f"the spec is nested deeper than max_json_depth={max_depth} (at {dotted(loc) or 'top level'})",
                    loc=loc,
                    cap="max_json_depth",
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_string(key, loc, is_key=True)
                stack.append((item, [*loc, key], depth + 1))
        elif isinstance(value, float) and not math.isfinite(value):
            raise SpecError(f"{dotted(loc) or 'value'}: {value} is not a finite number", loc=loc)
        elif isinstance(value, str):
            _check_string(value, loc, is_key=False)


def _check_string(text: str, loc: list[str | int], *, is_key: bool) -> None:
    if URL.search(text):
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
