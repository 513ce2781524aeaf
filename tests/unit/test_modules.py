"""Behaviour of the custom modules and of the layer kinds built from them (beyond the shape/cost contract)."""

from __future__ import annotations

import ast
import inspect
import math
from typing import Any

import pytest
import torch
from torch import nn

import layerlab.catalogue.layers  # noqa: F401  (registers every kind)
from layerlab.catalogue.base import LAYERS
from layerlab.catalogue.shapes import TensorShape
from layerlab.training import modules as m

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def build(type_: str, params: dict[str, Any], *ins: tuple[int, ...]) -> nn.Module:
    kind = LAYERS[type_]
    p = kind.params_model.model_validate(params)
    built = kind.construct(p, [TensorShape(d) for d in ins])
    assert built is not None
    return built.factory(**built.kwargs)


# --------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("mode", ["inverted", "scale_at_inference"])
def test_dropout_modes_agree_in_expectation_between_training_and_inference(mode: str) -> None:
    p = 0.3
    layer = build("dropout", {"p": p, "mode": mode}, (64,))
    x = torch.rand(1, 64) + 0.5
    layer.train()
    samples = torch.stack([layer(x) for _ in range(4000)])
    layer.eval()
    inference = layer(x)
    torch.testing.assert_close(samples.mean(0), inference, rtol=0.05, atol=0.0)
    dropped = (samples == 0).float().mean().item()
    assert abs(dropped - p) < 0.01


def test_scale_at_inference_keeps_survivors_and_scales_by_the_keep_rate() -> None:
    layer = build("dropout", {"p": 0.25, "mode": "scale_at_inference"}, (1000,))
    assert isinstance(layer, m.InferenceScaledDropout)
    x = torch.rand(1, 1000) + 0.5
    y = layer.train()(x)
    kept = y != 0
    assert torch.equal(y[kept], x[kept])  # no 1/(1-p) rescaling while training
    torch.testing.assert_close(layer.eval()(x), x * 0.75)


def test_inverted_dropout_rescales_survivors_while_training_and_is_identity_at_inference() -> None:
    layer = build("dropout", {"p": 0.25, "mode": "inverted"}, (1000,))
    x = torch.rand(1, 1000) + 0.5
    y = layer.train()(x)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / 0.75)
    assert torch.equal(layer.eval()(x), x)


# --------------------------------------------------------------------------- core and merge


def test_activation_functions_match_their_definitions() -> None:
    x = torch.linspace(-3, 3, 13).reshape(1, 13)
    expected = {
        "relu": x.clamp(min=0),
        "tanh": torch.tanh(x),
        "sigmoid": 1 / (1 + torch.exp(-x)),
        "leaky_relu": torch.where(x > 0, x, 0.2 * x),
        "elu": torch.where(x > 0, x, 0.5 * (torch.exp(x) - 1)),
        "softmax": torch.exp(x) / torch.exp(x).sum(-1, keepdim=True),
    }
    for fn, want in expected.items():
        layer = build("activation", {"fn": fn, "negative_slope": 0.2, "alpha": 0.5}, (13,))
        torch.testing.assert_close(layer(x), want)


def test_softmax_acts_on_the_last_axis() -> None:
    y = build("activation", {"fn": "softmax"}, (4, 6))(torch.randn(3, 4, 6))
    torch.testing.assert_close(y.sum(-1), torch.ones(3, 4))


def test_reshape_and_flatten_keep_the_element_order() -> None:
    x = torch.arange(2 * 12.0).reshape(2, 12)
    img = build("reshape", {"shape": [3, 2, 2]}, (12,))(x)
    assert torch.equal(img, x.reshape(2, 3, 2, 2))
    assert torch.equal(build("flatten", {}, (3, 2, 2))(img), x)


def test_add_and_concat() -> None:
    a, b, c = torch.randn(2, 5, 3), torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    torch.testing.assert_close(build("add", {}, (5, 3), (5, 3), (5, 3))(a, b, c), a + b + c)
    assert torch.equal(build("concat", {"axis": 0}, (5, 3), (5, 3))(a, b), torch.cat([a, b], dim=1))
    assert torch.equal(build("concat", {}, (5, 3), (5, 3))(a, b), torch.cat([a, b], dim=2))


# --------------------------------------------------------------------------- conv and norm


def test_fixed_filters_are_the_slides_filters_and_not_trainable() -> None:
    vertical = build("fixed_filter2d", {"filter": "edge_vertical"}, (2, 5, 5))
    want = torch.tensor([[-1.0, 0.0, 1.0]] * 3)
    assert torch.equal(vertical.weight[0, 0], want) and torch.equal(vertical.weight[1, 0], want)
    horizontal = build("fixed_filter2d", {"filter": "edge_horizontal"}, (1, 5, 5))
    assert torch.equal(horizontal.weight[0, 0], want.T)
    mean = build("fixed_filter2d", {"filter": "mean"}, (1, 5, 5))
    torch.testing.assert_close(mean.weight[0, 0], torch.full((3, 3), 1 / 9))
    assert not list(vertical.parameters()) and "weight" not in vertical.state_dict()


def test_vertical_edge_filter_finds_a_vertical_line_and_mean_filter_smooths_per_channel() -> None:
    img = torch.zeros(1, 2, 6, 6)
    img[0, 0, :, 3:] = 1.0  # channel 0: a vertical step from dark to bright between columns 2 and 3
    edges = build("fixed_filter2d", {"filter": "edge_vertical"}, (2, 6, 6))(img)
    assert torch.equal(edges[0, 0, 1:-1, 2:4], torch.full((4, 2), 3.0))  # strong response along the edge
    assert torch.equal(edges[0, 0, 1:-1, :2], torch.zeros(4, 2))  # nothing in the flat region
    assert torch.equal(edges[0, 1], torch.zeros(6, 6))  # channels do not mix
    horizontal = build("fixed_filter2d", {"filter": "edge_horizontal"}, (2, 6, 6))(img)
    assert torch.equal(horizontal[0, 0, 1:-1, 1:-1], torch.zeros(4, 4))  # no horizontal edge inside
    noisy = torch.randn(1, 1, 16, 16)
    smooth = build("fixed_filter2d", {"filter": "mean"}, (1, 16, 16))(noisy)
    torch.testing.assert_close(smooth[0, 0, 5, 5], noisy[0, 0, 4:7, 4:7].mean())
    assert smooth[0, 0, 1:-1, 1:-1].std() < noisy.std() / 2


def test_conv1d_treats_features_as_channels_over_time() -> None:
    layer = build("conv1d", {"filters": 2, "kernel_size": 3, "padding": 0}, (6, 4))
    x = torch.randn(2, 6, 4)
    conv = layer.conv
    want = nn.functional.conv1d(x.transpose(1, 2), conv.weight, conv.bias).transpose(1, 2)
    torch.testing.assert_close(layer(x), want)
    # Output step t depends on steps t..t+2 only.
    x2 = x.clone()
    x2[:, 5] += 1.0
    assert torch.equal(layer(x2)[:, :3], layer(x)[:, :3])


def test_pooling_takes_max_and_mean_of_each_window() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(build("maxpool2d", {}, (1, 4, 4))(x), torch.tensor([[[[5.0, 7.0], [13.0, 15.0]]]]))
    assert torch.equal(build("avgpool2d", {}, (1, 4, 4))(x), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))


@pytest.mark.parametrize("dims", [(5,), (4, 3), (3, 4, 4)])
def test_batchnorm_normalises_each_feature_over_the_batch(dims: tuple[int, ...]) -> None:
    layer = build("batchnorm", {}, dims).train()
    x = torch.randn(16, *dims) * 3 + 2
    y = layer(x)
    feature_axis = 2 if len(dims) == 2 else 1
    other = [a for a in range(y.dim()) if a != feature_axis]
    torch.testing.assert_close(y.mean(dim=other), torch.zeros(y.shape[feature_axis]), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=other, unbiased=False), torch.ones(y.shape[feature_axis]), atol=1e-3, rtol=0)


def test_layernorm_normalises_the_last_axis_of_each_sample() -> None:
    y = build("layernorm", {}, (3, 8))(torch.randn(2, 3, 8) * 5)
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 3), atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- recurrent


def test_embedding_looks_up_rows_and_keeps_the_padding_row_at_zero() -> None:
    layer = build("embedding", {"num_embeddings": 6, "embedding_dim": 3, "padding_idx": 0}, (4,))
    ids = torch.tensor([[1, 0, 5, 1]])
    y = layer(ids)
    assert torch.equal(y[0, 0], layer.weight[1]) and torch.equal(y[0, 0], y[0, 3])
    assert torch.equal(y[0, 1], torch.zeros(3))


def test_lstm_gates_replay_the_real_lstm() -> None:
    layer = build("lstm", {"hidden_size": 6, "return_sequences": True}, (7, 3))
    assert isinstance(layer, m.LSTMLayer)
    x = torch.randn(2, 7, 3)
    gates = layer.gates(x)
    assert set(gates) == {"input", "forget", "cell", "output"}
    assert all(g.shape == (2, 7, 6) for g in gates.values())
    # Rebuild h_t from the returned gates and compare with nn.LSTM's own outputs.
    c = torch.zeros(2, 6)
    hs = []
    for t in range(7):
        c = gates["forget"][:, t] * c + gates["input"][:, t] * gates["cell"][:, t]
        hs.append(gates["output"][:, t] * torch.tanh(c))
    torch.testing.assert_close(torch.stack(hs, dim=1), layer(x).detach(), atol=1e-5, rtol=1e-5)
    for name in ("input", "forget", "output"):
        assert ((gates[name] > 0) & (gates[name] < 1)).all()
    assert (gates["cell"].abs() < 1).all()


def test_lstm_gates_describe_the_first_layer_of_a_stacked_bidirectional_lstm() -> None:
    layer = build("lstm", {"hidden_size": 4, "num_layers": 2, "bidirectional": True}, (5, 3))
    x = torch.randn(3, 5, 3)
    first = nn.LSTM(3, 4, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(first, f"{name}_l0").copy_(getattr(layer.rnn, f"{name}_l0"))
        h_first = first(x)[0]
    gates = layer.gates(x)
    c = torch.zeros(3, 4)
    for t in range(5):
        c = gates["forget"][:, t] * c + gates["input"][:, t] * gates["cell"][:, t]
        torch.testing.assert_close(gates["output"][:, t] * torch.tanh(c), h_first[:, t], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_bidirectional_last_state_joins_forward_final_and_backward_first(cell: str) -> None:
    params = {"hidden_size": 5, "num_layers": 2, "bidirectional": True}
    last = build(cell, params, (6, 3))
    every = build(cell, {**params, "return_sequences": True}, (6, 3))
    every.load_state_dict(last.state_dict())
    x = torch.randn(2, 6, 3)
    seq = every(x)
    assert seq.shape == (2, 6, 10)
    torch.testing.assert_close(last(x), torch.cat([seq[:, -1, :5], seq[:, 0, 5:]], dim=-1))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_unidirectional_last_state_is_the_last_step(cell: str) -> None:
    last = build(cell, {"hidden_size": 4}, (5, 2))
    every = build(cell, {"hidden_size": 4, "return_sequences": True}, (5, 2))
    every.load_state_dict(last.state_dict())
    x = torch.randn(3, 5, 2)
    torch.testing.assert_close(last(x), every(x)[:, -1])


def test_an_lstm_learns_to_remember_the_first_token() -> None:
    """Real training: the label is the sign of the first step of a noisy sequence, read at the end."""
    torch.manual_seed(1)
    model = nn.Sequential(build("lstm", {"hidden_size": 16}, (12, 1)), nn.Linear(16, 2))
    x = torch.randn(256, 12, 1)
    y = (x[:, 0, 0] > 0).long()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(120):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    accuracy = (model(x).argmax(-1) == y).float().mean().item()
    assert accuracy > 0.95


# --------------------------------------------------------------------------- attention


def test_dot_attention_weights_are_the_softmax_of_scaled_scores() -> None:
    layer = build("attention", {"kind": "dot"}, (3, 4), (5, 4))
    q, k = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    context = layer(q, k)
    want = torch.softmax(torch.einsum("bqh,bkh->bqk", q, k) / 2.0, dim=-1)
    torch.testing.assert_close(layer.last_weights, want)
    torch.testing.assert_close(layer.last_weights.sum(-1), torch.ones(2, 3))
    torch.testing.assert_close(context, torch.einsum("bqk,bkh->bqh", want, k))
    assert not layer.last_weights.requires_grad


def test_additive_attention_matches_bahdanaus_formula_computed_by_hand() -> None:
    layer = build("attention", {"kind": "additive", "attention_dim": 3}, (2, 4), (5, 6))
    q, k = torch.randn(2, 2, 4), torch.randn(2, 5, 6)
    context = layer(q, k)
    w_q, w_k, v = layer.w_q.weight, layer.w_k.weight, layer.v.weight[0]
    for b in range(2):
        for i in range(2):
            scores = torch.stack([v @ torch.tanh(w_q @ q[b, i] + w_k @ k[b, j]) for j in range(5)])
            weights = torch.softmax(scores, dim=0)
            torch.testing.assert_close(layer.last_weights[b, i], weights.detach())
            torch.testing.assert_close(context[b, i], weights @ k[b])
    torch.testing.assert_close(layer.last_weights.sum(-1), torch.ones(2, 2))


def _copy_attention(ours: m.MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        theirs.out_proj.weight.copy_(ours.out_proj.weight)
        theirs.out_proj.bias.copy_(ours.out_proj.bias)


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_self_attention_equals_torch_and_keeps_per_head_weights(causal: bool) -> None:
    layer = build("multihead_self_attention", {"num_heads": 4, "causal": causal}, (6, 8))
    ref = nn.MultiheadAttention(8, 4, batch_first=True)
    _copy_attention(layer, ref)
    x = torch.randn(3, 6, 8)
    mask = torch.ones(6, 6, dtype=torch.bool).triu(1) if causal else None
    want, want_weights = ref(x, x, x, attn_mask=mask, average_attn_weights=False)
    torch.testing.assert_close(layer(x), want, atol=1e-5, rtol=1e-5)
    assert layer.last_weights.shape == (3, 4, 6, 6)
    torch.testing.assert_close(layer.last_weights, want_weights, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(layer.last_weights.sum(-1), torch.ones(3, 4, 6))
    if causal:
        assert (layer.last_weights.triu(1) == 0).all()


def test_positional_encoding_is_the_sinusoid() -> None:
    layer = build("positional_encoding", {}, (10, 6))
    y = layer(torch.zeros(1, 10, 6))[0]
    pos, i = 7, 2  # dims 2i and 2i+1 share the frequency 1/10000^(2i/D)
    rate = 10000 ** (-(2 * i) / 6)
    torch.testing.assert_close(y[pos, 2 * i], torch.tensor(math.sin(pos * rate)))
    torch.testing.assert_close(y[pos, 2 * i + 1], torch.tensor(math.cos(pos * rate)))
    odd = build("positional_encoding", {}, (4, 5))(torch.zeros(1, 4, 5))
    assert odd.shape == (1, 4, 5) and torch.isfinite(odd).all()


def _encoder_reference(block: m.TransformerEncoderBlock, norm_first: bool) -> nn.TransformerEncoderLayer:
    ref = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first)
    _copy_attention(block.self_attn, ref.self_attn)
    with torch.no_grad():
        for mine, theirs in ((block.ff[0], ref.linear1), (block.ff[2], ref.linear2),
                             (block.norm1, ref.norm1), (block.norm2, ref.norm2)):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    return ref.eval()


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_equals_torchs_encoder_layer(norm_first: bool) -> None:
    block = build("transformer_encoder_block", {"num_heads": 2, "ff_dim": 16, "norm_first": norm_first}, (5, 8))
    block.eval()
    for p in block.parameters():  # LayerNorm starts at identity; randomise so the comparison means something
        nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 5, 8)
    ref = _encoder_reference(block, norm_first)
    torch.testing.assert_close(block(x), ref(x), atol=1e-5, rtol=1e-5)
    assert block.last_weights.shape == (2, 2, 5, 5)


def test_decoder_block_with_memory_equals_torchs_decoder_layer() -> None:
    block = build("transformer_decoder_block", {"num_heads": 2, "ff_dim": 16, "dropout": 0.0}, (5, 8), (7, 8))
    for p in block.parameters():
        nn.init.normal_(p, std=0.3)
    ref = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True).eval()
    _copy_attention(block.self_attn, ref.self_attn)
    _copy_attention(block.cross_attn, ref.multihead_attn)
    with torch.no_grad():
        for mine, theirs in ((block.ff[0], ref.linear1), (block.ff[2], ref.linear2), (block.norm1, ref.norm1),
                             (block.norm_cross, ref.norm2), (block.norm2, ref.norm3)):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    x, memory = torch.randn(2, 5, 8), torch.randn(2, 7, 8)
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)
    torch.testing.assert_close(block.eval()(x, memory), ref(x, memory, tgt_mask=causal), atol=1e-5, rtol=1e-5)
    assert block.last_cross_weights.shape == (2, 2, 5, 7)


@pytest.mark.parametrize("with_memory", [False, True])
def test_decoder_block_is_causal(with_memory: bool) -> None:
    ins = [(6, 8), (4, 10)] if with_memory else [(6, 8)]
    block = build("transformer_decoder_block", {"num_heads": 2}, *ins).eval()
    x = torch.randn(1, 6, 8)
    extra = [torch.randn(1, 4, 10)] if with_memory else []
    base = block(x, *extra)
    for t in range(5):
        changed = x.clone()
        changed[:, t + 1:] = torch.randn(1, 5 - t, 8)
        after = block(changed, *extra)
        torch.testing.assert_close(after[:, : t + 1], base[:, : t + 1])
        assert not torch.allclose(after[:, t + 1:], base[:, t + 1:])
    assert (block.last_weights.triu(1) == 0).all()


def test_a_tiny_transformer_learns_to_copy_the_token_at_a_position() -> None:
    """Real training: predict, at every step, the token three steps back (needs attention and positions)."""
    torch.manual_seed(0)
    vocab, t_len, d = 6, 10, 16
    model = nn.ModuleList([
        build("embedding", {"num_embeddings": vocab, "embedding_dim": d}, (t_len,)),
        build("positional_encoding", {}, (t_len, d)),
        build("transformer_decoder_block", {"num_heads": 2, "ff_dim": 32, "dropout": 0.0}, (t_len, d)),
        build("dense", {"units": vocab}, (t_len, d)),
    ])
    ids = torch.randint(0, vocab, (256, t_len))
    target = torch.roll(ids, 3, dims=1)[:, 3:]

    def logits() -> torch.Tensor:
        h = ids
        for layer in model:
            h = layer(h)
        return h[:, 3:]

    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(150):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(logits().reshape(-1, vocab), target.reshape(-1))
        loss.backward()
        opt.step()
    accuracy = (logits().argmax(-1) == target).float().mean().item()
    assert accuracy > 0.9


# --------------------------------------------------------------------------- encoder–decoder


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_bahdanau_decoder_attends_from_the_previous_state_and_is_causal(cell: str) -> None:
    layer = build("bahdanau_decoder", {"hidden_size": 6, "attention_dim": 4, "cell": cell}, (5, 3), (7, 8)).eval()
    y_in, enc = torch.randn(2, 5, 3), torch.randn(2, 7, 8)
    out = layer(y_in, enc)
    assert out.shape == (2, 5, 14) and layer.last_weights.shape == (2, 5, 7)
    torch.testing.assert_close(layer.last_weights.sum(-1), torch.ones(2, 5))
    # step 0 attends from the zero state: the context printed in the output is that weighted sum
    first = layer.attention(torch.zeros(2, 1, 6), enc)[:, 0]
    torch.testing.assert_close(out[:, 0, 6:], first)
    torch.testing.assert_close(out[:, 2, 6:], torch.einsum("bt,bth->bh", layer.last_weights[:, 2], enc))
    changed = y_in.clone()
    changed[:, 3:] += 1.0
    torch.testing.assert_close(layer(changed, enc)[:, :3], out[:, :3])


def test_bahdanau_decoder_learns_to_reverse_a_sequence_by_attending_backwards() -> None:
    """Real training: reverse 6 tokens. Each encoder state holds one token and its position only, and the decoder
    is fed a constant start token, so every output can come only from attending to the right source step."""
    torch.manual_seed(0)
    vocab, t_len, start, d = 5, 6, 5, 16
    src_embed = build("embedding", {"num_embeddings": vocab, "embedding_dim": d}, (t_len,))
    positions = build("positional_encoding", {}, (t_len, d))
    tgt_embed = build("embedding", {"num_embeddings": vocab + 1, "embedding_dim": 8}, (t_len,))
    decoder = build("bahdanau_decoder", {"hidden_size": 32, "attention_dim": 16}, (t_len, 8), (t_len, d))
    head = build("dense", {"units": vocab}, (t_len, 32 + d))
    model = nn.ModuleList([src_embed, tgt_embed, decoder, head])
    src = torch.randint(0, vocab, (256, t_len))
    tgt = src.flip(1)
    tgt_in = torch.full((256, t_len), start)

    def logits() -> torch.Tensor:
        return head(decoder(tgt_embed(tgt_in), positions(src_embed(src))))

    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(logits().reshape(-1, vocab), tgt.reshape(-1)).backward()
        opt.step()
    accuracy = (logits().argmax(-1) == tgt).float().mean().item()
    assert accuracy > 0.9
    # The alignment map is the anti-diagonal: output step t attends most to source step T-1-t.
    peaks = decoder.last_weights.argmax(-1)
    assert (peaks == torch.arange(t_len - 1, -1, -1)).float().mean().item() > 0.9


# --------------------------------------------------------------------------- the file model.py embeds


def test_modules_file_imports_only_torch_and_math_and_runs_on_its_own() -> None:
    source = inspect.getsource(m)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] in {"torch", "math"} for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.module is not None and node.module.split(".")[0] in {"torch", "__future__"}
    namespace: dict[str, Any] = {"__name__": "standalone_layers"}
    exec(compile(source, "modules.py", "exec"), namespace)  # noqa: S102  (our own source, as model.py embeds it)
    block = namespace["TransformerDecoderBlock"](8, 2, 16, memory_dim=4)
    assert block(torch.randn(1, 3, 8), torch.randn(1, 5, 4)).shape == (1, 3, 8)
