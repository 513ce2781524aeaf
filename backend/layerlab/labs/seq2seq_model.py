"""The two encoder–decoders of the `seq2seq_attention` lab, identical but for the attention.

Both read the source with a GRU and start the decoder GRU from the encoder's state after the last real
(non-padding) token. Without attention that state is all the decoder ever learns about the input (Sutskever
et al., 2014); with attention (Bahdanau et al., 2015) every decoder step also takes a weighted sum of all
encoder states, scored from its previous state, feeds it into the cell with the previous output token and
into the output layer. Padding never receives weight. `last_weights` keeps the alignment [B, T', T].
The models take (src, tgt_in) like the catalogue's seq2seq sets, so the loop trains them with teacher
forcing and evaluates them by greedy decoding.
"""

from __future__ import annotations

import torch
from torch import nn


class EncoderDecoder(nn.Module):
    input_fields = ["src", "tgt_in"]

    def __init__(self, vocab: int, attention: bool, *, embedding_dim: int = 16, hidden_size: int = 48,
                 attention_dim: int = 32, pad: int = 0) -> None:
        super().__init__()
        self.attention = attention
        self.pad = pad
        self.src_embed = nn.Embedding(vocab, embedding_dim, padding_idx=pad)
        self.tgt_embed = nn.Embedding(vocab, embedding_dim, padding_idx=pad)
        self.encoder = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        if attention:
            self.w_query = nn.Linear(hidden_size, attention_dim, bias=False)
            self.w_key = nn.Linear(hidden_size, attention_dim)
            self.score = nn.Linear(attention_dim, 1, bias=False)
            self.cell = nn.GRUCell(embedding_dim + hidden_size, hidden_size)
            self.out = nn.Linear(2 * hidden_size, vocab)
        else:
            self.decoder = nn.GRU(embedding_dim, hidden_size, batch_first=True)
            self.out = nn.Linear(hidden_size, vocab)
        self.last_weights: torch.Tensor | None = None

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        mask = src != self.pad
        states, _ = self.encoder(self.src_embed(src))  # [B,T,H]
        last = (mask.sum(dim=1) - 1).clamp(min=0)
        h = states[torch.arange(src.shape[0], device=src.device), last]  # state after the last real token
        inputs = self.tgt_embed(tgt_in)
        if not self.attention:
            outputs, _ = self.decoder(inputs, h.unsqueeze(0).contiguous())
            return self.out(outputs)
        keys = self.w_key(states)
        outputs, weights = [], []
        for t in range(inputs.shape[1]):
            scores = self.score(torch.tanh(keys + self.w_query(h).unsqueeze(1))).squeeze(-1)
            alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # [B,T]
            context = (alpha.unsqueeze(1) @ states).squeeze(1)
            h = self.cell(torch.cat([inputs[:, t], context], dim=-1), h)
            outputs.append(torch.cat([h, context], dim=-1))
            weights.append(alpha)
        self.last_weights = torch.stack(weights, dim=1).detach()
        return self.out(torch.stack(outputs, dim=1))
