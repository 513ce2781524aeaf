"""Sequence layers (9.5): token embedding and the recurrent layers RNN, LSTM and GRU."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from torch import nn

from ...training import modules as m
from ..base import Construct, Cost, LayerKind, LayerParams, Text, register_layer
from ..errors import ShapeMismatch
from ..shapes import TensorShape
from . import _rules

# ----------------------------------------------------------------------------- embedding


class EmbeddingParams(LayerParams):
    num_embeddings: int = Field(default=32, ge=2, le=50_000, description="vocabulary size (largest id + 1)")
    embedding_dim: int = Field(default=16, ge=1, le=1024)
    padding_idx: int | None = Field(default=None, ge=0, description="id whose vector stays zero and is not learned")

    @model_validator(mode="after")
    def _padding_in_vocabulary(self) -> EmbeddingParams:
        if self.padding_idx is not None and self.padding_idx >= self.num_embeddings:
            raise ValueError(f"padding_idx {self.padding_idx} must be below num_embeddings {self.num_embeddings}")
        return self


def _embedding_shape(p: EmbeddingParams, ins: list[TensorShape]) -> TensorShape:
    x = ins[0]
    if x.dtype != "long" or x.rank != 1:
        raise ShapeMismatch(_rules.TOKENS, x.describe())
    return TensorShape((x.dims[0], p.embedding_dim))


def _embedding_construct(p: EmbeddingParams, ins: list[TensorShape]) -> Construct:
    kwargs: dict[str, int] = {"num_embeddings": p.num_embeddings, "embedding_dim": p.embedding_dim}
    if p.padding_idx is not None:
        kwargs["padding_idx"] = p.padding_idx
    return Construct(nn.Embedding, kwargs)


register_layer(
    LayerKind(
        type="embedding",
        params_model=EmbeddingParams,
        title=Text("Embedding", "埋め込み層"),
        description=Text(
            "Turns each token id of a sequence [T] into a learned vector, giving a sequence [T,embedding_dim] that "
            "recurrent or attention layers can read. Words (or characters) used alike end up with similar vectors.",
            "系列 [T] の各トークン ID を学習可能なベクトルに置き換え、[T,embedding_dim] の系列にする。"
            "リカレント層やアテンションが読める形になる。似た使われ方の単語（文字）は似たベクトルになる。",
        ),
        section="9.5",
        group="sequence",
        shape=_embedding_shape,
        construct=_embedding_construct,
        cost=lambda p, ins, out: Cost(p.num_embeddings * p.embedding_dim, 0),
        example_inputs=(TensorShape((7,), "long"),),
    )
)


# ----------------------------------------------------------------------------- rnn / lstm / gru


class RecurrentParams(LayerParams):
    hidden_size: int = Field(default=32, ge=1, le=1024)
    num_layers: int = Field(default=1, ge=1, le=4, description="stacked recurrent layers")
    bidirectional: bool = Field(default=False, description="also read the sequence backwards; doubles the width")
    return_sequences: bool = Field(default=False, description="every step [T,H·dirs] instead of the last state")


class RNNParams(RecurrentParams):
    nonlinearity: Literal["tanh", "relu"] = "tanh"


GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _recurrent_shape(p: RecurrentParams, ins: list[TensorShape]) -> TensorShape:
    t, _ = _rules.expect_sequence(ins[0])
    width = p.hidden_size * (2 if p.bidirectional else 1)
    return TensorShape((t, width) if p.return_sequences else (width,))


def _recurrent_cost(cell: str, p: RecurrentParams, ins: list[TensorShape]) -> Cost:
    t, f = ins[0].dims
    g, h = GATES[cell], p.hidden_size
    dirs = 2 if p.bidirectional else 1
    params = flops = 0
    for layer in range(p.num_layers):
        width_in = f if layer == 0 else h * dirs
        params += dirs * g * (h * width_in + h * h + 2 * h)
        # matrix-vector products per step, plus the element-wise gate arithmetic
        flops += dirs * t * (2 * g * h * (width_in + h) + 6 * g * h)
    return Cost(params, flops)


def _recurrent_kwargs(p: RecurrentParams, ins: list[TensorShape]) -> dict[str, int | bool | str]:
    return {"input_size": ins[0].dims[1], "hidden_size": p.hidden_size, "num_layers": p.num_layers,
            "bidirectional": p.bidirectional, "return_sequences": p.return_sequences}


_BIDIRECTIONAL = Text(
    " bidirectional adds a second layer that reads the sequence backwards, so each output uses the future as well "
    "as the past; the last state then joins the forward state after the final step and the backward state after the "
    "first.",
    " bidirectional にすると逆向きに読む層が加わり、過去だけでなく、未来の情報も用いて出力を計算する（双方向RNN）。"
    "最後の状態は順方向の最終時刻と逆方向の先頭時刻の状態を連結したもの。",
)


def _recurrent_kind(cell: str, params_model: type[RecurrentParams], factory: type, title: Text,
                    text: Text) -> LayerKind[RecurrentParams]:
    def construct(p: RecurrentParams, ins: list[TensorShape]) -> Construct:
        kwargs = _recurrent_kwargs(p, ins)
        if isinstance(p, RNNParams):
            kwargs["nonlinearity"] = p.nonlinearity
        return Construct(factory, kwargs)

    return LayerKind(
        type=cell,
        params_model=params_model,
        title=title,
        description=Text(text.en + _BIDIRECTIONAL.en, text.ja + _BIDIRECTIONAL.ja),
        section="9.5",
        group="sequence",
        shape=_recurrent_shape,
        construct=construct,
        cost=lambda p, ins, out: _recurrent_cost(cell, p, ins),
        example_inputs=(TensorShape((6, 3)),),
    )


register_layer(_recurrent_kind(
    "rnn", RNNParams, m.RNNLayer, Text("RNN", "リカレントニューラルネットワーク (RNN)"),
    Text(
        "Reads a sequence [T,F] step by step, combining the previous step's hidden output with the next input: "
        "h_t = tanh(W x_t + U h_{t-1} + b). Suited to time series and language. Returns every step [T,H] or the "
        "last state [H]. Gradients through many steps vanish, so long dependencies are hard for it.",
        "系列 [T,F] を一時刻ずつ読み、一つ前の中間層の出力を、次の入力と結合する：h_t = tanh(W x_t + U h_{t-1} + b)。"
        "時系列信号の認識や自然言語処理に適する。全時刻 [T,H] か最後の状態 [H] を返す。多くの時刻をさかのぼる勾配は"
        "消失しやすく、長い依存関係は苦手。",
    ),
))

register_layer(_recurrent_kind(
    "lstm", RecurrentParams, m.LSTMLayer, Text("LSTM", "LSTM（長短期記憶）"),
    Text(
        "Long short-term memory: a unit with an internal structure of gates, mechanisms that let information "
        "through selectively. Sigmoid gates decide what to forget from the cell state, what to write into it and "
        "what to output, and the cell state is updated by addition, so information and gradients survive over "
        "long spans. The gate values can be watched live.",
        "LSTM (long short-term memory)：いくつかのゲートからなる内部構造をもつユニット。ゲートは選択的に情報を通す"
        "メカニズムで、シグモイドを活性化関数とするNN（σ）が、セル状態から何を忘れ、何を書き込み、何を出力するかを"
        "全要素に対する掛け算で決める。セル状態は要素同士の足し算で更新されるので、長い間隔でも情報と勾配が残る。"
        "ゲートの値をライブで観察できる。",
    ),
))

register_layer(_recurrent_kind(
    "gru", RecurrentParams, m.GRULayer, Text("GRU", "GRU（ゲート付き回帰ユニット）"),
    Text(
        "Gated recurrent unit: a lighter LSTM with an update gate and a reset gate and no separate cell state; "
        "it also keeps information over long spans, with three quarters of the LSTM's parameters.",
        "ゲート付き回帰ユニット：更新ゲートとリセットゲートをもち、セル状態を分けない軽量な LSTM。長い間隔の情報も"
        "保持でき、パラメータ数は LSTM の 4 分の 3。",
    ),
))
