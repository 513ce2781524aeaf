"""Graph builder: real modules keyed by node id, forward/backward on real tensors."""

from __future__ import annotations

import pytest
import torch

from layerlab.catalogue.errors import SpecError
from layerlab.catalogue.spec import ModelSpec
from layerlab.training.build import GraphModule, build_model, count_parameters

torch.set_num_threads(1)


def spec(*nodes: dict, outputs: list[str] | None = None) -> ModelSpec:
    body: dict = {"nodes": list(nodes)}
    if outputs is not None:
        body["outputs"] = outputs
    return ModelSpec.model_validate(body)


def node(id: str, type: str, inputs: list[str] | None = None, **params) -> dict:
    return {"id": id, "type": type, "params": params, "inputs": inputs or []}


def backward_ok(model: GraphModule, *inputs: torch.Tensor) -> torch.Tensor:
    out = model(*inputs)
    out.float().pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    return out


def test_chain_mlp_modules_named_by_node_id() -> None:
    torch.manual_seed(0)
    model = build_model(spec(node("x", "input", shape=[2]), node("h1", "dense", ["x"], units=8),
                             node("out", "dense", ["h1"], units=3)))
    assert list(model.layers.keys()) == ["x", "h1", "out"]
    assert isinstance(model.layers["h1"], torch.nn.Linear) and model.layers["h1"].in_features == 2
    assert model.input_fields == ["x"] and model.output_ids == ["out"]
    assert count_parameters(model) == 2 * 8 + 8 + 8 * 3 + 3
    assert set(model.state_dict()) == {"layers.h1.weight", "layers.h1.bias", "layers.out.weight", "layers.out.bias"}
    out = backward_ok(model, torch.randn(5, 2))
    assert out.shape == (5, 3)


def test_nodes_run_in_topological_order_not_spec_order() -> None:
    model = build_model(spec(node("out", "dense", ["h"], units=1), node("h", "dense", ["x"], units=4),
                             node("x", "input", shape=[3])))
    assert list(model.layers.keys()) == ["x", "h", "out"]
    values = model.forward_all(torch.randn(2, 3))
    assert values["h"].shape == (2, 4) and values["out"].shape == (2, 1)
    assert torch.equal(values["out"], model.layers["out"](values["h"]))


def test_forward_all_returns_every_node_and_outputs_default_to_sinks() -> None:
    model = build_model(spec(node("x", "input", shape=[4]), node("a", "dense", ["x"], units=2),
                             node("b", "dense", ["x"], units=5)))
    assert model.output_ids == ["a", "b"]
    values = model.forward_all(torch.randn(3, 4))
    assert set(values) == {"x", "a", "b"}
    x = torch.randn(3, 4)
    assert torch.equal(model(x), model.forward_all(x)["a"])


def test_explicit_outputs_choose_the_forward_result() -> None:
    model = build_model(spec(node("x", "input", shape=[4]), node("a", "dense", ["x"], units=2),
                             node("b", "dense", ["a"], units=5), outputs=["a"]))
    assert model.output_ids == ["a"]
    assert model(torch.randn(3, 4)).shape == (3, 2)


def test_multi_input_fields_named_after_nodes_or_params() -> None:
    model = build_model(spec(node("src", "input", shape=[3]), node("aux", "input", shape=[2], field="extra"),
                             node("a", "dense", ["src"], units=2), node("b", "dense", ["aux"], units=2)))
    assert model.input_fields == ["src", "extra"]
    model_with_data = build_model(spec(node("src", "input", shape=[3]), node("h", "dense", ["src"], units=2)),
                                  data_fields={"x"})
    assert model_with_data.input_fields == ["x"]
    with pytest.raises(TypeError):
        model(torch.randn(2, 3))


def test_meta_device_build_counts_without_memory() -> None:
    big = spec(node("x", "input", shape=[2048]), node("h", "dense", ["x"], units=2048),
               node("o", "dense", ["h"], units=10))
    with torch.device("meta"):
        model = build_model(big)
    assert all(p.device.type == "meta" for p in model.parameters())
    assert count_parameters(model) == 2048 * 2048 + 2048 + 2048 * 10 + 10


def test_invalid_spec_raises_spec_error() -> None:
    with pytest.raises(SpecError, match="h"):
        build_model(spec(node("x", "input", shape=[2]), node("h", "dense", ["h"], units=3)))
