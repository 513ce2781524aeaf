"""Convolution and pooling layers (9.4): conv1d, conv2d, the slide's fixed filters, max/avg pooling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from ...training import modules as m
from ..base import Construct, Cost, LayerKind, LayerParams, Text, register_layer
from ..shapes import TensorShape
from . import _rules


class ConvParams(LayerParams):
    filters: int = Field(default=8, ge=1, le=512, description="number of filters = output channels")
    kernel_size: int = Field(default=3, ge=1, le=11)
    stride: int = Field(default=1, ge=1, le=8)
    padding: int = Field(default=1, ge=0, le=10, description="zeros added on each side")


# ----------------------------------------------------------------------------- conv1d


def _conv1d_shape(p: ConvParams, ins: list[TensorShape]) -> TensorShape:
    t, _ = _rules.expect_sequence(ins[0])
    return TensorShape((_rules.sliding_out(t, p.kernel_size, p.stride, p.padding, ins[0], "a length T"), p.filters))


def _conv1d_cost(p: ConvParams, ins: list[TensorShape], out: TensorShape) -> Cost:
    f = ins[0].dims[1]
    weights = f * p.kernel_size * p.filters
    return Cost(weights + p.filters, 2 * out.dims[0] * weights)


register_layer(
    LayerKind(
        type="conv1d",
        params_model=ConvParams,
        title=Text("Conv1d (over time)", "1次元畳み込み（時間方向）"),
        description=Text(
            "Slides `filters` learned windows of kernel_size steps along a sequence [T,F] (F are the channels) and "
            "gives [T',filters]: each output step sees only a short stretch of neighbouring steps, like an n-gram "
            "detector, with the same weights at every position.",
            "系列 [T,F]（F がチャネル）に沿って長さ kernel_size の学習可能な窓（フィルタ）を filters 個ずらしながら"
            "適用し [T',filters] を出す。各時刻は近くの数ステップだけを見て、どの位置でも同じ重みを使う。",
        ),
        section="9.4",
        group="conv",
        shape=_conv1d_shape,
        construct=lambda p, ins: Construct(
            m.SequenceConv1d,
            {"in_channels": ins[0].dims[1], "out_channels": p.filters, "kernel_size": p.kernel_size,
             "stride": p.stride, "padding": p.padding},
        ),
        cost=_conv1d_cost,
        example_inputs=(TensorShape((10, 4)),),
    )
)


# ----------------------------------------------------------------------------- conv2d


def _conv2d_shape(p: ConvParams, ins: list[TensorShape]) -> TensorShape:
    _, h, w = _rules.expect_image(ins[0])
    k, st, pad = p.kernel_size, p.stride, p.padding
    out_h = _rules.sliding_out(h, k, st, pad, ins[0], "a height")
    out_w = _rules.sliding_out(w, k, st, pad, ins[0], "a width")
    return TensorShape((p.filters, out_h, out_w))


def _conv2d_cost(p: ConvParams, ins: list[TensorShape], out: TensorShape) -> Cost:
    c = ins[0].dims[0]
    weights = c * p.kernel_size * p.kernel_size * p.filters
    return Cost(weights + p.filters, 2 * out.dims[1] * out.dims[2] * weights)


register_layer(
    LayerKind(
        type="conv2d",
        params_model=ConvParams,
        title=Text("Conv2d", "畳み込み層"),
        description=Text(
            "Finds patterns in an image [C,H,W] with learned filters: the same as applying an image filter, but "
            "the kernel_size×kernel_size weights are learned. Each output unit sees a small patch, like a neuron of "
            "the visual cortex with a 3×3 receptive field. Output: [filters,H',W'].",
            "フィルタを使って画像 [C,H,W] のパターンを見つける。画像フィルタの適用と同じだが、kernel_size×kernel_size"
            " の重みを学習する。特定の画像入力に反応する脳の視覚野領域の処理に対応（3x3の視覚野を持つニューロン）。"
            "出力は [filters,H',W']。",
        ),
        section="9.4",
        group="conv",
        shape=_conv2d_shape,
        construct=lambda p, ins: Construct(
            nn.Conv2d,
            {"in_channels": ins[0].dims[0], "out_channels": p.filters, "kernel_size": p.kernel_size,
             "stride": p.stride, "padding": p.padding},
        ),
        cost=_conv2d_cost,
        example_inputs=(TensorShape((3, 8, 8)),),
    )
)


# ----------------------------------------------------------------------------- fixed_filter2d


class FixedFilterParams(LayerParams):
    filter: Literal["mean", "edge_vertical", "edge_horizontal"] = Field(
        default="edge_vertical", description="mean: all 1/9; edge_vertical: rows [-1,0,1]; edge_horizontal: columns"
    )


def _fixed_shape(p: FixedFilterParams, ins: list[TensorShape]) -> TensorShape:
    _rules.expect_image(ins[0])
    return ins[0]


register_layer(
    LayerKind(
        type="fixed_filter2d",
        params_model=FixedFilterParams,
        title=Text("Fixed filter (mean / edge)", "固定フィルタ（平均値・エッジ）"),
        description=Text(
            "The slide's hand-made 3×3 filters, applied to each channel (padding 1, nothing learned): the mean "
            "filter (all 1/9) reduces noise; the vertical edge filter (every row -1, 0, 1) detects vertical lines; "
            "the horizontal one is its transpose. Compare them with the filters a Conv2d learns.",
            "スライドの 3×3 の画像フィルタをチャネルごとに適用する（パディング 1、学習しない）。平均値フィルタ"
            "（すべて 1/9）はノイズを軽減する。(縦) エッジフィルタ（各行 -1, 0, 1）は縦線を検出する。横エッジは"
            "その転置。畳み込み層が学習するフィルタと比べてみよう。",
        ),
        section="9.4",
        group="conv",
        shape=_fixed_shape,
        construct=lambda p, ins: Construct(m.FixedFilter2d, {"channels": ins[0].dims[0], "filter_name": p.filter}),
        cost=lambda p, ins, out: Cost(0, 2 * 9 * out.numel()),
        example_inputs=(TensorShape((1, 8, 8)),),
    )
)


# ----------------------------------------------------------------------------- pooling


class PoolParams(LayerParams):
    kernel_size: int = Field(default=2, ge=1, le=11)
    stride: int | None = Field(default=None, ge=1, le=11, description="default: kernel_size (windows do not overlap)")


def _pool_stride(p: PoolParams) -> int:
    return p.kernel_size if p.stride is None else p.stride


def _pool_shape(p: PoolParams, ins: list[TensorShape]) -> TensorShape:
    c, h, w = _rules.expect_image(ins[0])
    k, st = p.kernel_size, _pool_stride(p)
    return TensorShape((c, _rules.sliding_out(h, k, st, 0, ins[0], "a height"),
                        _rules.sliding_out(w, k, st, 0, ins[0], "a width")))


def _pool_kind(type_: str, factory: type, title: Text, which_en: str, which_ja: str) -> LayerKind[PoolParams]:
    return LayerKind(
        type=type_,
        params_model=PoolParams,
        title=title,
        description=Text(
            f"Takes the {which_en} of each kernel_size×kernel_size window of every channel: a downsampling that "
            "absorbs small shifts in position, blurring where a feature found by the convolution layer was. "
            "No parameters.",
            f"各チャネルの kernel_size×kernel_size の範囲の{which_ja}を計算する。"
            "位置の変動を吸収するダウンサンプリングで、畳み込み層によって発見した特徴の位置をぼかす役割。パラメータはない。",
        ),
        section="9.4",
        group="conv",
        shape=_pool_shape,
        construct=lambda p, ins: Construct(factory, {"kernel_size": p.kernel_size, "stride": _pool_stride(p)}),
        cost=lambda p, ins, out: Cost(0, p.kernel_size * p.kernel_size * out.numel()),
        example_inputs=(TensorShape((2, 8, 8)),),
    )


register_layer(_pool_kind("maxpool2d", nn.MaxPool2d, Text("Max pooling", "最大値プーリング"), "maximum", "最大値"))
register_layer(_pool_kind("avgpool2d", nn.AvgPool2d, Text("Average pooling", "平均値プーリング"), "average", "平均値"))
