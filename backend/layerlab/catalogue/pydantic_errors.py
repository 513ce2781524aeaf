"""Turn pydantic validation errors into one readable line that names the field, for SpecError messages."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class FirstError:
    loc: list[str | int]
    message: str
    type: str
    more: int  # how many further problems pydantic found

    def text(self, loc: list[str | int]) -> str:
        """'field.path: message (and N more problems)' for the given (possibly re-rooted) location."""
        where = dotted(loc) or "value"
        tail = f" (and {self.more} more problem{'s' if self.more > 1 else ''})" if self.more else ""
        return f"{where}: {self.message}{tail}"


def first_error(exc: ValidationError) -> FirstError:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    loc = [p for p in first["loc"] if isinstance(p, str | int)]
    return FirstError(loc, first["msg"], first["type"], len(errors) - 1)


def describe_errors(exc: ValidationError, prefix: str = "") -> tuple[str, list[str | int]]:
    """The first error as 'prefix.field: message', and its loc below `prefix`."""
    err = first_error(exc)
    return err.text(([prefix] if prefix else []) + err.loc), err.loc
