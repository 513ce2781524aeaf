"""Graph builder: real modules keyed by node id, forward and backward on real tensors."""

from __future__ import annotations

import pytest
import torch
from graph_specs import (
    VOCAB,
    autoencoder,
    branches,
    cnn,
    mlp,
    model,
    node,
    residual_mlp,
    seq2seq_attention,
    transformer,
)

from layerlab.catalogue.errors import SpecError
from layerlab.catalogue.spec import ModelSpec
from layerlab.training import modules
from layerlab.training.build import GraphModule, build_model, count_parameters

torch.set_num_threads(1)


def build(body: dict, **kw) -> GraphModule:
    torch.manual_seed(0)
    return build_model(ModelSpec.model_validate(body), **kw)


def train_step(net: GraphModule, *inputs: torch.Tensor) -> torch.Tensor:
    """Forward, backward and one SGD step; every trainable parameter gets a finite gradient."""
    out = net(*inputs)
    out.float().pow(2).mean().backward()
    params = [p for p in net.parameters() if p.requires_grad]
    assert params
    for p in params:
        assert p.grad is not None and torch.isfinite(p.grad).all()
    with torch.no_grad():
        for p in params:
            p -= 0.01 * p.grad
    return out


def test_chain_mlp_modules_named_by_node_id() -> None:
    net = build(mlp())
    assert list(net.layers.keys()) == ["x", "h1", "act1", "h2", "act2", "out"]
    assert isinstance(net.layers["x"], modules.Identity)
    assert isinstance(net.layers["h1"], torch.nn.Linear) and net.layers["h1"].in_features == 2
    assert net.input_fields == ["x"] and net.output_ids == ["out"]
    assert count_parameters(net) == (2 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2)
    assert {k.split(".")[1] for k in net.state_dict()} == {"h1", "h2", "out"}
    assert train_step(net, torch.randn(5, 2)).shape == (5, 2)


def test_nodes_run_in_topological_order_not_spec_order() -> None:
    net = build(model(node("out", "dense", ["h"], units=1), node("h", "dense", ["x"], units=4),
                      node("x", "input", shape=[3])))
    assert list(net.layers.keys()) == ["x", "h", "out"]
    values = net.forward_all(torch.randn(2, 3))
    assert values["h"].shape == (2, 4)
    assert torch.equal(values["out"], net.layers["out"](values["h"]))


def test_forward_all_returns_every_node_and_outputs_default_to_sinks() -> None:
    net = build(model(node("x", "input", shape=[4]), node("a", "dense", ["x"], units=2),
                      node("b", "dense", ["x"], units=5)))
    assert net.output_ids == ["a", "b"]
    x = torch.randn(3, 4)
    values = net.forward_all(x)
    assert set(values) == {"x", "a", "b"} and values["b"].shape == (3, 5)
    assert torch.equal(net(x), values["a"])


def test_explicit_outputs_choose_the_forward_result() -> None:
    net = build(model(node("x", "input", shape=[4]), node("a", "dense", ["x"], units=2),
                      node("b", "dense", ["a"], units=5), outputs=["a"]))
    assert net.output_ids == ["a"] and net(torch.randn(3, 4)).shape == (3, 2)


def test_residual_add() -> None:
    net = build(residual_mlp())
    x = torch.randn(6, 2)
    values = net.forward_all(x)
    assert torch.allclose(values["res"], values["h"] + values["g"])
    assert train_step(net, x).shape == (6, 2)


def test_concat_branches() -> None:
    net = build(branches())
    x = torch.randn(4, 2)
    values = net.forward_all(x)
    assert values["cat"].shape == (4, 13)
    assert torch.equal(values["cat"], torch.cat([values["a"], values["b_act"]], dim=-1))
    train_step(net, x)


def test_cnn_chain() -> None:
    net = build(cnn(side=12))
    out = train_step(net, torch.rand(3, 1, 12, 12))
    assert out.shape == (3, 10)
    assert isinstance(net.layers["conv1"], torch.nn.Conv2d)
    assert count_parameters(net.layers["edges"]) == 0


def test_encoder_decoder_with_attention() -> None:
    net = build(seq2seq_attention())
    assert net.input_fields == ["src", "tgt_in"]
    src = torch.randint(0, VOCAB, (4, 10))
    tgt = torch.randint(0, VOCAB, (4, 11))
    values = net.forward_all(src, tgt)
    assert values["encoder"].shape == (4, 10, 32) and values["decoder"].shape == (4, 11, 32)
    assert values["attn"].shape == (4, 11, 32)
    weights = net.layers["attn"].last_weights
    assert weights.shape == (4, 11, 10)
    assert torch.allclose(weights.sum(-1), torch.ones(4, 11), atol=1e-5)
    # the context is the attention-weighted sum of the encoder states
    assert torch.allclose(values["attn"], weights @ values["encoder"], atol=1e-5)
    out = train_step(net, src, tgt)
    assert out.shape == (4, 11, VOCAB)
    # the encoder's weights get gradient only through attention: the decoder really attends to it
    assert all(p.grad.abs().sum() > 0 for p in net.layers["encoder"].parameters())


def test_autoencoder_reconstructs_input_shape() -> None:
    net = build(autoencoder())
    x = torch.rand(8, 1, 8, 8)
    values = net.forward_all(x)
    assert values["code"].shape == (8, 2) and values["recon"].shape == x.shape
    loss_before = torch.nn.functional.mse_loss(net(x), x).item()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), x)
        loss.backward()
        opt.step()
    assert loss.item() < loss_before


def test_transformer_encoder_stack() -> None:
    net = build(transformer(blocks=2))
    ids = torch.randint(0, 32, (3, 13))
    values = net.forward_all(ids)
    assert values["block2"].shape == (3, 13, 16)
    assert train_step(net, ids).shape == (3, 2)
    assert net.layers["block1"] is not net.layers["block2"]


def test_multi_input_fields_named_after_nodes_or_params() -> None:
    net = build(model(node("src", "input", shape=[3]), node("aux", "input", shape=[2], field="extra"),
                      node("a", "dense", ["src"], units=2), node("b", "dense", ["aux"], units=2)))
    assert net.input_fields == ["src", "extra"]
    single = build(model(node("src", "input", shape=[3]), node("h", "dense", ["src"], units=2)), data_fields={"x"})
    assert single.input_fields == ["x"]
    with pytest.raises(TypeError):
        net(torch.randn(2, 3))


def test_meta_device_build_counts_without_memory() -> None:
    big = model(node("x", "input", shape=[2048]), node("h", "dense", ["x"], units=2048),
                node("o", "dense", ["h"], units=10))
    with torch.device("meta"):
        net = build(big)
    assert all(p.device.type == "meta" for p in net.parameters())
    assert count_parameters(net) == 2048 * 2048 + 2048 + 2048 * 10 + 10


def test_invalid_spec_raises_spec_error() -> None:
    with pytest.raises(SpecError, match="cycle through node h"):
        build(model(node("x", "input", shape=[2]), node("h", "dense", ["h"], units=3)))
