"""Core layers: input, dense (Linear), activation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from ...training import modules as m
from ..base import Construct, Cost, LayerKind, LayerParams, Text, register_layer
from ..errors import ShapeMismatch
from ..shapes import TensorShape


class InputParams(LayerParams):
    shape: list[int] = Field(default=[2], min_length=1, max_length=3, description="per-sample shape, batch excluded")
    dtype: Literal["float", "long"] = Field(default="float", description="'long' for token-id sequences")
    field: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9_]{0,31}$", description="data-set field; default: the node id or 'x'"
    )


def _input_shape(p: InputParams, ins: list[TensorShape]) -> TensorShape:
    for d in p.shape:
        if d < 1 or d > 100_000:
            raise ShapeMismatch("every dimension between 1 and 100000", f"{p.shape}")
    return TensorShape(tuple(p.shape), p.dtype)


register_layer(
    LayerKind(
        type="input",
        params_model=InputParams,
        title=Text("Input", "入力"),
        description=Text(
            "Where samples enter the network; its shape excludes the batch dimension.",
            "サンプルが入る層。形はバッチ次元を除く。",
        ),
        section="9.2",
        group="core",
        shape=_input_shape,
        construct=lambda p, ins: Construct(m.Identity),
        cost=lambda p, ins, out: Cost(0, 0),
        min_inputs=0,
        max_inputs=0,
    )
)


class DenseParams(LayerParams):
    units: int = Field(default=16, ge=1, le=8192)
    bias: bool = True


def _dense_shape(p: DenseParams, ins: list[TensorShape]) -> TensorShape:
    (x,) = ins
    if x.dtype != "float" or x.rank < 1:
        raise ShapeMismatch("a float tensor [..., F]", x.describe())
    return TensorShape(x.dims[:-1] + (p.units,))


def _dense_cost(p: DenseParams, ins: list[TensorShape], out: TensorShape) -> Cost:
    f_in = ins[0].dims[-1]
    rows = out.numel() // p.units
    params = f_in * p.units + (p.units if p.bias else 0)
    return Cost(params, 2 * rows * f_in * p.units)


register_layer(
    LayerKind(
        type="dense",
        params_model=DenseParams,
        title=Text("Dense (Linear)", "全結合層"),
        description=Text(
            "Every output unit is a weighted sum of all inputs plus a bias; acts on the last axis.",
            "すべての入力の重み付き和にバイアスを加えたユニット。最後の軸に作用する。",
        ),
        section="9.2",
        group="core",
        shape=_dense_shape,
        construct=lambda p, ins: Construct(nn.Linear, {"in_features": ins[0].dims[-1], "out_features": p.units,
                                                       "bias": p.bias}),
        cost=_dense_cost,
        example_inputs=(TensorShape((8,)),),
    )
)
