"""Core layers: input, dense (Linear), activation, dropout, flatten, reshape."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from torch import nn

from ...training import modules as m
from ..base import Construct, Cost, LayerKind, LayerParams, Text, register_layer
from ..errors import ShapeMismatch
from ..shapes import TensorShape
from . import _rules


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


ActivationName = Literal["relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu", "softmax"]


class ActivationParams(LayerParams):
    fn: ActivationName = "relu"
    negative_slope: float = Field(default=0.01, ge=0, le=1, description="leaky_relu: slope for x < 0")
    alpha: float = Field(default=1.0, gt=0, le=10, description="elu: value approached for very negative x")


def _activation_construct(p: ActivationParams, ins: list[TensorShape]) -> Construct:
    # An explicit table: the wire name never reaches getattr.
    table: dict[str, Construct] = {
        "relu": Construct(nn.ReLU),
        "tanh": Construct(nn.Tanh),
        "sigmoid": Construct(nn.Sigmoid),
        "leaky_relu": Construct(nn.LeakyReLU, {"negative_slope": p.negative_slope}),
        "elu": Construct(nn.ELU, {"alpha": p.alpha}),
        "gelu": Construct(nn.GELU),
        "softmax": Construct(nn.Softmax, {"dim": -1}),
    }
    return table[p.fn]


def _activation_cost(p: ActivationParams, ins: list[TensorShape], out: TensorShape) -> Cost:
    per_element = {"relu": 1, "leaky_relu": 2, "tanh": 4, "sigmoid": 4, "elu": 4, "gelu": 8, "softmax": 5}[p.fn]
    return Cost(0, per_element * out.numel())


register_layer(
    LayerKind(
        type="activation",
        params_model=ActivationParams,
        title=Text("Activation", "活性化関数"),
        description=Text(
            "A non-linearity applied to every element: ReLU, tanh, sigmoid, LeakyReLU, ELU, GELU, or softmax "
            "(over the last axis, turning scores into probabilities). Without it stacked layers collapse into one "
            "linear map; ReLU-like functions keep gradients from vanishing in deep networks.",
            "要素ごとに掛ける非線形関数（ReLU, tanh, sigmoid, LeakyReLU, ELU, GELU, softmax）。softmax は最後の軸で"
            "確率に変換する。非線形がないと何層重ねても一つの線形写像になる。多階層学習では勾配消失を避けるため "
            "ReLU, tanh, LeakyReLU, ELU などを使う。",
        ),
        section="9.3.1",
        group="core",
        shape=lambda p, ins: _rules.expect_float(ins[0]),
        construct=_activation_construct,
        cost=_activation_cost,
        example_inputs=(TensorShape((8,)),),
    )
)


class DropoutParams(LayerParams):
    p: float = Field(default=0.5, ge=0, le=0.95, description="probability of dropping a unit while training")
    mode: Literal["inverted", "scale_at_inference"] = Field(
        default="inverted",
        description="inverted: survivors ×1/(1-p) while training; scale_at_inference: the slide's rule, ×(1-p) at test",
    )


def _dropout_construct(p: DropoutParams, ins: list[TensorShape]) -> Construct:
    if p.mode == "inverted":
        return Construct(nn.Dropout, {"p": p.p})
    return Construct(m.InferenceScaledDropout, {"p": p.p})


register_layer(
    LayerKind(
        type="dropout",
        params_model=DropoutParams,
        title=Text("Dropout", "ドロップアウト"),
        description=Text(
            "While training, each unit is removed at random with probability p, so no unit can rely on one "
            "particular partner: it acts like regularisation. Mode 'scale_at_inference' is the slide's rule: "
            "survivors are not rescaled during training, and at inference every unit is multiplied by the keep "
            "rate 1-p (the slide's \"multiply the learned weights by p\", where its p is the keep rate). Mode "
            "'inverted' (the usual nn.Dropout) scales survivors by 1/(1-p) while training and does nothing at "
            "inference. Both give the next layer the same expected input in training and inference.",
            "学習時に一定割合 p のユニットをランダムに消す。特定のユニットの組に頼れなくなり、正則化のような役割を"
            "果たす（汎用性の向上）。'scale_at_inference' はスライドの方法：学習時は残ったユニットをそのまま使い、"
            "認識時には学習後の重みに保持率 1-p を掛ける（スライドの「学習した重みを p 倍」の p は保持率）。"
            "'inverted'（通常の nn.Dropout）は学習時に残ったユニットを 1/(1-p) 倍し、認識時は何もしない。"
            "どちらも学習時と認識時で次の層への入力の期待値が等しい。",
        ),
        section="9.3.3",
        group="regularisation",
        shape=lambda p, ins: _rules.expect_float(ins[0]),
        construct=_dropout_construct,
        cost=lambda p, ins, out: Cost(0, 2 * out.numel()),
        example_inputs=(TensorShape((8,)),),
    )
)


class FlattenParams(LayerParams):
    pass


def _flatten_shape(p: FlattenParams, ins: list[TensorShape]) -> TensorShape:
    x = ins[0]
    if x.rank < 1:
        raise ShapeMismatch("a tensor with at least one axis", x.describe())
    return TensorShape((x.numel(),), x.dtype)


register_layer(
    LayerKind(
        type="flatten",
        params_model=FlattenParams,
        title=Text("Flatten", "平坦化"),
        description=Text(
            "Lays each sample out as one long vector (e.g. a feature map [C,H,W] -> [C·H·W]) so dense layers can "
            "follow the convolution and pooling layers.",
            "各サンプルを一本のベクトルに並べ直す（特徴マップ [C,H,W] → [C·H·W]）。畳み込み層・プーリング層の後に"
            "密結合層をつなぐために使う。",
        ),
        section="9.4",
        group="core",
        shape=_flatten_shape,
        construct=lambda p, ins: Construct(nn.Flatten),
        cost=lambda p, ins, out: Cost(0, 0),
        example_inputs=(TensorShape((2, 4, 4)),),
    )
)


class ReshapeParams(LayerParams):
    shape: list[int] = Field(
        default=[-1], min_length=1, max_length=3, description="per-sample shape; one entry may be -1 (inferred)"
    )

    @field_validator("shape")
    @classmethod
    def _one_inferred(cls, v: list[int]) -> list[int]:
        if v.count(-1) > 1:
            raise ValueError("at most one dimension may be -1")
        if any(d == 0 or d < -1 or d > 100_000 for d in v):
            raise ValueError("dimensions must be between 1 and 100000, or -1")
        return v


def _reshape_shape(p: ReshapeParams, ins: list[TensorShape]) -> TensorShape:
    x = ins[0]
    n = x.numel()
    known = 1
    for d in p.shape:
        if d != -1:
            known *= d
    target = "[" + ",".join(str(d) for d in p.shape) + "]"
    if -1 in p.shape:
        if n % known:
            raise ShapeMismatch(f"a number of elements divisible by {known} to reshape to {target}", x.describe())
        dims = tuple(n // known if d == -1 else d for d in p.shape)
    else:
        if known != n:
            raise ShapeMismatch(f"{known} elements to reshape to {target}", f"{x.describe()} ({n} elements)")
        dims = tuple(p.shape)
    return TensorShape(dims, x.dtype)


register_layer(
    LayerKind(
        type="reshape",
        params_model=ReshapeParams,
        title=Text("Reshape", "形の変更"),
        description=Text(
            "Rearranges each sample's elements into another shape with the same number of elements, e.g. a "
            "vector [784] into an image [1,28,28] for a decoder, or [64] into a sequence [8,8].",
            "要素数を変えずに各サンプルの形を変える。例：ベクトル [784] を画像 [1,28,28] に、[64] を系列 [8,8] に。",
        ),
        section="9.2",
        group="core",
        shape=_reshape_shape,
        construct=lambda p, ins: Construct(m.Reshape, {"shape": list(_reshape_shape(p, ins).dims)}),
        cost=lambda p, ins, out: Cost(0, 0),
        example_inputs=(TensorShape((4, 6)),),
    )
)
