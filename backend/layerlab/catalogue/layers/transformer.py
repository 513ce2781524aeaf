"""Transformer blocks (9.5): encoder block (BERT-like) and decoder block (GPT-like, optional cross-attention)."""

from __future__ import annotations

from pydantic import Field

from ...training import modules as m
from ..base import Construct, Cost, LayerKind, LayerParams, Text, register_layer
from ..shapes import TensorShape
from . import _rules
from .attention import expect_heads, mha_cost


class BlockParams(LayerParams):
    num_heads: int = Field(default=2, ge=1, le=16)
    ff_dim: int = Field(default=64, ge=1, le=4096, description="hidden width of the feed-forward network")
    dropout: float = Field(default=0.1, ge=0, le=0.9)
    norm_first: bool = Field(
        default=True, description="pre-norm x + f(LN(x)) (stable); false: the original post-norm LN(x + f(x))"
    )


def _ff_cost(t: int, d: int, ff: int) -> Cost:
    return Cost(2 * d * ff + ff + d, 4 * t * d * ff + t * ff)


def _norm_cost(t: int, d: int) -> Cost:
    return Cost(2 * d, 5 * t * d)


def _sum(*costs: Cost) -> Cost:
    return Cost(sum(c.params for c in costs), sum(c.flops for c in costs))


_NORM_TEXT = Text(
    " Pre-norm by default (LayerNorm before each sub-layer, x + f(LN(x)): trains stably without warm-up); "
    "norm_first=false gives the original post-norm block LN(x + f(x)).",
    " 既定はプレノルム（各サブ層の前に層標準化、x + f(LN(x))：ウォームアップなしでも安定）。norm_first=false で"
    "元の論文のポストノルム LN(x + f(x)) になる。",
)


def _encoder_cost(p: BlockParams, ins: list[TensorShape], out: TensorShape) -> Cost:
    t, d = out.dims
    return _sum(mha_cost(t, t, d, d, p.num_heads), _ff_cost(t, d, p.ff_dim), _norm_cost(t, d), _norm_cost(t, d))


register_layer(
    LayerKind(
        type="transformer_encoder_block",
        params_model=BlockParams,
        title=Text("Transformer encoder block", "Transformer エンコーダブロック"),
        description=Text(
            "Self-attention + a feed-forward network, each with a residual connection and layer normalisation. "
            "Every position builds its new representation from its relation to the other parts of the input. "
            "Stacks of these blocks make BERT and other pre-trained models. [T,D] -> [T,D] (D divisible by "
            "num_heads)." + _NORM_TEXT.en,
            "Self-attention + フィードフォワードNN（それぞれ残差接続と層標準化つき）。自分の中間表現を作るときに、"
            "入力の他の部分との関係を計算する。これを積み重ねたものが BERT などの事前学習モデルに使われる。"
            "[T,D] → [T,D]（D は num_heads で割り切れること）。" + _NORM_TEXT.ja,
        ),
        section="9.5",
        group="attention",
        shape=lambda p, ins: TensorShape(expect_heads(ins[0], p.num_heads)),
        construct=lambda p, ins: Construct(
            m.TransformerEncoderBlock,
            {"dim": ins[0].dims[1], "num_heads": p.num_heads, "ff_dim": p.ff_dim, "dropout": p.dropout,
             "norm_first": p.norm_first},
        ),
        cost=_encoder_cost,
        example_inputs=(TensorShape((5, 8)),),
    )
)


def _decoder_shape(p: BlockParams, ins: list[TensorShape]) -> TensorShape:
    shape = TensorShape(expect_heads(ins[0], p.num_heads))
    if len(ins) > 1:
        _rules.expect_sequence(ins[1], "an encoder memory as a sequence [S,M]")
    return shape


def _decoder_construct(p: BlockParams, ins: list[TensorShape]) -> Construct:
    kwargs: dict[str, int | float | bool] = {"dim": ins[0].dims[1], "num_heads": p.num_heads, "ff_dim": p.ff_dim,
                                             "dropout": p.dropout, "norm_first": p.norm_first}
    if len(ins) > 1:
        kwargs["memory_dim"] = ins[1].dims[1]
    return Construct(m.TransformerDecoderBlock, kwargs)


def _decoder_cost(p: BlockParams, ins: list[TensorShape], out: TensorShape) -> Cost:
    t, d = out.dims
    parts = [mha_cost(t, t, d, d, p.num_heads), _ff_cost(t, d, p.ff_dim), _norm_cost(t, d), _norm_cost(t, d)]
    if len(ins) > 1:
        s, mem = ins[1].dims
        parts += [mha_cost(t, s, d, mem, p.num_heads), _norm_cost(t, d)]
    return _sum(*parts)


register_layer(
    LayerKind(
        type="transformer_decoder_block",
        params_model=BlockParams,
        title=Text("Transformer decoder block", "Transformer デコーダブロック"),
        description=Text(
            "Causal self-attention (each position sees only itself and earlier positions, so the block can generate "
            "a sequence one token at a time, as GPT does) + a feed-forward network. With a second input, an encoder's "
            "output [S,M], it also attends to it (cross-attention), as the decoder of the original encoder–decoder "
            "Transformer. Inputs [x [T,D]] or [x, memory]; output [T,D]." + _NORM_TEXT.en,
            "因果的な Self-attention（各位置は自分とそれより前だけを見るので、GPT のように一語ずつ系列を生成できる）+ "
            "フィードフォワードNN。二つ目の入力としてエンコーダの出力 [S,M] を与えると、それにも注意を向ける"
            "（クロスアテンション、元の Encoder-Decoder 型 Transformer のデコーダ）。入力は [x [T,D]] または "
            "[x, memory]、出力は [T,D]。" + _NORM_TEXT.ja,
        ),
        section="9.5",
        group="attention",
        shape=_decoder_shape,
        construct=_decoder_construct,
        cost=_decoder_cost,
        min_inputs=1,
        max_inputs=2,
        example_inputs=(TensorShape((5, 8)),),
    )
)
