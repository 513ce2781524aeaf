"""Behaviour of the custom modules and of the layer kinds built from them (beyond the shape/cost contract)."""

from __future__ import annotations

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
