"""Custom torch modules used by the catalogue's construct rules.

This file must import nothing but torch (and math): `training/export_py.py` embeds its source in
the standalone model.py that users download. Every tensor shape below includes the batch axis B.
Attention modules compute their weights themselves (no fused kernels) and keep the last ones,
detached, in `last_weights` so probes can draw exactly what the model used.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class Identity(nn.Module):
    """An input node: passes its tensor through so every node has a module of its own."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


# --------------------------------------------------------------------------- core


class InferenceScaledDropout(nn.Module):
    """Dropout as the chapter's slide states it (9.3.3).

    Training: each unit is zeroed with probability `p`; survivors are not rescaled.
    Inference: every unit is multiplied by the keep rate 1 - p (the slide's 「学習した重みを p 倍」,
    whose p is the keep rate), so the next layer sees the same expected input in both phases.
    nn.Dropout ("inverted" dropout) instead divides survivors by 1 - p while training.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x * (1.0 - self.p)
        if self.p == 0.0:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * keep.to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Reshape(nn.Module):
    """Reshape each sample (the batch axis is kept); one entry may be -1 (inferred)."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}"


# --------------------------------------------------------------------------- merge


class Add(nn.Module):
    """Element-wise sum of same-shaped inputs: the residual / skip connection."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    """Concatenate inputs along one axis (`dim` counts the batch axis, as in torch.cat)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


# --------------------------------------------------------------------------- conv


class SequenceConv1d(nn.Module):
    """Conv1d over time for sequences [B,T,F]: F are the channels, so move them to torch's [B,F,T] and back."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


FIXED_FILTERS: dict[str, list[list[float]]] = {
    # The slide's 3×3 filters (9.4): the mean filter smooths noise, the vertical edge filter finds vertical lines.
    "mean": [[1.0 / 9.0] * 3 for _ in range(3)],
    "edge_vertical": [[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]],
    "edge_horizontal": [[-1.0, -1.0, -1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]],
}


class FixedFilter2d(nn.Module):
    """A hand-made 3×3 filter applied to every channel on its own (depthwise, padding 1); nothing is learned.

    Like nn.Conv2d it computes a cross-correlation, i.e. the filter is laid on the image as printed.
    """

    def __init__(self, channels: int, filter_name: str) -> None:
        super().__init__()
        self.channels = channels
        self.filter_name = filter_name
        kernel = torch.tensor(FIXED_FILTERS[filter_name], dtype=torch.float32)
        self.register_buffer("weight", kernel.expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight.to(x.dtype), padding=1, groups=self.channels)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, filter_name={self.filter_name!r}"


# --------------------------------------------------------------------------- norm


class SequenceBatchNorm(nn.Module):
    """Batch norm of the features F of sequences [B,T,F] (statistics over batch and time)."""

    def __init__(self, num_features: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(num_features, momentum=momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


# --------------------------------------------------------------------------- recurrent


class RecurrentLayer(nn.Module):
    """Wraps a batch_first torch RNN so it returns either every step [B,T,H·dirs] or the last state [B,H·dirs].

    For a bidirectional RNN the last state is the forward direction's state after the final step
    concatenated with the backward direction's state after the first step (both have read everything).
    """

    def __init__(self, rnn: nn.RNNBase, return_sequences: bool) -> None:
        super().__init__()
        self.rnn = rnn
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = self.rnn(x)
        if self.return_sequences:
            return out
        h_n = state[0] if isinstance(state, tuple) else state
        if self.rnn.bidirectional:
            return torch.cat([h_n[-2], h_n[-1]], dim=-1)
        return h_n[-1]


class RNNLayer(RecurrentLayer):
    """Elman RNN: h_t = tanh(W x_t + U h_{t-1} + b)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        return_sequences: bool = True,
        nonlinearity: str = "tanh",
    ) -> None:
        rnn = nn.RNN(input_size, hidden_size, num_layers, nonlinearity=nonlinearity, batch_first=True,
                     bidirectional=bidirectional)
        super().__init__(rnn, return_sequences)


class GRULayer(RecurrentLayer):
    """Gated recurrent unit: reset and update gates, no separate cell state."""

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
        return_sequences: bool = True,
    ) -> None:
        rnn = nn.GRU(input_size, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional)
        super().__init__(rnn, return_sequences)


class LSTMLayer(RecurrentLayer):
    """Long short-term memory; `gates(x)` recomputes the first layer's gate values for probes."""

    GATE_NAMES = ("input", "forget", "cell", "output")

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
        return_sequences: bool = True,
    ) -> None:
        rnn = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional)
        super().__init__(rnn, return_sequences)

    @torch.no_grad()
    def gates(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Input, forget, cell-candidate and output gates [B,T,H] of layer 1, forward direction.

        nn.LSTM's fused kernel does not return them, so the recurrence is replayed from its weights
        (torch's gate order i, f, g, o): c_t = f·c_{t-1} + i·g, h_t = o·tanh(c_t).
        """
        r = self.rnn
        b, t_len, _ = x.shape
        pre = x @ r.weight_ih_l0.T + r.bias_ih_l0 + r.bias_hh_l0
        h = x.new_zeros(b, r.hidden_size)
        c = x.new_zeros(b, r.hidden_size)
        steps: dict[str, list[torch.Tensor]] = {name: [] for name in self.GATE_NAMES}
        for t in range(t_len):
            z_i, z_f, z_g, z_o = (pre[:, t] + h @ r.weight_hh_l0.T).chunk(4, dim=-1)
            i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            for name, value in zip(self.GATE_NAMES, (i, f, g, o), strict=True):
                steps[name].append(value)
        return {name: torch.stack(values, dim=1) for name, values in steps.items()}


# --------------------------------------------------------------------------- attention


class AdditiveAttention(nn.Module):
    """Bahdanau attention: score(q, k) = vᵀ tanh(W_q q + W_k k), weights = softmax over the keys,
    context = weighted sum of the keys/values (the encoder states)."""

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.w_q = nn.Linear(query_dim, attention_dim, bias=False)
        self.w_k = nn.Linear(key_dim, attention_dim, bias=False)
        self.v = nn.Linear(attention_dim, 1, bias=False)
        self.last_weights: torch.Tensor | None = None

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.w_q(queries).unsqueeze(2) + self.w_k(keys).unsqueeze(1))  # [B,T',T,A]
        weights = torch.softmax(self.v(hidden).squeeze(-1), dim=-1)  # [B,T',T]
        self.last_weights = weights.detach()
        return weights @ keys


class DotAttention(nn.Module):
    """Scaled dot-product attention: weights = softmax(q·k / √H) over the keys; no parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.last_weights: torch.Tensor | None = None

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        scores = queries @ keys.transpose(1, 2) / math.sqrt(queries.shape[-1])
        weights = torch.softmax(scores, dim=-1)
        self.last_weights = weights.detach()
        return weights @ keys


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention of queries [B,T,D] over keys/values [B,S,Dkv] -> [B,T,D].

    Each head attends in its own D/heads-wide subspace; `last_weights` keeps [B,heads,T,S].
    With `causal`, position t only sees positions ≤ t (needs T == S).
    """

    def __init__(self, embed_dim: int, num_heads: int, kv_dim: int | None = None, causal: bool = False) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        kv_dim = embed_dim if kv_dim is None else kv_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.causal = causal
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(kv_dim, embed_dim)
        self.v_proj = nn.Linear(kv_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.last_weights: torch.Tensor | None = None

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.reshape(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: torch.Tensor, key_value: torch.Tensor | None = None) -> torch.Tensor:
        """Attend from `query` to `key_value` (to `query` itself when omitted: self-attention)."""
        kv = query if key_value is None else key_value
        q, k, v = self._heads(self.q_proj(query)), self._heads(self.k_proj(kv)), self._heads(self.v_proj(kv))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # [B,h,T,S]
        if self.causal:
            t, s = scores.shape[-2], scores.shape[-1]
            future = torch.ones(t, s, dtype=torch.bool, device=scores.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        self.last_weights = weights.detach()
        context = (weights @ v).transpose(1, 2)  # [B,T,h,d]
        return self.out_proj(context.reshape(query.shape[0], query.shape[1], -1))


class MultiHeadSelfAttention(MultiHeadAttention):
    """Self-attention on [B,T,D]: each position's new representation is a weighted mix of all positions."""

    def __init__(self, embed_dim: int, num_heads: int, causal: bool = False) -> None:
        super().__init__(embed_dim, num_heads, causal=causal)


class PositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal position signal of "Attention is all you need" to [B,T,D] (T ≤ max_len)."""

    def __init__(self, dim: int, max_len: int = 512) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        pe = torch.zeros(max_len, dim)
        pe[:, 0::2] = torch.sin(position * rate)
        pe[:, 1::2] = torch.cos(position * rate)[:, : dim // 2]
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.shape[1]].to(x.dtype)


class FeedForward(nn.Sequential):
    """The position-wise two-layer network of a Transformer block: Linear -> ReLU -> Linear."""

    def __init__(self, dim: int, ff_dim: int) -> None:
        super().__init__(nn.Linear(dim, ff_dim), nn.ReLU(), nn.Linear(ff_dim, dim))


class _ResidualBlock(nn.Module):
    """Shared residual wiring of the Transformer blocks: pre-norm x + f(LN(x)) or post-norm LN(x + f(x))."""

    def __init__(self, dropout: float, norm_first: bool) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.dropout = nn.Dropout(dropout)

    def _residual(self, x: torch.Tensor, norm: nn.Module, f: nn.Module, *extra: torch.Tensor) -> torch.Tensor:
        if self.norm_first:
            return x + self.dropout(f(norm(x), *extra))
        return norm(x + self.dropout(f(x, *extra)))


class TransformerEncoderBlock(_ResidualBlock):
    """Self-attention + feed-forward network, each wrapped in a residual connection and LayerNorm.

    Pre-norm by default (x + f(LN(x)), trains stably without warm-up); `norm_first=False` gives the
    original post-norm block of the Transformer and BERT (LN(x + f(x))).
    """

    def __init__(self, dim: int, num_heads: int, ff_dim: int, dropout: float = 0.1, norm_first: bool = True) -> None:
        super().__init__(dropout, norm_first)
        self.self_attn = MultiHeadAttention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ff_dim)
        self.norm2 = nn.LayerNorm(dim)

    @property
    def last_weights(self) -> torch.Tensor | None:
        return self.self_attn.last_weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._residual(x, self.norm1, self.self_attn)
        return self._residual(x, self.norm2, self.ff)


class TransformerDecoderBlock(_ResidualBlock):
    """GPT-like decoder block: causal self-attention (+ cross-attention to an encoder's memory) + feed-forward.

    Built without `memory_dim` it is a decoder-only block called with x; built with it, it is called
    with (x, memory) and also attends to the encoder output, as in the original encoder–decoder
    Transformer. Pre-norm by default, like the encoder block.
    """

    def __init__(
        self, dim: int, num_heads: int, ff_dim: int, dropout: float = 0.1, norm_first: bool = True,
        memory_dim: int | None = None,
    ) -> None:
        super().__init__(dropout, norm_first)
        self.self_attn = MultiHeadAttention(dim, num_heads, causal=True)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn = MultiHeadAttention(dim, num_heads, kv_dim=memory_dim) if memory_dim is not None else None
        self.norm_cross = nn.LayerNorm(dim) if memory_dim is not None else None
        self.ff = FeedForward(dim, ff_dim)
        self.norm2 = nn.LayerNorm(dim)

    @property
    def last_weights(self) -> torch.Tensor | None:
        return self.self_attn.last_weights

    @property
    def last_cross_weights(self) -> torch.Tensor | None:
        return None if self.cross_attn is None else self.cross_attn.last_weights

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        x = self._residual(x, self.norm1, self.self_attn)
        if self.cross_attn is not None and self.norm_cross is not None:
            if memory is None:
                raise ValueError("this decoder block was built with cross-attention and needs the encoder memory")
            x = self._residual(x, self.norm_cross, self.cross_attn, memory)
        return self._residual(x, self.norm2, self.ff)


# --------------------------------------------------------------------------- encoder–decoder


class BahdanauDecoder(nn.Module):
    """An RNN decoder that attends to the encoder states at every step and feeds the context back in.

    Inputs: decoder inputs y [B,T',E] (the target shifted right, embedded) and encoder states [B,T,H'].
    Step t: c_t = attention(s_{t-1}, encoder states); s_t = cell([y_t, c_t], s_{t-1}); output [s_t, c_t].
    Output [B,T',H+H']; `last_weights` keeps the alignment [B,T',T]. The loop lives inside this one
    module, so the model graph stays acyclic.
    """

    CELLS = {"gru": nn.GRUCell, "lstm": nn.LSTMCell}

    def __init__(self, input_size: int, encoder_dim: int, hidden_size: int, attention_dim: int,
                 cell: str = "gru") -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.attention = AdditiveAttention(hidden_size, encoder_dim, attention_dim)
        self.cell = self.CELLS[cell](input_size + encoder_dim, hidden_size)
        self.last_weights: torch.Tensor | None = None

    def forward(self, inputs: torch.Tensor, encoder_states: torch.Tensor) -> torch.Tensor:
        b, t_len, _ = inputs.shape
        h = inputs.new_zeros(b, self.hidden_size)
        c = inputs.new_zeros(b, self.hidden_size)
        outputs, weights = [], []
        for t in range(t_len):
            context = self.attention(h.unsqueeze(1), encoder_states)[:, 0]  # [B,H'], from the previous state
            weights.append(self.attention.last_weights)
            step_in = torch.cat([inputs[:, t], context], dim=-1)
            if isinstance(self.cell, nn.LSTMCell):
                h, c = self.cell(step_in, (h, c))
            else:
                h = self.cell(step_in, h)
            outputs.append(torch.cat([h, context], dim=-1))
        self.last_weights = torch.cat(weights, dim=1) if weights else None
        return torch.stack(outputs, dim=1)
