"""A composite encoder–decoder layer (9.5): Bahdanau's decoder that feeds the attention context back in."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...training import modules as m
from ..base import Construct, Cost, LayerKind, LayerParams, Text, register_layer
from ..shapes import TensorShape
from . import _rules
from .recurrent import GATES


class BahdanauDecoderParams(LayerParams):
    hidden_size: int = Field(default=32, ge=1, le=1024)
    attention_dim: int = Field(default=32, ge=1, le=1024, description="width of the additive score network")
    cell: Literal["gru", "lstm"] = "gru"


def _shape(p: BahdanauDecoderParams, ins: list[TensorShape]) -> TensorShape:
    t_out, _ = _rules.expect_sequence(ins[0], "decoder inputs as a sequence [T',E]")
    _, enc = _rules.expect_sequence(ins[1], "encoder states as a sequence [T,H']")
    return TensorShape((t_out, p.hidden_size + enc))


def _cost(p: BahdanauDecoderParams, ins: list[TensorShape], out: TensorShape) -> Cost:
    (t_out, e), (t_in, enc) = ins[0].dims, ins[1].dims
    h, a, g = p.hidden_size, p.attention_dim, GATES[p.cell]
    attention = a * (h + enc + 1)
    cell = g * (h * (e + enc) + h * h + 2 * h)
    # per step: score every encoder state (its projection is recomputed each step), mix, then one cell update
    per_step = 2 * h * a + 2 * t_in * enc * a + 4 * t_in * a + 2 * t_in * enc + 2 * g * h * (e + enc + h) + 6 * g * h
    return Cost(attention + cell, t_out * per_step)


register_layer(
    LayerKind(
        type="bahdanau_decoder",
        params_model=BahdanauDecoderParams,
        title=Text("Attention decoder (Bahdanau)", "アテンション付きデコーダ（Bahdanau）"),
        description=Text(
            "The decoder of Bahdanau et al. (2015) as one layer: at every step it attends to all encoder states with "
            "its previous state, feeds the context together with the next input into its GRU/LSTM cell, and outputs "
            "[state, context]. Inputs: [decoder inputs [T',E] (the target shifted right, embedded), encoder states "
            "[T,H']] -> [T',hidden_size+H']. The alignment weights [T',T] can be watched.",
            "Bahdanau ら (2015) のデコーダを一つの層にしたもの。各時刻で一つ前の状態を使って Encoder内のすべての中間層"
            "出力にアテンションを向け、その文脈を次の入力と一緒に GRU/LSTM のセルに入れ、[状態, 文脈] を出力する。"
            "入力は [デコーダ入力 [T',E]（右にずらして埋め込んだ正解系列）, エンコーダ出力 [T,H']]、出力は "
            "[T',hidden_size+H']。対応関係の重み [T',T] を観察できる。",
        ),
        section="9.5",
        group="attention",
        shape=_shape,
        construct=lambda p, ins: Construct(
            m.BahdanauDecoder,
            {"input_size": ins[0].dims[1], "encoder_dim": ins[1].dims[1], "hidden_size": p.hidden_size,
             "attention_dim": p.attention_dim, "cell": p.cell},
        ),
        cost=_cost,
        min_inputs=2,
        max_inputs=2,
        example_inputs=(TensorShape((4, 6)), TensorShape((7, 10))),
    )
)
