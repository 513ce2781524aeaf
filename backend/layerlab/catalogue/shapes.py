"""Symbolic tensor shapes: validation reasons about these, never about real tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DType = Literal["float", "long"]


@dataclass(frozen=True)
class TensorShape:
    """A per-sample shape (batch dimension excluded) and its element type.

    Token sequences are `[T]` with dtype "long"; everything else is float.
    """

    dims: tuple[int, ...]
    dtype: DType = "float"

    @property
    def rank(self) -> int:
        return len(self.dims)

    def numel(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    def describe(self) -> str:
        """Human wording used in error messages, e.g. "image [1,28,28]" or "vector [64]"."""
        dims = ",".join(str(d) for d in self.dims)
        if self.dtype == "long":
            return f"token ids [{dims}]"
        kind = {0: "scalar", 1: "vector", 2: "sequence", 3: "image"}.get(self.rank, f"rank-{self.rank} tensor")
        return f"{kind} [{dims}]"

    def to_json(self) -> list[int]:
        return list(self.dims)


def vector(n: int) -> TensorShape:
    return TensorShape((n,))
