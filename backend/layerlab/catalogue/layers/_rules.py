"""Shared pieces of shape rules, so every "expects ..., got ..." message uses the same words."""

from __future__ import annotations

from ..errors import ShapeMismatch
from ..shapes import TensorShape

IMAGE = "an image [C,H,W]"
SEQUENCE = "a sequence [T,F]"
TOKENS = "token ids [T] (dtype long)"
FEATURES = "a float tensor [..., F]"


def expect_float(x: TensorShape, what: str = FEATURES) -> TensorShape:
    """Most layers compute on float features of any rank ≥ 1."""
    if x.dtype != "float" or x.rank < 1:
        raise ShapeMismatch(what, x.describe())
    return x


def expect_image(x: TensorShape) -> tuple[int, int, int]:
    if x.dtype != "float" or x.rank != 3:
        raise ShapeMismatch(IMAGE, x.describe())
    c, h, w = x.dims
    return c, h, w


def expect_sequence(x: TensorShape, what: str = SEQUENCE) -> tuple[int, int]:
    if x.dtype != "float" or x.rank != 2:
        raise ShapeMismatch(what, x.describe())
    t, f = x.dims
    return t, f


def sliding_out(size: int, kernel: int, stride: int, padding: int, x: TensorShape, axis: str) -> int:
    """Output length of a convolution or pooling window along one axis (floor division, like torch)."""
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        need = kernel - 2 * padding
        raise ShapeMismatch(
            f"{axis} of at least {need} for kernel {kernel} with padding {padding}", x.describe()
        )
    return out
