"""Turn pydantic validation errors into one readable line that names the field, for SpecError messages."""

from __future__ import annotations

from pydantic import ValidationError


def dotted(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """('train', 'optimizer', 'lr') -> 'train.optimizer.lr'; list indices as [i]."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe_errors(exc: ValidationError, prefix: str = "") -> tuple[str, list[str | int]]:
    """The first error as 'field.path: message' (plus how many more), and its loc below `prefix`."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    loc = [p for p in first["loc"] if isinstance(p, str | int)]
    where = dotted(([prefix] if prefix else []) + loc) or prefix or "value"
    text = f"{where}: {first['msg']}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text, loc
