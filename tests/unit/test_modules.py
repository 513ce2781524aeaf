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
