"""Normalisation layers: batch norm (9.4) and layer norm (used inside Transformers)."""

from __future__ import annotations

from pydantic import Field
from torch import nn

from ...training import modules as m
from ..base import Construct, Cost, LayerKind, LayerParams, Text, register_layer
from ..errors import ShapeMismatch
from ..shapes import TensorShape
from . import _rules

_BATCHNORM_INPUT = "a vector [F], a sequence [T,F] or an image [C,H,W]"


class BatchNormParams(LayerParams):
    momentum: float = Field(default=0.1, gt=0, le=1, description="weight of the newest batch in the running mean/var")


def _batchnorm_shape(p: BatchNormParams, ins: list[TensorShape]) -> TensorShape:
    x = ins[0]
    if x.dtype != "float" or x.rank not in (1, 2, 3):
        raise ShapeMismatch(_BATCHNORM_INPUT, x.describe())
    return x


def _batchnorm_construct(p: BatchNormParams, ins: list[TensorShape]) -> Construct:
    x = ins[0]
    # vector [F]: features F; sequence [T,F]: features F (module transposes); image [C,H,W]: channels C.
    factory = {1: nn.BatchNorm1d, 2: m.SequenceBatchNorm, 3: nn.BatchNorm2d}[x.rank]
    features = x.dims[0] if x.rank != 2 else x.dims[1]
    return Construct(factory, {"num_features": features, "momentum": p.momentum})


def _batchnorm_cost(p: BatchNormParams, ins: list[TensorShape], out: TensorShape) -> Cost:
    x = ins[0]
    features = x.dims[1] if x.rank == 2 else x.dims[0]
    return Cost(2 * features, 4 * out.numel())


register_layer(
    LayerKind(
        type="batchnorm",
        params_model=BatchNormParams,
        title=Text("Batch normalisation", "バッチ標準化"),
        description=Text(
            "Subtracts each mini-batch's mean from its inputs and divides by the standard deviation (per feature or "
            "channel), then applies a learned scale and shift. It absorbs the large swings of values caused by many "
            "layers of computation and the differences in distribution between mini-batches. At inference it uses "
            "running averages of the statistics.",
            "入力値からミニバッチ毎の平均値を引いて標準偏差で割り（特徴・チャネルごと）、学習するスケールとシフトを掛ける。"
            "多階層の演算による値の大きな変動やミニバッチ毎の分布の違いを吸収する。認識時は統計量の移動平均を使う。",
        ),
        section="9.4",
        group="norm",
        shape=_batchnorm_shape,
        construct=_batchnorm_construct,
        cost=_batchnorm_cost,
        example_inputs=(TensorShape((4, 6, 6)),),
    )
)


class LayerNormParams(LayerParams):
    eps: float = Field(default=1e-5, gt=0, le=0.1)


register_layer(
    LayerKind(
        type="layernorm",
        params_model=LayerNormParams,
        title=Text("Layer normalisation", "層標準化"),
        description=Text(
            "Normalises each sample's last axis (each time step of a sequence) to mean 0 and variance 1, then applies "
            "a learned scale and shift. Unlike batch norm it does not depend on the other samples of the batch, so it "
            "suits sequences and Transformers.",
            "各サンプルの最後の軸（系列なら時刻ごと）を平均 0・分散 1 に標準化し、学習するスケールとシフトを掛ける。"
            "バッチ標準化と違いミニバッチの他のサンプルに依存しないので、系列や Transformer に向く。",
        ),
        section="9.5",
        group="norm",
        shape=lambda p, ins: _rules.expect_float(ins[0]),
        construct=lambda p, ins: Construct(nn.LayerNorm, {"normalized_shape": ins[0].dims[-1], "eps": p.eps}),
        cost=lambda p, ins, out: Cost(2 * ins[0].dims[-1], 5 * out.numel()),
        example_inputs=(TensorShape((5, 8)),),
    )
)
