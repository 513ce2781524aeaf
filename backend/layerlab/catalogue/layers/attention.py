"""Attention layers (9.5): encoder–decoder attention, multi-head self-attention, positional encoding."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...training import modules as m
from ..base import Construct, Cost, LayerKind, LayerParams, Text, register_layer
from ..errors import ShapeMismatch
from ..shapes import TensorShape
from . import _rules

MAX_LEN = 512  # longest sequence a positional encoding covers (DESIGN §9: sequence length ≤ 512)


# ----------------------------------------------------------------------------- attention (Bahdanau / dot)


class AttentionParams(LayerParams):
    kind: Literal["additive", "dot"] = Field(
        default="additive", description="additive: Bahdanau vᵀtanh(W_q q + W_k k); dot: q·k/√H (needs equal widths)"
    )
    attention_dim: int = Field(default=32, ge=1, le=1024, description="width A of the additive score network")


def _attention_shape(p: AttentionParams, ins: list[TensorShape]) -> TensorShape:
    t_q, h_q = _rules.expect_sequence(ins[0], "queries as a sequence [T',H]")
    _, h_k = _rules.expect_sequence(ins[1], "keys/values as a sequence [T,H']")
    if p.kind == "dot" and h_q != h_k:
        raise ShapeMismatch(
            f"keys/values of width {h_q} like the queries (dot attention; use additive for different widths)",
            ins[1].describe(),
        )
    return TensorShape((t_q, h_k))


def _attention_construct(p: AttentionParams, ins: list[TensorShape]) -> Construct:
    if p.kind == "dot":
        return Construct(m.DotAttention)
    return Construct(
        m.AdditiveAttention,
        {"query_dim": ins[0].dims[1], "key_dim": ins[1].dims[1], "attention_dim": p.attention_dim},
    )


def _attention_cost(p: AttentionParams, ins: list[TensorShape], out: TensorShape) -> Cost:
    (t_q, h_q), (t_k, h_k) = ins[0].dims, ins[1].dims
    mix = 2 * t_q * t_k * h_k + 5 * t_q * t_k  # softmax and the weighted sum of values
    if p.kind == "dot":
        return Cost(0, 2 * t_q * t_k * h_q + mix)
    a = p.attention_dim
    scores = 2 * t_q * h_q * a + 2 * t_k * h_k * a + t_q * t_k * 4 * a
    return Cost(a * (h_q + h_k + 1), scores + mix)


register_layer(
    LayerKind(
        type="attention",
        params_model=AttentionParams,
        title=Text("Attention (encoder–decoder)", "アテンション"),
        description=Text(
            "For each query (a decoder state) computes a weighted sum of all keys/values (every encoder state): "
            "the weights say which part of the input to look at. Inputs: [queries [T',H], encoder states [T,H']] "
            "-> context [T',H']. 'additive' is Bahdanau's score vᵀtanh(W_q q + W_k k); 'dot' is the scaled dot "
            "product q·k/√H (needs H = H'). The weights [T',T] form the alignment map.",
            "各クエリ（デコーダの中間層出力）について、Encoder内のすべての中間層出力の重み付き和を計算する。重みは"
            "入力のどの部分を見るかという情報。入力は [クエリ [T',H], エンコーダ出力 [T,H']]、出力は文脈 [T',H']。"
            "'additive' は Bahdanau のスコア vᵀtanh(W_q q + W_k k)、'dot' はスケール付き内積 q·k/√H（H = H' が必要）。"
            "重み [T',T] が対応関係（アライメント）の図になる。",
        ),
        section="9.5",
        group="attention",
        shape=_attention_shape,
        construct=_attention_construct,
        cost=_attention_cost,
        min_inputs=2,
        max_inputs=2,
        example_inputs=(TensorShape((4, 6)), TensorShape((7, 5))),
    )
)


# ----------------------------------------------------------------------------- multi-head self-attention


def expect_heads(x: TensorShape, num_heads: int) -> tuple[int, int]:
    """A sequence [T,D] whose width splits evenly into `num_heads` heads."""
    t, d = _rules.expect_sequence(x)
    if d % num_heads:
        raise ShapeMismatch(f"a sequence [T,D] with D divisible by num_heads={num_heads}", x.describe())
    return t, d


def mha_cost(t: int, s: int, d: int, kv_dim: int, num_heads: int) -> Cost:
    """Multi-head attention from T queries of width D to S keys/values of width kv_dim (q, k, v, out with bias)."""
    params = 2 * (d * d + d) + 2 * (kv_dim * d + d)
    projections = 2 * t * d * d * 2 + 2 * s * kv_dim * d * 2
    return Cost(params, projections + 4 * t * s * d + 5 * num_heads * t * s)


class SelfAttentionParams(LayerParams):
    num_heads: int = Field(default=2, ge=1, le=16)
    causal: bool = Field(default=False, description="each position sees only itself and earlier positions")


register_layer(
    LayerKind(
        type="multihead_self_attention",
        params_model=SelfAttentionParams,
        title=Text("Multi-head self-attention", "マルチヘッド自己注意"),
        description=Text(
            "Self-attention: to build each position's new representation, compute its relation to every other part "
            "of the input and take the weighted sum. Each of num_heads heads does this in its own D/num_heads-wide "
            "subspace, so heads can specialise (e.g. previous word, matching bracket). [T,D] -> [T,D]; the weights "
            "[heads,T,T] can be watched per head.",
            "自己注意：自分の中間表現を作るときに、入力の他の部分との関係を計算し、その重み付き和をとる。num_heads 個の"
            "ヘッドがそれぞれ D/num_heads 次元の部分空間でこれを行うので、ヘッドごとに役割が分かれる（直前の単語、"
            "対応する括弧など）。[T,D] → [T,D]。ヘッドごとの重み [heads,T,T] を観察できる。",
        ),
        section="9.5",
        group="attention",
        shape=lambda p, ins: TensorShape(expect_heads(ins[0], p.num_heads)),
        construct=lambda p, ins: Construct(
            m.MultiHeadSelfAttention, {"embed_dim": ins[0].dims[1], "num_heads": p.num_heads, "causal": p.causal}
        ),
        cost=lambda p, ins, out: mha_cost(out.dims[0], out.dims[0], out.dims[1], out.dims[1], p.num_heads),
        example_inputs=(TensorShape((5, 8)),),
    )
)


# ----------------------------------------------------------------------------- positional encoding


class PositionalEncodingParams(LayerParams):
    pass


def _positional_shape(p: PositionalEncodingParams, ins: list[TensorShape]) -> TensorShape:
    t, _ = _rules.expect_sequence(ins[0])
    if t > MAX_LEN:
        raise ShapeMismatch(f"a sequence of at most {MAX_LEN} steps", ins[0].describe())
    return ins[0]


register_layer(
    LayerKind(
        type="positional_encoding",
        params_model=PositionalEncodingParams,
        title=Text("Positional encoding", "位置エンコーディング"),
        description=Text(
            "Self-attention by itself ignores word order, so this adds to each step of [T,D] a fixed pattern of "
            "sines and cosines of different wavelengths that encodes its position (up to 512 steps). No parameters.",
            "自己注意だけでは語順が分からないので、[T,D] の各時刻に、位置を表す波長の異なる sin・cos の固定パターンを"
            "足す（最大 512 ステップ）。パラメータはない。",
        ),
        section="9.5",
        group="attention",
        shape=_positional_shape,
        construct=lambda p, ins: Construct(m.PositionalEncoding, {"dim": ins[0].dims[1], "max_len": MAX_LEN}),
        cost=lambda p, ins, out: Cost(0, out.numel()),
        example_inputs=(TensorShape((6, 8)),),
    )
)
