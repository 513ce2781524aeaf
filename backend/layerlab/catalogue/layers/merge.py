"""Merge layers: add (residual / skip connections) and concat (joining branches)."""

from __future__ import annotations

from pydantic import Field

from ...training import modules as m
from ..base import Construct, Cost, LayerKind, LayerParams, Text, register_layer
from ..errors import ShapeMismatch
from ..shapes import TensorShape


class AddParams(LayerParams):
    pass


def _add_shape(p: AddParams, ins: list[TensorShape]) -> TensorShape:
    first = ins[0]
    if first.dtype != "float":
        raise ShapeMismatch("float inputs", first.describe())
    for other in ins[1:]:
        if other != first:
            raise ShapeMismatch(f"every input shaped like the first, {first.describe()}", other.describe())
    return first


register_layer(
    LayerKind(
        type="add",
        params_model=AddParams,
        title=Text("Add (residual)", "加算（残差接続）"),
        description=Text(
            "Adds same-shaped inputs element by element. Feeding a block's input around it and adding it to the "
            "block's output (a residual or skip connection) gives gradients a short path back, which is what let "
            "image networks grow from 8 layers (2012) to over 1000 (2016).",
            "同じ形の入力を要素ごとに足し合わせる。ブロックの入力を迂回させて出力に足す残差接続（スキップ接続）は"
            "勾配の近道になり、画像認識の層数が 2012 年の 8 層から 2016 年の 1000 層以上へ増えることを可能にした。",
        ),
        section="9.1",
        group="merge",
        shape=_add_shape,
        construct=lambda p, ins: Construct(m.Add),
        cost=lambda p, ins, out: Cost(0, (len(ins) - 1) * out.numel()),
        min_inputs=2,
        max_inputs=8,
        example_inputs=(TensorShape((8,)), TensorShape((8,))),
    )
)


class ConcatParams(LayerParams):
    axis: int = Field(default=-1, ge=-3, le=2, description="per-sample axis to join along (batch excluded); -1 = last")


def _concat_axis(p: ConcatParams, x: TensorShape) -> int:
    """The axis as a non-negative per-sample index, or ShapeMismatch when the input has no such axis."""
    if not -x.rank <= p.axis < x.rank:
        raise ShapeMismatch(f"inputs with an axis {p.axis}", x.describe())
    return p.axis % x.rank


def _concat_shape(p: ConcatParams, ins: list[TensorShape]) -> TensorShape:
    first = ins[0]
    axis = _concat_axis(p, first)
    total = 0
    for x in ins:
        same_rest = x.rank == first.rank and all(
            a == b for i, (a, b) in enumerate(zip(x.dims, first.dims, strict=True)) if i != axis
        )
        if not same_rest or x.dtype != first.dtype:
            raise ShapeMismatch(
                f"every input shaped like the first, {first.describe()}, except along axis {p.axis}", x.describe()
            )
        total += x.dims[axis]
    dims = list(first.dims)
    dims[axis] = total
    return TensorShape(tuple(dims), first.dtype)


register_layer(
    LayerKind(
        type="concat",
        params_model=ConcatParams,
        title=Text("Concatenate", "連結"),
        description=Text(
            "Joins its inputs side by side along one axis (the last by default): e.g. a decoder state and its "
            "attention context, or the forward and backward states of a bidirectional RNN.",
            "入力を一つの軸（既定は最後の軸）に沿って連結する。例：デコーダの中間層出力とアテンションの文脈ベクトル、"
            "双方向 RNN の順方向・逆方向の出力。",
        ),
        section="9.5",
        group="merge",
        shape=_concat_shape,
        construct=lambda p, ins: Construct(m.Concat, {"dim": _concat_axis(p, ins[0]) + 1}),
        cost=lambda p, ins, out: Cost(0, 0),
        min_inputs=2,
        max_inputs=8,
        example_inputs=(TensorShape((5, 4)), TensorShape((5, 6))),
    )
)
